"""Backups that restore: private files, no password on a command line, all or nothing (SQLite and PostgreSQL)."""

import os
import sqlite3
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from shop.services import backup
from shop.services.errors import DomainError
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


def _counts(url: str) -> dict[str, int]:
    """Rows of every table of the shop's schema."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_table_names()
            return {name: connection.scalar(sa.text(f'SELECT count(*) FROM "{name}"')) for name in names}
    finally:
        engine.dispose()


@contextmanager
def _new_database(db, tmp_path):
    """An empty database of the same kind as the test database: a file, or `<test db>_restore`."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = f"{url.database}_restore"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _stock(count: int = 5) -> None:
    for number in range(count):
        factories.device(serial_number=f"BK-{number}")


def test_a_backup_is_readable_by_its_owner_only_whatever_the_umask(app, db, tmp_path):
    _stock(2)
    db.session.commit()
    old = os.umask(0o022)
    try:
        path = backup.backup(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "shop.dump")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert backup.kind_of(path) == db.engine.dialect.name
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_the_password_goes_through_the_environment_never_the_command_line(monkeypatch, tmp_path):
    calls = []

    def fake_run(args, **kwargs):
        calls.append((args, kwargs))
        Path(next(a for a in args if a.startswith("--file=")).split("=", 1)[1]).write_bytes(b"PGDMP fake")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(backup.subprocess, "run", fake_run)
    monkeypatch.setattr(backup.shutil, "which", lambda name: f"/usr/bin/{name}")
    backup.backup("postgresql+psycopg://shop:s3cret-Pa55@db.internal:5433/shop", tmp_path / "x.dump")
    (args, kwargs), = calls
    assert not any("s3cret-Pa55" in arg for arg in args), args
    assert "postgresql://shop@db.internal:5433/shop" in args
    assert kwargs["env"]["PGPASSWORD"] == "s3cret-Pa55"
    assert kwargs["umask"] == 0o077


def test_backup_then_restore_into_a_new_database_gives_the_same_rows(app, db, tmp_path):
    _stock(6)
    factories.code()  # a structure, a worker, a person and their code too
    db.session.commit()
    source_url = app.config["SQLALCHEMY_DATABASE_URI"]
    dump = backup.backup(source_url, tmp_path / "shop.dump")
    with _new_database(db, tmp_path) as new_url:
        assert backup.tables_in(new_url) == []
        # The real command, as an operator runs it.
        env = {**os.environ, "DATABASE_URL": new_url, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "shop", "restore", str(dump)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Restored the" in done.stdout
        expected = _counts(source_url)
        assert expected["devices"] >= 6 and expected["alembic_version"] == 1
        assert _counts(new_url) == expected

        # Once it holds the shop, a second restore is refused, and replaces it with --force.
        with pytest.raises(DomainError, match="not empty"):
            backup.restore(new_url, dump)
        assert backup.restore(new_url, dump, force=True) == db.engine.dialect.name
        assert _counts(new_url) == expected


def test_restore_refuses_a_non_empty_database_without_force_and_changes_nothing(app, db, tmp_path):
    _stock(3)
    db.session.commit()
    dump = backup.backup(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "shop.dump")
    factories.device(serial_number="AFTER-BACKUP")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["restore", str(dump)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "not empty" in result.output and "--force" in result.output
    assert _counts(app.config["SQLALCHEMY_DATABASE_URI"])["devices"] == 4


@pytest.mark.parametrize("content", [b"", b"just some text\n", "caf\xe9;\u00e9t\u00e9\n".encode("cp1252"),
                                     b"PGDMP but cut short", b"SQLite format 3\x00 and then garbage" * 10])
def test_restore_refuses_a_file_that_is_not_a_backup_in_one_line(app, db, tmp_path, content):
    _stock(2)
    db.session.commit()
    before = _counts(app.config["SQLALCHEMY_DATABASE_URI"])
    bad = tmp_path / "not-a-backup.dump"
    bad.write_bytes(content)
    result = app.test_cli_runner().invoke(args=["restore", "--force", str(bad)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert "nothing was changed" in result.output
    assert _counts(app.config["SQLALCHEMY_DATABASE_URI"]) == before


def test_restore_refuses_a_backup_of_the_other_kind_of_database(db, tmp_path):
    other = tmp_path / "other.sqlite3"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE devices (id integer)")  # SQLite, but not the shop's schema
    connection.close()
    if db.engine.dialect.name == "sqlite":
        with pytest.raises(DomainError, match="not a backup of the shop"):
            backup.restore(f"sqlite:///{tmp_path / 'new.sqlite3'}", other)
    else:
        with pytest.raises(DomainError, match="sqlite backup but DATABASE_URL is a postgresql database"):
            backup.restore(str(db.engine.url), other)


def test_a_backup_that_fails_leaves_no_file_and_says_why_in_one_line(app, tmp_path):
    target = tmp_path / "never.dump"
    with pytest.raises(DomainError) as refused:
        backup.backup("postgresql+psycopg://shop:shop@127.0.0.1:1/none", target)
    assert "\n" not in str(refused.value) and str(refused.value).startswith(("pg_dump failed", "pg_dump is not"))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DomainError, match="cannot read the database"):
        backup.backup(f"sqlite:///{tmp_path / 'missing.sqlite3'}", target)
    assert list(tmp_path.iterdir()) == []
