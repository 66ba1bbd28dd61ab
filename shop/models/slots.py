"""Pickup slots: weekly templates per pickup point, closures, and the slots people book.

Templates and extra slots are materialised as `pickup_slots` rows (one per time and point), each
with its capacity and the number of places taken; the database refuses `booked > capacity`.
"""

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.catalog import PickupPoint
from shop.models.types import LabelledEnum, UTCDateTime, utcnow


class SlotMode(LabelledEnum):
    OFF = "off", _l("No pickup times")
    OPTIONAL = "optional", _l("Pickup time optional")
    REQUIRED = "required", _l("Pickup time required")


class SlotTemplate(db.Model):
    """Every week on `weekday` (0 Monday), from `start_minute` to `end_minute` (Paris time), slots
    of `slot_minutes`, each for `capacity` people."""

    __tablename__ = "slot_templates"
    __table_args__ = (
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        sa.CheckConstraint("start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute",
                           name="minutes_in_day"),
        sa.CheckConstraint("slot_minutes > 0", name="slot_minutes_positive"),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(sa.ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    start_minute: Mapped[int] = mapped_column(sa.SmallInteger)
    end_minute: Mapped[int] = mapped_column(sa.SmallInteger)
    slot_minutes: Mapped[int] = mapped_column(sa.SmallInteger)
    capacity: Mapped[int] = mapped_column(sa.SmallInteger)

    pickup_point: Mapped[PickupPoint] = relationship()


class SlotClosure(db.Model):
    """A day a point is closed (a holiday): no slots that day."""

    __tablename__ = "slot_closures"
    __table_args__ = (sa.UniqueConstraint("pickup_point_id", "day", name="uq_slot_closures_point_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(sa.ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.String(120))


class PickupSlot(db.Model):
    """One bookable time at one point; `booked` counts the reservations that point at it."""

    __tablename__ = "pickup_slots"
    __table_args__ = (
        sa.UniqueConstraint("pickup_point_id", "starts_at", name="uq_pickup_slots_point_start"),
        sa.CheckConstraint("capacity > 0 AND booked >= 0 AND booked <= capacity", name="within_capacity"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(sa.ForeignKey("pickup_points.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(sa.SmallInteger)
    booked: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    # The template it came from; none for a one-off extra slot.
    template_id: Mapped[int | None] = mapped_column(sa.ForeignKey("slot_templates.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pickup_point: Mapped[PickupPoint] = relationship()

    @property
    def room(self) -> int:
        return self.capacity - self.booked
