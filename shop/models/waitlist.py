"""The waitlist: people queueing for a kind of device at a pickup point, served in joining order."""

from datetime import datetime
import secrets

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.catalog import PickupPoint
from shop.models.partners import Beneficiary, EligibilityCode
from shop.models.stock import Category, Device
from shop.models.types import LabelledEnum, UTCDateTime, enum_column, utcnow


class WaitlistStatus(LabelledEnum):
    WAITING = "waiting", _l("Waiting")
    OFFERED = "offered", _l("A device is held")
    RESERVED = "reserved", _l("Reserved")
    LEFT = "left", _l("Left the queue")
    EXPIRED = "expired", _l("Ended")


IN_LINE = ("waiting", "offered")
_IN_LINE_SQL = "status IN ('waiting', 'offered')"
# Highest maximum price a person may give: above every legal cap, far below any integer overflow.
MAX_PRICE_CENTS = 100_000


def new_turn_token() -> str:
    """The unguessable part of the link sent with a turn (the code is still needed to reserve)."""
    return secrets.token_urlsafe(12)


class WaitlistEntry(db.Model):
    """One person's place in one queue: a kind of device at a pickup point (or any in its town).

    The database holds the invariants: one place per code and kind of device while in line, and a
    unit held for at most one turn at a time.
    """

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        sa.Index("uq_waitlist_in_line_code_category", "code_id", "category", unique=True,
                 sqlite_where=sa.text(_IN_LINE_SQL), postgresql_where=sa.text(_IN_LINE_SQL)),
        sa.Index("uq_waitlist_offered_device", "device_id", unique=True,
                 sqlite_where=sa.text("status = 'offered'"), postgresql_where=sa.text("status = 'offered'")),
        sa.Index("ix_waitlist_status_category_joined", "status", "category", "joined_at"),
        sa.CheckConstraint(f"max_price_cents IS NULL OR (max_price_cents >= 0 AND max_price_cents <= {MAX_PRICE_CENTS})",
                           name="max_price_range"),
        sa.CheckConstraint("status != 'offered' OR (device_id IS NOT NULL AND offer_until IS NOT NULL)",
                           name="offered_names_unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(24), unique=True, default=new_turn_token)
    beneficiary_id: Mapped[int] = mapped_column(sa.ForeignKey("beneficiaries.id"), index=True)
    code_id: Mapped[int] = mapped_column(sa.ForeignKey("eligibility_codes.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    category: Mapped[Category] = mapped_column(enum_column(Category, "waitlist_category"))
    pickup_point_id: Mapped[int] = mapped_column(sa.ForeignKey("pickup_points.id"), index=True)
    any_point_in_town: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    max_price_cents: Mapped[int | None]
    status: Mapped[WaitlistStatus] = mapped_column(enum_column(WaitlistStatus, "waitlist_status"),
                                                   default=WaitlistStatus.WAITING)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    joined_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The turn: the unit held for this person, and until when.
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey("devices.id"))
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))

    beneficiary: Mapped[Beneficiary] = relationship()
    code: Mapped[EligibilityCode] = relationship()
    pickup_point: Mapped[PickupPoint] = relationship()
    device: Mapped[Device | None] = relationship()

    @property
    def is_waiting(self) -> bool:
        """In line, no unit offered yet."""
        return self.status == WaitlistStatus.WAITING

    def holds_unit(self, now: datetime | None = None) -> bool:
        """A turn running now: the unit is this person's to reserve until `offer_until`."""
        return (self.status == WaitlistStatus.OFFERED and self.offer_until is not None
                and self.offer_until > (now or utcnow()))
