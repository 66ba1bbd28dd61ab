"""The database goes away under signed-in sessions of every role: every error page still renders,
from no database at all, in the visitor's language, with `Retry-After` on 503.

The shared test database is never stopped: each run uses a database of its own, a throw-away
PostgreSQL server (initdb + pg_ctl in a temporary folder, on a free port) that is really shut
down, and a SQLite file that is made unreachable (a folder put in its place).
"""

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import flask_migrate
import pytest
from flask_babel import force_locale, gettext

from shop import create_app
from shop.extensions import db as _db
from shop.models import Role
from tests import factories
from tests.conftest import FreshContextClient

PG_BIN = Path("/usr/lib/postgresql/15/bin")

# Each visitor in a language of their own, so that a page in the wrong language is seen.
VISITORS = {
    "anonymous": "fr",
    "code holder": "uk",
    "social worker": "ar",
    "partner admin": "en",
    "staff": "uk",
    "admin": "ar",
}
AREA = {
    "anonymous": "/catalog", "code holder": "/reserve/me", "social worker": "/partner/",
    "partner admin": "/partner/", "staff": "/staff/", "admin": "/admin/",
}
SIGNED_IN = {"social worker", "partner admin", "staff", "admin"}
TITLES = {503: "Busy for a moment", 404: "Page not found", 500: "Something went wrong"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run its tools as the postgres account then.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    """A PostgreSQL server of this test alone, stopped for real to cut the shop off."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="shop-outage-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8"]), check=True, capture_output=True)
        self.start()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        subprocess.run(_as_postgres([
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ]), check=True, capture_output=True)

    def cut(self) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
                       check=False, capture_output=True)

    def remove(self) -> None:
        self.cut()
        shutil.rmtree(self.folder, ignore_errors=True)


class UnreachableSqlite:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="shop-outage-sqlite-"))
        self.file = self.folder / "shop.sqlite3"
        self.url = f"sqlite:///{self.file}"

    def cut(self) -> None:
        # A folder where the database file was: SQLite cannot open it, even for root.
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{self.file}{suffix}")
            if path.exists():
                path.rename(self.folder / f"gone{suffix}")
        self.file.mkdir()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request):
    if request.param == "postgresql" and not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 server binaries (initdb) are not installed")
    server = PrivatePostgres() if request.param == "postgresql" else UnreachableSqlite()
    yield server
    server.remove()


def _boom():
    raise RuntimeError("a bug in a view")


def test_every_error_page_renders_with_the_database_down(database, app, capsys):
    # Same limiter settings as the session's app: the limiter extension is shared by the process.
    outage_app = create_app({
        "SQLALCHEMY_DATABASE_URI": database.url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
        "ARGON2_FAST": True, "PROPAGATE_EXCEPTIONS": False, "SERVER_NAME": None, "PAGE_CACHE_CHECK_SECONDS": 0,
    })
    outage_app.add_url_rule("/outage-test/boom", "outage_boom", _boom)
    outage_app.test_client_class = FreshContextClient
    clients = {}
    with outage_app.app_context(), force_locale("en"):
        flask_migrate.upgrade()
        point = factories.pickup_point()
        org = factories.organisation()
        people = {
            "social worker": factories.user(Role.SOCIAL_WORKER, org=org),
            "partner admin": factories.user(Role.PARTNER_ADMIN, org=org),
            "staff": factories.user(Role.STAFF, pickup_point_id=point.id),
            "admin": factories.user(Role.ADMIN),
        }
        _, clear = factories.code(factories.beneficiary(people["social worker"]), worker=people["social worker"])
        _db.session.commit()
        for visitor, language in VISITORS.items():
            client = outage_app.test_client()
            client.set_cookie("lang", language)
            if visitor == "code holder":
                assert client.post("/reserve", data={"code": clear}).status_code == 303
            elif visitor != "anonymous":
                assert factories.sign_in(client, people[visitor].email).status_code == 303
            assert client.get(AREA[visitor]).status_code == 200  # signed in, database up
            clients[visitor] = client
        _db.session.remove()
        _db.engine.dispose()

        database.cut()

        answers = []
        for visitor, client in clients.items():
            language = VISITORS[visitor]
            for kind, url in (("own area", AREA[visitor]), ("unknown page", "/no-such-page"),
                              ("bug in a view", "/outage-test/boom")):
                response = client.get(url)
                page = response.get_data(as_text=True)
                with force_locale(language):
                    title = gettext(TITLES.get(response.status_code, "no such page"))
                answers.append((visitor, kind, response.status_code, response.headers.get("Retry-After"), language,
                                f'lang="{language}"' in page and title in page))
        _db.session.remove()
        _db.engine.dispose()

    with capsys.disabled():  # the table the issue asks to show
        print(f"\n{type(database).__name__}: visitor, page, status, Retry-After, language, shop page in it")
        for row in answers:
            print("   ", row)
    for visitor, kind, status, retry_after, language, in_language in answers:
        # A signed-in session is checked against the database before any page (is it still valid,
        # is a second factor due?), so without a database every page of it is "try again": 503.
        expected = 503 if visitor in SIGNED_IN else {"own area": 503, "unknown page": 404, "bug in a view": 500}[kind]
        assert status == expected, (visitor, kind, status)
        assert (retry_after == "30") == (expected == 503), (visitor, kind, retry_after)
        assert in_language, (visitor, kind, language)


class _Messages(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_readyz_turns_503_when_postgresql_stops_and_200_when_it_is_back(app):
    """A real PostgreSQL server stopped and started again (not a closed port): /readyz and
    /healthz follow it, and the log says when readiness changes."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 server binaries (initdb) are not installed")
    import flask_migrate

    from shop.services import cronruns

    server, heard = PrivatePostgres(), _Messages()
    logging.getLogger("shop.health").addHandler(heard)
    try:
        shop = create_app({"SQLALCHEMY_DATABASE_URI": server.url, "TESTING": True, "SERVER_NAME": None,
                           "RATELIMIT_ENABLED": False})
        with shop.app_context():
            flask_migrate.upgrade()
            for command in cronruns.SCHEDULE:  # every cron command ran on time
                cronruns.record_success(command, time.monotonic())
        client = shop.test_client()

        def ready(expected, tries=5):
            for _ in range(tries):  # a connection the stop broke is dropped by the first failure
                response = client.get("/readyz")
                if response.status_code == expected:
                    return response
                time.sleep(0.5)
            return response

        assert ready(200).json["status"] == "ok"
        server.cut()
        down = ready(503)
        assert down.status_code == 503 and "database" in down.json["failed"]
        assert client.get("/healthz").status_code == 503
        server.start()
        assert ready(200).status_code == 200
        assert client.get("/healthz").status_code == 200
        messages = heard.messages
        assert any(m.startswith("Not ready: ") and "database" in m for m in messages), messages
        assert any(m.startswith("Ready again (was failing: ") for m in messages), messages
        with shop.app_context():
            from shop.extensions import db

            db.engine.dispose()
    finally:
        logging.getLogger("shop.health").removeHandler(heard)
        server.remove()
