"""The default price grid: one solidarity price per kind of device and grade."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.stock import Category, Grade
from shop.models.types import UTCDateTime, enum_column, utcnow


class GridPrice(db.Model):
    """The price a device of this category and grade gets when none is given."""

    __tablename__ = "price_grid"
    __table_args__ = (
        sa.UniqueConstraint("category", "grade", name="uq_price_grid_category_grade"),
        sa.CheckConstraint("price_cents >= 0", name="grid_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[Category] = mapped_column(enum_column(Category, "grid_category"))
    grade: Mapped[Grade] = mapped_column(enum_column(Grade, "grid_grade"))
    price_cents: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
