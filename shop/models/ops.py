"""What the operator needs to know about the shop itself: when each cron command last ran."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.types import UTCDateTime


class CronRun(db.Model):
    """One row per scheduled command: its last start, last success and last failure (with why)."""

    __tablename__ = "cron_runs"

    command: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    last_seconds: Mapped[float | None] = mapped_column(sa.Float)
    # When the shop first expected the command (the row's creation): a command that never
    # succeeded is late once its period has passed since then, or as soon as it fails.
    expected_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
