"""Backup and restore round trip with 10,000 devices, on SQLite and (with --url) PostgreSQL.

For each database: a fresh shop with the demo pickup points and batches and `--devices` listed
devices (the offer rows follow by trigger), then `flask backup` and `flask restore` into a new,
empty database, each timed as an operator runs it (a `flask --app shop` process); then the rows of
every table are counted on both sides and must agree. Prints times, file size and counts; exits 1
when a count differs. PostgreSQL uses two scratch databases next to the one of --url
(`<name>_bench_src`, `<name>_bench_dst`), dropped at the end. See bench/README.md.

    .venv/bin/python bench/backup_restore.py [--url postgresql://shop:shop@127.0.0.1:5432/shop_h13]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from catalog_rps import seed  # noqa: E402 (bench/ is on the path when run as a script)


def counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            names = sorted(sa.inspect(connection).get_table_names())
            return {name: connection.scalar(sa.text(f'SELECT count(*) FROM "{name}"')) for name in names}
    finally:
        engine.dispose()


@contextmanager
def databases(url: str | None, folder: Path):
    """(source, target) URLs: two SQLite files, or two new PostgreSQL databases beside `url`'s."""
    if not url:
        yield f"sqlite:///{folder / 'source.sqlite3'}", f"sqlite:///{folder / 'restored.sqlite3'}"
        return
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    names = [f"{base.database}_bench_src", f"{base.database}_bench_dst"]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")

    def recreate(drop_only: bool = False):
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                if not drop_only:
                    connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    recreate()
    try:
        yield tuple(base.set(database=name).render_as_string(hide_password=False) for name in names)
    finally:
        recreate(drop_only=True)
        admin.dispose()


def flask(url: str, *args: str) -> float:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "shop", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed


def round_trip(url: str | None, devices: int) -> bool:
    with tempfile.TemporaryDirectory() as folder, databases(url, Path(folder)) as (source, target):
        start = time.perf_counter()
        seed(source, devices)
        seeded = time.perf_counter() - start
        dump = Path(folder) / "shop.dump"
        backup_s = flask(source, "backup", str(dump))
        restore_s = flask(target, "restore", str(dump))
        before, after = counts(source), counts(target)
        kind = "PostgreSQL" if url else "SQLite"
        print(f"{kind}: {devices} devices seeded in {seeded:.1f} s; backup {backup_s:.1f} s "
              f"({dump.stat().st_size / 1e6:.1f} MB, mode {oct(dump.stat().st_mode & 0o777)}); restore {restore_s:.1f} s")
        rows = ", ".join(f"{name} {count}" for name, count in before.items() if count)
        print(f"  rows in the source: {rows}")
        same = before == after
        print("  restored database: every table has the same count" if same else
              f"  COUNTS DIFFER: {[(n, before.get(n), after.get(n)) for n in before if before.get(n) != after.get(n)]}")
        return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--url", help="a PostgreSQL database URL: also measure PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    options = parser.parse_args()
    ok = True
    if not options.no_sqlite:
        ok &= round_trip(None, options.devices)
    if options.url:
        ok &= round_trip(options.url, options.devices)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
