"""How the shop is: database, migrations, Redis, cron. Read by /readyz and the admin system page."""

import functools
import logging
from importlib import metadata
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from shop.extensions import db
from shop.services import cronruns

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"


def version() -> str:
    try:
        return metadata.version("solidarity-shop")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def migration_heads() -> tuple[str, ...]:
    """The newest migration(s) shipped with this code (read once per process)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def current_revisions() -> tuple[str, ...]:
    rows = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    return tuple(sorted(rows))


_redis_clients: dict = {}


def redis_reachable(uri: str) -> bool:
    """A PING with a one-second timeout (a client kept per process and address)."""
    import redis

    client = _redis_clients.get(uri)
    if client is None:
        client = _redis_clients[uri] = redis.Redis.from_url(uri, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def check(config) -> dict:
    """Every check, each with `ok`; `failed` names those that are not. Never raises."""
    checks: dict = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = {"ok": True}
    except SQLAlchemyError as error:
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(error).__name__}
    if checks["database"]["ok"]:
        try:
            current, heads = current_revisions(), migration_heads()
            checks["migrations"] = {"ok": current == heads, "current": list(current), "head": list(heads)}
        except SQLAlchemyError:
            db.session.rollback()
            checks["migrations"] = {"ok": False, "current": [], "head": list(migration_heads())}
        try:
            runs = cronruns.status()
        except SQLAlchemyError:
            db.session.rollback()
            runs = None
        checks["cron"] = {
            "ok": runs is not None and all(run["on_time"] for run in runs),
            "late": [run["command"] for run in runs or () if not run["on_time"]],
        }
    uri = str(config.get("RATELIMIT_STORAGE_URI", "memory://"))
    if uri.startswith(("redis://", "rediss://")):
        checks["redis"] = {"ok": redis_reachable(uri)}
    failed = sorted(name for name, result in checks.items() if not result["ok"])
    if not checks["database"]["ok"]:
        failed = sorted({*failed, "migrations", "cron"})
    return {"ok": not failed, "failed": failed, "checks": checks}
