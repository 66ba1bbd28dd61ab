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


def _environment_block() -> str:
    return DOC.split("## 3. Environment", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_environment_file_reads_the_same_in_sh_systemd_and_python_dotenv(tmp_path):
    from dotenv import dotenv_values

    env_file = tmp_path / "shop.env"
    env_file.write_text(_environment_block())
    shell = subprocess.run(["/bin/sh", "-c", f"set -a; . {shlex.quote(str(env_file))}; env -0"],
                           env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=10)
    assert shell.returncode == 0 and not shell.stderr, shell.stderr
    sourced = dict(item.split("=", 1) for item in shell.stdout.split("\0") if "=" in item)
    loaded = dotenv_values(env_file)
    assert len(loaded) >= 15 and None not in loaded.values()
    assert {name: sourced.get(name) for name in loaded} == loaded
    assert loaded["MAIL_FROM"] == "Solidarity Shop <no-reply@example.org>"
    # systemd's EnvironmentFile= takes NAME=value lines and comment lines; it strips quotes but keeps
    # a trailing "# …" as part of the value and knows no `export`, `$` or backslash continuation.
    for line in _environment_block().splitlines():
        assert line.startswith("#") or re.fullmatch(r"[A-Z][A-Z0-9_]*=('[^'$\\]*'|[^\s'\"#$\\;&<>|`]*)", line), line


def _cron_commands() -> list[str]:
    block = DOC.split("## 7. Cron", 1)[1].split("```cron\n", 1)[1].split("```", 1)[0]
    return [line.split(None, 6)[6] for line in block.splitlines() if line and not line.startswith(("#", "MAILTO="))]


def _as_here(command: str, env_file: Path, tmp_path: Path) -> str:
    """The cron command on this checkout: this Python, a test environment file, a temporary folder."""
    return (command.replace("/srv/shop", str(ROOT)).replace("/etc/shop.env", str(env_file))
            .replace(".venv/bin/flask", f"{shlex.quote(sys.executable)} -m flask")
            .replace("/var/backups/shop", str(tmp_path)).replace("\\%", "%"))


def test_cron_lines_that_fail_say_so_in_one_line_and_exit_non_zero(tmp_path):
    commands = _cron_commands()
    assert {"expire-holds", "deliver", "purge", "backup"} <= {c.split("--app shop ", 1)[1].split()[0] for c in commands}
    unreachable = tmp_path / "unreachable.env"
    unreachable.write_text(f"SHOP_ENV=development\nDATABASE_URL=postgresql://shop:pw@127.0.0.1:{_free_port()}/shop\n"
                           "MAIL_FROM='Solidarity Shop <no-reply@example.org>'\n")
    broken = tmp_path / "broken.env"
    broken.write_text("SHOP_ENV=development\nMAIL_FROM=Solidarity Shop <no-reply@example.org>\n")  # the old, unquoted line
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}  # cron's bare environment
    cases = [(command, unreachable, "Error: ") for command in commands]
    cases += [(commands[0], tmp_path / "missing.env", "missing.env"), (commands[0], broken, "broken.env")]
    for command, env_file, says in cases:
        run = subprocess.run(["/bin/sh", "-c", _as_here(command, env_file, tmp_path)], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode != 0, command
        assert run.stderr.count("\n") == 1 and says in run.stderr, (command, run.stderr)
    assert not list(tmp_path.glob("*.dump")) and not list(tmp_path.glob(".*.partial"))


def test_flask_reads_the_environment_file_with_dash_e(tmp_path):
    env_file = tmp_path / "shop.env"
    env_file.write_text(f"DATABASE_URL=postgresql://shop:pw@127.0.0.1:{_free_port()}/from-env-file\n")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    run = subprocess.run([sys.executable, "-m", "flask", "-e", str(env_file), "--app", "shop", "expire-holds"],
                         cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "the database cannot be reached" in run.stderr and "/from-env-file" in run.stderr


def test_the_migrations_before_start_fail_in_one_line_when_the_database_does_not_answer():
    line = next(line for line in DOC.splitlines() if line.startswith("ExecStartPre=") and "db upgrade" in line).split("=", 1)[1]
    args = shlex.split(line)
    assert args[0] == "/srv/shop/.venv/bin/flask" and args[1:] == ["--app", "shop", "db", "upgrade"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOP_ENV": "development",
           "DATABASE_URL": f"postgresql://shop:pw@127.0.0.1:{_free_port()}/shop"}
    run = subprocess.run([sys.executable, "-m", "flask", *args[1:]], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("Error: the database cannot be reached"), run.stderr
    assert ":pw@" not in run.stderr  # the password stays out of the message
