"""Pickup points as admins run them: address, opening hours, open or closed."""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import time
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.models import Device, OpeningHours, PickupPoint, Reservation
from shop.models.types import utcnow
from shop.services import audit
from shop.services.errors import DomainError
from shop.services.tx import atomic


@dataclass
class PointData:
    name: str
    address: str
    postcode: str
    town: str
    phone: str | None = None
    active: bool = True
    hours: list[tuple[int, int, time, time]] = field(default_factory=list)  # (weekday, slot, opens, closes)


def check_hours(hours) -> None:
    """Each slot closes after it opens, and the slots of a day do not overlap."""
    by_day: dict[int, list] = {}
    for weekday, slot, opens, closes in hours:
        if not 0 <= weekday <= 6:
            raise DomainError(_l("Unknown day."), weekday=weekday, slot=slot)
        if closes <= opens:
            raise DomainError(_l("The closing time must be after the opening time."), weekday=weekday, slot=slot)
        by_day.setdefault(weekday, []).append((opens, closes, slot))
    for weekday, slots in by_day.items():
        slots.sort()
        for (_, closes, _), (opens, _, slot) in zip(slots, slots[1:]):
            if opens < closes:
                raise DomainError(_l("The opening hours of a day must not overlap."), weekday=weekday, slot=slot)


def _slug(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:50] or "point"
    slug, n = base, 1
    while db.session.scalar(sa.select(PickupPoint.id).where(PickupPoint.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _apply(point: PickupPoint, data: PointData) -> None:
    check_hours(data.hours)
    point.name, point.address = data.name.strip(), data.address.strip()
    point.postcode, point.town = data.postcode.strip(), data.town.strip()
    point.phone = (data.phone or "").strip() or None
    point.active = data.active
    point.opening_hours = [OpeningHours(weekday=w, opens=o, closes=c) for w, _, o, c in sorted(data.hours)]


@atomic
def create_point(data: PointData, *, actor) -> PickupPoint:
    """A new pickup point, with its opening hours."""
    point = PickupPoint(slug=_slug(data.name))
    _apply(point, data)
    db.session.add(point)
    db.session.flush()
    audit.record(actor, "pickup_point.create", point)  # public pages follow by trigger (the "*" version)
    return point


@atomic
def update_point(point: PickupPoint, data: PointData, *, actor) -> None:
    """Change a point. Closing it hides it from the public and from new devices; its history stays.

    A point is closed only once nothing waits there: no device on sale (people could still reserve
    it, to be picked up where nobody is) and no reservation waiting for pickup.
    """
    was_active = point.active
    if was_active and not data.active:
        on_sale, waiting = still_here(point.id)
        if on_sale or waiting:
            raise DomainError(_l("This point cannot be closed yet. Devices on sale here: %(on_sale)d. "
                                 "Reservations waiting for pickup here: %(waiting)d. Move the devices to "
                                 "another point, and hand over or cancel the reservations, then close it.",
                                 on_sale=on_sale, waiting=waiting))
    _apply(point, data)
    db.session.flush()
    audit.record(actor, "pickup_point.update", point, active=point.active)
    if was_active != point.active:
        audit.record(actor, "pickup_point.activate" if point.active else "pickup_point.deactivate", point)


class StillHere(NamedTuple):
    """What keeps a point open."""
    on_sale: int  # devices
    waiting: int  # reservations waiting for pickup


def still_here(point_id: int, now=None) -> StillHere:
    """What keeps a point open: its devices on sale, and its reservations waiting for pickup."""
    now = now or utcnow()
    on_sale = db.session.scalar(sa.select(sa.func.count(Device.id)).where(
        Device.pickup_point_id == point_id, Device.available(now))) or 0
    waiting = db.session.scalar(sa.select(sa.func.count(Reservation.id)).where(
        Reservation.pickup_point_id == point_id, Reservation.is_running(now))) or 0
    return StillHere(on_sale, waiting)
