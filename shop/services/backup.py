"""Consistent copies of the database, and putting one back.

A backup is readable by its owner only (0600: it holds every person's data). The PostgreSQL
password goes to pg_dump/pg_restore in the child's environment (`PGPASSWORD`), never on the
command line, where any user of the machine can read it (`ps`). Both directions write to a
temporary file or inside one transaction, so a failure leaves nothing half-written.

Device photos are files (`UPLOAD_FOLDER`), not rows: docs/DEPLOY.md says how to copy them along.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from shop.services.errors import DomainError

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"  # pg_dump --format=custom
# A backup of this shop has the migrations' record and its main table.
SHOP_TABLES = {"alembic_version", "devices"}


def _private_file(path: Path) -> Path:
    """Create an empty file only its owner can read, next to `path` (same file system: atomic rename)."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)  # mode 0600
    os.close(handle)
    return Path(name)


def _pg_command(url: URL) -> tuple[str, dict]:
    """The connection string without its password, and the child environment carrying it."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    # URL.set(password=None) keeps the password: replace the field itself.
    plain = url.set(drivername="postgresql")._replace(password=None).render_as_string(hide_password=False)
    return plain, env


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise DomainError(f"{program} is not installed (Debian package postgresql-client).")
    return path


def _first_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def backup(database_url: str, target: Path) -> Path:
    """Copy the database to `target` while the shop keeps running.

    SQLite: the online backup API (a consistent snapshot, even with writers). PostgreSQL:
    `pg_dump --format=custom` (one snapshot), restored with `restore()` or `pg_restore`.
    """
    url = make_url(database_url)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DomainError(f"No backup method for {backend}.")
    partial = _private_file(target)
    try:
        if backend == "sqlite":
            try:
                source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
            except sqlite3.Error as error:
                raise DomainError(f"cannot read the database {url.database}: {error}.") from None
            copy = sqlite3.connect(partial)
            try:
                with copy:
                    source.backup(copy)
            except sqlite3.Error as error:
                raise DomainError(f"cannot read the database {url.database}: {error}.") from None
            finally:
                copy.close()
                source.close()
        else:
            plain, env = _pg_command(url)
            done = subprocess.run([_need("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", plain],
                                  env=env, capture_output=True, text=True, umask=0o077)
            if done.returncode != 0:
                raise DomainError(f"pg_dump failed: {_first_line(done.stderr)}")
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def kind_of(path: Path) -> str:
    """'sqlite' or 'postgresql' from the file's first bytes; refuses anything else in one line."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as error:
        raise DomainError(f"cannot read {path}: {error.strerror}.") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise DomainError(f"{path} is not a backup of the shop (neither a SQLite database nor a pg_dump "
                      f"custom-format file): nothing was changed.")


def _check_sqlite_backup(path: Path) -> None:
    try:
        copy = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if copy.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise sqlite3.DatabaseError("damaged")
            tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            copy.close()
    except sqlite3.Error:
        raise DomainError(f"{path} is a damaged SQLite file: nothing was changed.") from None
    if not SHOP_TABLES <= tables:
        raise DomainError(f"{path} is a SQLite database but not a backup of the shop: nothing was changed.")


def _check_pg_backup(path: Path) -> None:
    listing = subprocess.run([_need("pg_restore"), "--list", str(path)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise DomainError(f"{path} is a damaged pg_dump file ({_first_line(listing.stderr)}): nothing was changed.")
    tables = set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+)", listing.stdout, re.M))
    if not SHOP_TABLES <= tables:
        raise DomainError(f"{path} is a pg_dump file but not a backup of the shop: nothing was changed.")


def tables_in(database_url: str) -> list[str]:
    """The tables of the database (empty for a database that was just created)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or not Path(url.database).exists():
            return []
        connection = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        try:
            return [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        finally:
            connection.close()
    import sqlalchemy as sa

    engine = sa.create_engine(url.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            return list(connection.scalars(sa.text(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")))
    finally:
        engine.dispose()


def restore(database_url: str, source: Path, force: bool = False) -> str:
    """Put the backup `source` in place of the database at `database_url`; returns its kind.

    Refuses a file that is not a backup of the shop, a backup of the other kind of database, and a
    database that holds tables unless `force`. SQLite: the copy is written and checked in a
    temporary file, then renamed over the database. PostgreSQL: one `pg_restore
    --single-transaction`: it is all there or nothing changed.
    """
    source = Path(source)
    kind = kind_of(source)
    url = make_url(database_url)
    backend = url.get_backend_name()
    if kind != backend:
        raise DomainError(f"{source} is a {kind} backup but DATABASE_URL is a {backend} database: nothing was changed.")
    if kind == "sqlite":
        _check_sqlite_backup(source)
    else:
        _check_pg_backup(source)
    present = tables_in(database_url)
    if present and not force:
        raise DomainError(f"the database is not empty ({len(present)} tables): restore into a new database, "
                          f"or add --force to replace it (stop the shop first). Nothing was changed.")
    if kind == "sqlite":
        _restore_sqlite(Path(url.database), source)
    else:
        plain, env = _pg_command(url)
        args = [_need("pg_restore"), "--single-transaction", "--exit-on-error", "--no-owner", "--no-acl",
                f"--dbname={plain}"]
        if present:
            args += ["--clean", "--if-exists"]  # dropped and created again inside the same transaction
        done = subprocess.run([*args, str(source)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise DomainError(f"pg_restore failed, nothing was changed: {_first_line(done.stderr)}")
    return kind


def _restore_sqlite(database: Path, source: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = _private_file(database)
    try:
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        copy = sqlite3.connect(partial)
        try:
            with copy:
                reader.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # a self-contained file, no -wal beside it
        finally:
            copy.close()
            reader.close()
        if database.exists():
            # Fold the old write-ahead log into the old file first: a -wal left beside the new file
            # would be replayed into it.
            old = sqlite3.connect(database)
            try:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                old.close()
        os.replace(partial, database)
        for leftover in (Path(f"{database}-wal"), Path(f"{database}-shm")):
            leftover.unlink(missing_ok=True)
    finally:
        partial.unlink(missing_ok=True)
