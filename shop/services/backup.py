"""Consistent copies of the database."""

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from shop.services.errors import DomainError


def backup(database_url: str, target: Path) -> Path:
    """Copy the database to `target` while the shop keeps running.

    SQLite: the online backup API (a consistent snapshot, even with writers). PostgreSQL:
    `pg_dump --format=custom`, restored with `pg_restore`.
    """
    url = make_url(database_url)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(url.database)
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        return target
    if url.get_backend_name() == "postgresql":
        if shutil.which("pg_dump") is None:
            raise DomainError("pg_dump is not installed (Debian package postgresql-client).")
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", plain], check=True)
        return target
    raise DomainError(f"No backup method for {url.get_backend_name()}.")
