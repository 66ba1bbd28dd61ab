"""After the sale: warranty periods per kind of device, and after-sale cases (returns)."""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.reservations import PaymentChannel, Reservation
from shop.models.stock import Category, Device
from shop.models.types import LabelledEnum, UTCDateTime, enum_column, utcnow


class WarrantyPeriod(db.Model):
    """An admin's choice of warranty for one kind of device; kinds without a row use the default
    of shop.services.warranty.DEFAULT_MONTHS."""

    __tablename__ = "warranty_periods"
    __table_args__ = (sa.CheckConstraint("months >= 1 AND months <= 60", name="warranty_months_range"),)

    category: Mapped[Category] = mapped_column(enum_column(Category, "warranty_category"), primary_key=True)
    months: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReturnReason(LabelledEnum):
    DOES_NOT_START = "does_not_start", _l("Does not start")
    BATTERY = "battery", _l("Battery")
    SCREEN = "screen", _l("Screen")
    KEYBOARD = "keyboard", _l("Keyboard or touch")
    NETWORK = "network", _l("Wi-Fi, network or sound")
    SOFTWARE = "software", _l("System or software")
    NOT_AS_DESCRIBED = "not_as_described", _l("Not as described")
    OTHER = "other", _l("Other")


class CaseOutcome(LabelledEnum):
    OPEN = "open", _l("Open")
    REPAIRED = "repaired", _l("Repaired")
    EXCHANGED = "exchanged", _l("Exchanged")
    REFUNDED = "refunded", _l("Refunded")
    REFUSED = "refused", _l("Refused")


class AftersaleCase(db.Model):
    """One return of a sold device: why, and what was done (repaired, exchanged, refunded, refused).

    The database keeps one open case per device, and an exchange's replacement unit is never the
    returned one."""

    __tablename__ = "aftersale_cases"
    __table_args__ = (
        sa.Index("uq_aftersale_open_device", "device_id", unique=True,
                 sqlite_where=sa.text("outcome = 'open'"), postgresql_where=sa.text("outcome = 'open'")),
        sa.CheckConstraint("refund_cents IS NULL OR refund_cents > 0", name="refund_positive"),
        sa.CheckConstraint("replacement_id IS NULL OR replacement_id <> device_id", name="replacement_not_returned"),
        sa.CheckConstraint("(outcome = 'open') = (closed_at IS NULL)", name="closed_when_decided"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservation_id: Mapped[int] = mapped_column(sa.ForeignKey("reservations.id"), index=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id"), index=True)
    pickup_point_id: Mapped[int] = mapped_column(sa.ForeignKey("pickup_points.id"), index=True)
    reason: Mapped[ReturnReason] = mapped_column(enum_column(ReturnReason, "return_reason"))
    description: Mapped[str | None] = mapped_column(sa.String(300))
    outcome: Mapped[CaseOutcome] = mapped_column(enum_column(CaseOutcome, "case_outcome"), default=CaseOutcome.OPEN)
    replacement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("devices.id"))
    refund_cents: Mapped[int | None]
    refund_channel: Mapped[PaymentChannel | None] = mapped_column(enum_column(PaymentChannel, "case_refund_channel"))
    refusal_reason: Mapped[str | None] = mapped_column(sa.String(300))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    reservation: Mapped[Reservation] = relationship()
    device: Mapped[Device] = relationship(foreign_keys=[device_id])
    replacement: Mapped[Device | None] = relationship(foreign_keys=[replacement_id])
