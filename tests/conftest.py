"""Fixtures: app → client → db, a query counter, and small factories.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set. The schema
is built once per session by the Alembic migrations themselves; each test then starts from
empty tables.
"""

import os
from contextlib import contextmanager

import flask_migrate
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_babel import force_locale
from hypothesis import settings

from shop import create_app
from shop.extensions import db as _db
from shop.extensions import limiter, sqlite_begin_mode

# On CI the property tests and the fuzzer replay the same examples every run, so a run passes or
# fails for a reason that can be reproduced; locally they explore new examples each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database (`shop_test_gw0`, …),
    created on first use, so that workers never truncate each other's tables. The environment
    variable is rewritten too: tests that start subprocesses (benches, gunicorn) read it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not url.startswith("postgresql"):
        return url
    base, _, name = url.rpartition("/")
    name, query = (name.split("?", 1) + [""])[:2]
    own = f"{base}/{name}_{worker}" + (f"?{query}" if query else "")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": f"{name}_{worker}"}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}_{worker}"'))
    engine.dispose()
    return own


if os.environ.get("TEST_DATABASE_URL"):
    os.environ["TEST_DATABASE_URL"] = _worker_database(os.environ["TEST_DATABASE_URL"])


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def _reset_schema(app) -> None:
    with app.app_context():
        engine = _db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        flask_migrate.upgrade()
        # The migrations also write rows (each scheduled command's cron_runs row): the first test
        # of a worker starts from empty tables too, like every test after it.
        _empty_tables()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url = _database_url(tmp_path_factory)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": True,
            "ARGON2_FAST": True,
            "PAGE_CACHE_CHECK_SECONDS": 0,
            "SERVER_NAME": None,
        }
    )
    _reset_schema(app)
    yield app
    with app.app_context():
        _db.engine.dispose()


def _empty_tables() -> None:
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in _db.metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(autouse=True)
def fresh_counters(app):
    """Rate limits and the page cache are on, as in production; each test starts empty (the
    worker's own fallback counters too, used while a shared storage cannot be reached)."""
    from shop import ratelimits

    def empty():
        limiter.reset()
        ratelimits._fallback.storage.reset()
        app.extensions["page_cache"].clear()

    empty()
    yield
    empty()


@pytest.fixture
def db(app):
    """The database, empty at the start of the test; tables are emptied afterwards.

    The test's own session begins SQLite transactions DEFERRED, as a reader would: it must not
    hold the write lock while the requests it makes (other sessions) write.
    """
    token = sqlite_begin_mode.set("DEFERRED")
    # Services called straight from a test speak English (the source language), so that tests
    # can read their messages; requests still choose their own language.
    with app.app_context(), force_locale("en"):
        yield _db
        _db.session.remove()
        _empty_tables()
    sqlite_begin_mode.reset(token)


class FreshContextClient(FlaskClient):
    """Each request gets its own app context (fresh `g`, own DB session), as in production,
    even though the test itself holds an app context open."""


    def open(self, *args, **kwargs):
        # What the test set up so far is committed, and its read snapshot ends, so the request
        # sees the test's data and the test then sees what the request wrote.
        _db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app, db):
    app.test_client_class = FreshContextClient
    return app.test_client()


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            self.statements.append(statement)


@pytest.fixture
def count_queries(db):
    """`with count_queries() as counter:` counts the SQL statements run inside the block."""

    @contextmanager
    def counting():
        counter = QueryCounter()
        sa.event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", counter)

    return counting
