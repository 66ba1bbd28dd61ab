"""A database for one bench run, gone afterwards (shared by the bench scripts)."""

import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path


def _psycopg(url: str) -> str:
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


@contextmanager
def scratch_database(url: str | None, prefix: str = "bench"):
    """Yield a database URL: a temporary SQLite file when `url` is empty, else a new schema of that
    PostgreSQL database (reached through `search_path`), dropped with everything in it at the end."""
    if not url:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    import sqlalchemy as sa

    url = _psycopg(url)
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
