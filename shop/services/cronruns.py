"""When each scheduled command last ran, so that /readyz and the admin system page can tell
when cron stopped calling one (a broken environment file, a full disk…)."""

import functools
import logging
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from shop.extensions import db
from shop.models.ops import CronRun
from shop.models.types import utcnow

log = logging.getLogger(__name__)

# The one place for the schedule: command → the longest gap expected between two successful
# runs (the cron period of docs/DEPLOY.md §7 plus a margin for a slow or skipped run).
SCHEDULE: dict[str, timedelta] = {
    "expire-holds": timedelta(minutes=15),  # cron every 5 minutes
    "deliver": timedelta(minutes=5),  # cron every minute, or `deliver --watch`
    "purge": timedelta(hours=26),  # daily
    "backup": timedelta(hours=26),  # daily
}


def _write(command: str, **values) -> None:
    """Upsert the command's row in a connection of its own: a run is recorded even when the
    command's own transaction is rolled back. A new row says since when the command is expected."""
    table = CronRun.__table__
    with db.engine.begin() as conn:
        if values and conn.execute(table.update().where(table.c.command == command).values(**values)).rowcount:
            return
        try:
            with conn.begin_nested():
                conn.execute(table.insert().values(command=command, expected_since=utcnow(), **values))
        except IntegrityError:  # another run inserted the row meanwhile
            if values:
                conn.execute(table.update().where(table.c.command == command).values(**values))


def _record(command: str, **values) -> None:
    try:
        _write(command, **values)
    except SQLAlchemyError as error:  # the database is gone: the command's own one-line error says so
        log.debug("Could not record the run of %s: %s", command, error)


def record_success(command: str, started: float, now: datetime | None = None) -> None:
    _record(command, last_success_at=now or utcnow(), last_seconds=round(time.monotonic() - started, 3))


def scheduled(command: str):
    """Decorate a CLI command's function: its start, success or failure (with the error's first
    line) is recorded under `command`, and the error still reaches cron (non-zero exit)."""
    if command not in SCHEDULE:
        raise KeyError(f"{command} has no period in SCHEDULE")

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            started = time.monotonic()
            _record(command, last_started_at=utcnow())
            try:
                result = function(*args, **kwargs)
            except Exception as error:
                db.session.rollback()  # SQLite: free the write lock before recording
                message = (str(error).strip().splitlines() or [type(error).__name__])[0]
                _record(command, last_failure_at=utcnow(), last_error=message[:300],
                        last_seconds=round(time.monotonic() - started, 3))
                # The command's own one-line error (shop/cli.py) reaches stderr and cron: no second line.
                log.debug("%s failed: %s", command, message)
                raise
            record_success(command, started)
            return result

        return wrapper

    return decorate


def on_time(row: CronRun | None, period: timedelta, now: datetime) -> bool:
    """Succeeded within its period; or, never succeeded, never failed and expected for less than
    its period (a new installation is not late before the first run is due)."""
    if row is None:
        return False
    if row.last_success_at is not None:
        return now - row.last_success_at <= period
    return row.last_failure_at is None and row.expected_since is not None and now - row.expected_since <= period


def status(now: datetime | None = None) -> list[dict]:
    """Every scheduled command with its last runs and whether it succeeded within its period.

    Only reads: the rows are made by the migration that introduced each command (expected from
    then on) and by its runs. A command without a row is late."""
    rows = {row.command: row for row in db.session.scalars(sa.select(CronRun))}
    now = now or utcnow()
    report = []
    for command, period in SCHEDULE.items():
        row = rows.get(command)
        success = row.last_success_at if row else None
        report.append({
            "command": command,
            "period": period,
            "last_success_at": success,
            "last_failure_at": row.last_failure_at if row else None,
            "last_error": row.last_error if row else None,
            "last_seconds": row.last_seconds if row else None,
            "on_time": on_time(row, period, now),
        })
    return report
