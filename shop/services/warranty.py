"""Warranty periods per kind of device: the defaults, the admins' choices, the end date of a sale."""

import calendar
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from shop import categories
from shop.extensions import db
from shop.models import Category, Device, DeviceEvent, DeviceStatus, WarrantyPeriod
from shop.services import audit
from shop.services.devices import paris_date
from shop.services.errors import DomainError
from shop.services.tx import atomic

# Months of warranty from the day of handover, for kinds an admin has not set (the values live in
# shop/categories.py, with every other fact of a category). Six months for
# computers and phones (what the issue asks, and what refurbishers commonly give); tablets are
# built like phones (battery, touch screen), so the same. Screens and printers have no battery
# and fail early if they fail at all: 3 months shows it. Accessories (chargers, mice, cables)
# are cheap and wear with use: 1 month covers a unit that does not work from the start.
DEFAULT_MONTHS: dict[Category, int] = categories.warranty_months()  # shop/categories.py: one place
MAX_MONTHS = 60
PERIOD_REFUSAL = _l("Choose a number of months between 1 and %(max)d.", max=MAX_MONTHS)


def periods() -> dict[Category, int]:
    """Every kind's period in months: the admins' choice, else the default."""
    chosen = dict(db.session.execute(sa.select(WarrantyPeriod.category, WarrantyPeriod.months)).tuples().all())
    return {category: chosen.get(category, DEFAULT_MONTHS[category]) for category in Category}


def months_for(category: Category) -> int:
    chosen = db.session.scalar(sa.select(WarrantyPeriod.months).where(WarrantyPeriod.category == Category(category)))
    return chosen if chosen is not None else DEFAULT_MONTHS[Category(category)]


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it has no such day (31 Aug + 6 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def end_date(handed_over_at: datetime, category: Category) -> date:
    """The last day of the warranty of a device of this kind handed over at that moment (Paris days)."""
    return add_months(paris_date(handed_over_at), months_for(category))


def end_for_device(device: Device) -> date | None:
    """A sold device's warranty end, counted from its last handover (a unit given in exchange
    starts a warranty of its own); None when the device is not with a buyer."""
    if device.status != DeviceStatus.SOLD:
        return None
    sold_at = db.session.scalar(
        sa.select(sa.func.max(DeviceEvent.at)).where(DeviceEvent.device_id == device.id,
                                                      DeviceEvent.to_status == DeviceStatus.SOLD))
    return end_date(sold_at, device.category) if sold_at is not None else None


@atomic
def set_periods(months: dict[Category, int], *, actor) -> list[Category]:
    """Admins set the period of some kinds (1 to 60 months); returns the kinds that changed."""
    for category, value in months.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_MONTHS:
            raise DomainError(PERIOD_REFUSAL,
                              field=Category(category).value)
    current = periods()
    changed = [Category(c) for c, value in months.items() if current[Category(c)] != value]
    for category in changed:
        row = db.session.get(WarrantyPeriod, category)
        if row is None:
            db.session.add(WarrantyPeriod(category=category, months=months[category]))
        else:
            row.months = months[category]
    db.session.flush()
    if changed:
        audit.record(actor, "warranty.periods", None, changed={c.value: months[c] for c in changed})
    return changed
