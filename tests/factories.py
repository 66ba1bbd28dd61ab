"""Small factories for tests: each returns a flushed object with sensible defaults."""

import itertools
from datetime import date, time

from shop.extensions import db
from shop.models import (
    Category, Device, DeviceStatus, DonationBatch, Donor, DonorKind, Grade, OpeningHours, PickupPoint,
)
from shop.services import devices as device_service

_seq = itertools.count(1)


def pickup_point(**overrides) -> PickupPoint:
    n = next(_seq)
    values = dict(slug=f"point-{n}", name=f"Point {n}", address=f"{n} rue de la Paix", postcode="57000",
                  town="Metz", phone="03 87 00 00 00")
    values.update(overrides)
    point = PickupPoint(**values)
    point.opening_hours = [OpeningHours(weekday=2, opens=time(9), closes=time(12))]
    db.session.add(point)
    db.session.flush()
    return point


def batch(*, public: bool = True, **overrides) -> DonationBatch:
    n = next(_seq)
    donor = Donor(name=f"Donor {n}", kind=DonorKind.PUBLIC_BODY if public else DonorKind.COMPANY)
    values = dict(donor=donor, reference=f"B-{n}", received_on=date(2026, 1, 15), declared_count=10)
    values.update(overrides)
    item = DonationBatch(**values)
    db.session.add(item)
    db.session.flush()
    return item


S = DeviceStatus
_TO_LISTED = [S.ERASED, S.REFURBISHED, S.LISTED]
PATHS = {
    S.RECEIVED: [], S.ERASED: _TO_LISTED[:1], S.REFURBISHED: _TO_LISTED[:2], S.LISTED: _TO_LISTED,
    S.RESERVED: _TO_LISTED + [S.RESERVED], S.SOLD: _TO_LISTED + [S.RESERVED, S.SOLD],
    S.WITHDRAWN: [S.WITHDRAWN], S.RECYCLED: [S.RECYCLED],
}


def device(*, point: PickupPoint | None = None, status: DeviceStatus = DeviceStatus.LISTED, **overrides) -> Device:
    """A device taken through the real lifecycle service up to `status`."""
    n = next(_seq)
    values = dict(
        serial_number=f"SN-{n:06d}", category=Category.LAPTOP, brand="Lenovo", model="ThinkPad T480",
        cpu="Intel Core i5-8350U", ram_gb=8, storage_gb=256, screen_tenths=140, os="Windows 11",
        grade=Grade.B, battery_health=85, price_cents=12000,
    )
    values.update(overrides)
    if point is None and "pickup_point_id" not in values:
        point = pickup_point()
    if point is not None:
        values["pickup_point_id"] = point.id
    item = Device(**values)
    device_service.add_device(item, actor="test")
    device_service.move_along(item, PATHS[status], actor="test")
    return item
