"""Where devices are picked up."""

from datetime import time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db


class PickupPoint(db.Model):
    __tablename__ = "pickup_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    address: Mapped[str] = mapped_column(sa.String(200))
    postcode: Mapped[str] = mapped_column(sa.String(10))
    town: Mapped[str] = mapped_column(sa.String(80))
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Pickup times (see models/slots.py): "off", "optional" or "required".
    slot_mode: Mapped[str] = mapped_column(sa.String(10), default="off", server_default="off")

    opening_hours: Mapped[list["OpeningHours"]] = relationship(
        back_populates="pickup_point",
        order_by="(OpeningHours.weekday, OpeningHours.opens)",
        cascade="all, delete-orphan",
    )

    @property
    def shown(self) -> tuple:
        """Everything the point's card shows, as read: the key its card is kept rendered under."""
        return (self.id, self.slug, self.name, self.address, self.postcode, self.town, self.phone,
                tuple((hours.weekday, hours.opens, hours.closes) for hours in self.opening_hours))

    def __repr__(self) -> str:
        return f"<PickupPoint {self.slug}>"


class OpeningHours(db.Model):
    """One opening slot: weekday 0 (Monday) to 6 (Sunday), local Paris time."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        sa.CheckConstraint("closes > opens", name="closes_after_opens"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(
        sa.ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    opens: Mapped[time] = mapped_column(sa.Time)
    closes: Mapped[time] = mapped_column(sa.Time)

    pickup_point: Mapped[PickupPoint] = relationship(back_populates="opening_hours")
