"""docs/DEPLOY.md stays true: the commands, settings and options it names exist."""

import http.client
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shop import config
from tests.test_multiworker import _free_port, _stop, _wait_for, redis_url  # noqa: F401 (fixture)

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


def _gunicorn_line(bind: str, workers: int = 2) -> list[str]:
    """The documented gunicorn command, on another socket and with fewer workers (a shared test machine)."""
    line = next(line for line in DOC.splitlines() if line.startswith("ExecStart=") and "gunicorn" in line)
    args = shlex.split(line.split("=", 1)[1])
    args[0] = sys.executable
    args.insert(1, "-m")
    args.insert(2, "gunicorn")
    args[args.index("--bind") + 1] = bind
    args[args.index("--workers") + 1] = str(workers)
    args[-1] = "shop:create_app({'ARGON2_FAST': True})"
    return args


def _production_env(app, redis_url: str) -> dict:
    env = {**os.environ, "SHOP_ENV": "production", "SECRET_KEY": "deploy-doc-test-" + "x" * 40, "PROXY_FIX": "1",
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "RATELIMIT_STORAGE_URI": redis_url,
           "PYTHONPATH": str(ROOT)}
    for name in ("FLASK_DEBUG", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "PORT", "STRIPE_API_BASE"):
        env.pop(name, None)
    return env


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def test_the_documented_gunicorn_line_is_bound_to_a_local_socket():
    line = next(line for line in DOC.splitlines() if line.startswith("ExecStart=") and "gunicorn" in line)
    args = shlex.split(line.split("=", 1)[1])
    bind = args[args.index("--bind") + 1]
    assert bind.startswith("unix:") and f"proxy_pass http://{bind};" in DOC


@pytest.mark.slow
def test_the_documented_gunicorn_line_serves_production_behind_the_proxy_only(app, db, redis_url, tmp_path):
    sock = tmp_path / "gunicorn.sock"
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(_gunicorn_line(f"unix:{sock}"), cwd=ROOT, env=_production_env(app, redis_url),
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def answer():
            connection = _UnixConnection(str(sock))
            try:
                # As nginx sends it (section 6): the scheme and the client address of the visitor.
                connection.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https", "Host": "shop.example.org",
                                                               "X-Forwarded-For": "203.0.113.7"})
                response = connection.getresponse()
                response.read()
                return response
            finally:
                connection.close()  # also when gunicorn is not listening yet

        _wait_for(lambda: sock.exists() and answer().status == 200, "gunicorn", process, log)
        response = answer()
        assert response.status == 200
        assert response.getheader("Strict-Transport-Security")  # HTTPS as seen by nginx, trusted through PROXY_FIX
    finally:
        _stop(process)

    # The same line listening on every address, with PROXY_FIX on: it does not start.
    port = _free_port()
    refused = subprocess.run(_gunicorn_line(f"0.0.0.0:{port}", workers=1), cwd=ROOT,
                             env=_production_env(app, redis_url), capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "PROXY_FIX is on but gunicorn listens on 0.0.0.0" in refused.stdout + refused.stderr
def test_the_guide_keeps_eligibility_codes_out_of_both_access_logs():
    start = re.search(r"^ExecStart=(.*gunicorn.*)$", DOC, re.M).group(1)
    assert "--logger-class shop.accesslog.GunicornLogger" in start
    nginx = DOC.split("## 6. Front server", 1)[1].split("```", 2)[1]
    assert re.search(r"map \$request_uri \$loggable_uri \{[^}]*code=[^}]*\$uri\?\[removed\]", nginx)
    assert re.search(r"log_format shop [^;]*\$loggable_uri", nginx) and "$request " not in nginx.split("log_format", 1)[1]
    assert re.search(r"access_log \S+ shop;", nginx)
