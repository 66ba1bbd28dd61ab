"""docs/DEPLOY.md stays true: the commands, settings and options it names exist."""

import re
import shlex
from pathlib import Path

from shop import config

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "DEPLOY.md").read_text()


def test_every_flask_command_in_the_guide_exists(app):
    named = set(re.findall(r"flask --app shop ([a-z][a-z-]+)", DOC)) - {"db"}
    assert {"expire-holds", "purge", "backup", "create-user"} <= named
    assert named <= set(app.cli.commands), named - set(app.cli.commands)


def test_every_setting_in_the_environment_file_is_read_by_the_shop():
    block = DOC.split("## 3. Environment", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    names = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", block, re.M))
    source = (ROOT / "shop" / "config.py").read_text()
    unread = {name for name in names if f'"{name}"' not in source}
    assert not unread, f"settings in docs/DEPLOY.md that shop/config.py never reads: {unread}"
    assert {"DATABASE_URL", "RATELIMIT_STORAGE_URI", "MAX_CONTENT_LENGTH", "SECRET_KEY"} <= names


def test_the_front_server_accepts_what_the_shop_accepts(monkeypatch):
    monkeypatch.delenv("MAX_CONTENT_LENGTH", raising=False)
    megabytes = int(re.search(r"client_max_body_size (\d+)m;", DOC).group(1))
    assert megabytes * 1024 * 1024 == config.load()["MAX_CONTENT_LENGTH"]


def test_the_gunicorn_line_runs_several_workers_of_the_app_factory():
    line = next(line for line in DOC.splitlines() if line.startswith("ExecStart=") and "gunicorn" in line)
    args = shlex.split(line.split("=", 1)[1])
    assert int(args[args.index("--workers") + 1]) >= 2
    assert args[-1] == "shop:create_app()"


def test_the_guide_keeps_eligibility_codes_out_of_both_access_logs():
    start = re.search(r"^ExecStart=(.*gunicorn.*)$", DOC, re.M).group(1)
    assert "--logger-class shop.accesslog.GunicornLogger" in start
    nginx = DOC.split("## 6. Front server", 1)[1].split("```", 2)[1]
    assert re.search(r"map \$request_uri \$loggable_uri \{[^}]*code=[^}]*\$uri\?\[removed\]", nginx)
    assert re.search(r"log_format shop [^;]*\$loggable_uri", nginx) and "$request " not in nginx.split("log_format", 1)[1]
    assert re.search(r"access_log \S+ shop;", nginx)
