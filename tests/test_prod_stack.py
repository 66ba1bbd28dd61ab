"""`make prod` (scripts/prod.sh): the whole stack starts on free ports, takes a reservation over HTTP, stops.

compose.yaml cannot run here (no container engine): a test checks it names the same services,
settings and commands as scripts/prod.sh and docs/DEPLOY.md.
"""

import http.client
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import factories
from tests.test_multiworker import _free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "prod.sh"
COMPOSE = (ROOT / "compose.yaml").read_text()
DOC = (ROOT / "docs" / "DEPLOY.md").read_text()


class Browser:
    """HTTP with a cookie jar that also sends the `Secure` cookies of production over plain HTTP
    to 127.0.0.1 (as a browser does for localhost)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Accept-Language": "en", "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            connection.close()

    def form_token(self, path: str) -> str:
        status, _, page = self.request("GET", path)
        assert status == 200, (path, status)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _run(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def stack_dir():
    # Outside pytest's 0700 temporary folder: run as root, the cluster belongs to `postgres`,
    # which must be able to reach it.
    folder = Path(tempfile.mkdtemp(prefix="shop-prod-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("redis-server") or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")),
                    reason="needs PostgreSQL's initdb and redis-server")
def test_the_stack_starts_takes_a_reservation_over_http_and_stops(stack_dir):
    ports = {"PROD_HTTP_PORT": _free_port(), "PROD_REDIS_PORT": _free_port(), "PROD_PG_PORT": _free_port()}
    env = {**os.environ, "PROD_DIR": str(stack_dir / "prod"), "PROD_WORKERS": "2",  # 2 of 4: a shared test machine
           **{k: str(v) for k, v in ports.items()}}
    for name in ("DATABASE_URL", "SECRET_KEY", "RATELIMIT_STORAGE_URI", "SHOP_ENV", "WEB_CONCURRENCY"):
        env.pop(name, None)
    started = time.monotonic()
    try:
        run = _run(env, "start")
        ready = time.monotonic() - started
        assert run.returncode == 0, run.stdout + run.stderr
        assert re.search(r"^Ready in [\d.]+ s", run.stdout, re.M), run.stdout
        print(f"stack ready in {ready:.1f} s")
        secret = stack_dir / "prod" / "secret_key"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text().strip()) >= 48
        status = _run(env, "status")
        assert status.returncode == 0 and "gunicorn: running" in status.stdout and "cron: running" in status.stdout

        # Stock and a code, written straight into the stack's database (production has no demo data).
        from shop import create_app
        from shop.extensions import db

        url = f"postgresql+psycopg://shop@/shop?host={stack_dir / 'prod' / 'pg' / 'run'}&port={ports['PROD_PG_PORT']}"
        # The stack's secret: the key that hashes eligibility codes derives from it.
        seeder = create_app({"SQLALCHEMY_DATABASE_URI": url, "ARGON2_FAST": True, "SECRET_KEY": secret.read_text().strip()})
        with seeder.app_context():
            laptop = factories.device(serial_number="PROD-STACK-1")
            _, clear = factories.code(categories=("computer",))
            offer_key = laptop.offer_key
            db.session.commit()

        browser = Browser(ports["PROD_HTTP_PORT"])
        status, headers, page = browser.request("POST", "/reserve", {
            "csrf_token": browser.form_token("/reserve"), "code": clear, "offer": offer_key})
        assert status == 303 and headers["location"].endswith(f"/reserve/offer/{offer_key}"), (status, page)
        path = f"/reserve/offer/{offer_key}"
        status, headers, _ = browser.request("POST", path, {"csrf_token": browser.form_token(path), "method": "counter"})
        assert status == 303, status
        status, _, page = browser.request("GET", urllib.parse.urlsplit(headers["location"]).path)
        assert status == 200

        with seeder.app_context():
            row = db.session.execute(sa.text(
                "SELECT r.status, r.number FROM reservations r JOIN devices d ON d.id = r.device_id "
                "WHERE d.serial_number = 'PROD-STACK-1'")).one()
            db.session.remove()
            db.engine.dispose()
        assert row.status.lower() == "confirmed" and row.number in page
    finally:
        stopped = _run(env, "stop", timeout=120)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    after = _run(env, "status")
    assert after.returncode == 3 and "running" not in after.stdout


def test_the_stack_refuses_an_unknown_command_in_one_line():
    run = subprocess.run([str(SCRIPT), "restart-everything"], capture_output=True, text=True, timeout=10)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "start|stop|status" in run.stderr


# compose.yaml (not run here: there is no container engine on the test machine)

def _compose_services() -> dict[str, str]:
    """service name -> its block of compose.yaml (two-space indented under `services:`)."""
    body = COMPOSE.split("\nservices:\n", 1)[1].split("\nvolumes:", 1)[0]
    return dict(re.findall(r"^  ([a-z-]+):\n((?:    .*\n|\n)*)", body, re.M))


def _compose_command(block: str) -> list[str]:
    return shlex.split(re.search(r"^    command: (.+)$", block, re.M).group(1))


def test_compose_names_the_services_of_the_one_machine_stack():
    services = _compose_services()
    assert set(services) == {"postgres", "redis", "web", "dispatcher", "cron"}
    script = SCRIPT.read_text()
    for name in ("gunicorn", "dispatcher", "cron", "redis"):
        assert f"background {name}" in script or f"start_{name}" in script


def test_compose_runs_the_commands_of_the_guide():
    services = _compose_services()
    guide = next(line for line in DOC.splitlines() if line.startswith("ExecStart=") and "gunicorn" in line)
    guide_args = shlex.split(guide.split("=", 1)[1])
    web = shlex.split(re.search(r"exec (gunicorn [^']+)'", services["web"]).group(1))
    assert web[0] == "gunicorn" and web[-1] == guide_args[-1] == "shop:create_app()"
    assert web[web.index("--workers") + 1] == guide_args[guide_args.index("--workers") + 1] == "4"
    for option in ("--timeout", "--graceful-timeout", "--logger-class"):
        assert web[web.index(option) + 1] == guide_args[guide_args.index(option) + 1], option
    assert "flask --app shop db upgrade" in services["web"]
    assert _compose_command(services["dispatcher"])[-3:] == ["shop", "deliver", "--watch"]
    cron = services["cron"]
    for command in ("expire-holds", "purge", "backup"):
        assert f"flask --app shop {command}" in cron and f"flask --app shop {command}" in DOC
    assert "deliver --watch" in SCRIPT.read_text()


def test_compose_gives_every_shop_service_the_production_settings():
    services = _compose_services()
    anchor = COMPOSE.split("x-shop-environment: &shop-environment\n", 1)[1].split("\n\n", 1)[0]
    settings = set(re.findall(r"^  ([A-Z][A-Z0-9_]+):", anchor, re.M))
    script_settings = set(re.findall(r"export ([A-Z][A-Z0-9_]+)", SCRIPT.read_text())) - {"PYTHONPATH"}
    assert script_settings <= settings, script_settings - settings
    assert {"SHOP_ENV", "SECRET_KEY", "DATABASE_URL", "RATELIMIT_STORAGE_URI"} <= settings
    assert re.search(r"^  SHOP_ENV: production$", anchor, re.M)
    source = (ROOT / "shop" / "config.py").read_text()
    assert all(f'"{name}"' in source for name in settings - {"WEB_CONCURRENCY"})
    for name in ("web", "dispatcher", "cron"):
        assert "environment: *shop-environment" in services[name], name
