"""The device lifecycle, enforced here and only here."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from shop.extensions import db
from shop.models import Device, DeviceEvent, DeviceStatus, DonationBatch
from shop.models.types import utcnow
from shop.services import pricing
from shop.services.errors import Conflict, DomainError, NotFound

S = DeviceStatus

TRANSITIONS: dict[DeviceStatus, frozenset[DeviceStatus]] = {
    S.RECEIVED: frozenset({S.ERASED, S.WITHDRAWN, S.RECYCLED}),
    S.ERASED: frozenset({S.REFURBISHED, S.WITHDRAWN, S.RECYCLED}),
    S.REFURBISHED: frozenset({S.LISTED, S.WITHDRAWN, S.RECYCLED}),
    S.LISTED: frozenset({S.RESERVED, S.REFURBISHED, S.WITHDRAWN}),
    S.RESERVED: frozenset({S.SOLD, S.LISTED}),
    S.WITHDRAWN: frozenset({S.REFURBISHED, S.RECYCLED}),
    S.SOLD: frozenset(),
    S.RECYCLED: frozenset(),
}


def can_transition(from_status: DeviceStatus, to_status: DeviceStatus) -> bool:
    return to_status in TRANSITIONS[DeviceStatus(from_status)]


def add_device(device: Device, *, actor: str | None = None) -> Device:
    """Check a new device's price against its donor's caps, store it as `received`, record it."""
    with db.session.no_autoflush:
        batch = device.batch
        if batch is None and device.batch_id is not None:
            batch = db.session.get(DonationBatch, device.batch_id)
        public_donor = batch is not None and batch.donor.is_public
    pricing.check_price(device.category, device.price_cents, public_donor=public_donor)
    device.status = S.RECEIVED
    db.session.add(device)
    db.session.flush()
    db.session.add(DeviceEvent(device_id=device.id, from_status=None, to_status=S.RECEIVED, actor=actor))
    db.session.flush()
    return device


def transition(
    device_id: int,
    from_status: DeviceStatus,
    to_status: DeviceStatus,
    *,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Move one device from `from_status` to `to_status`, atomically, and record it.

    The move is a single conditional UPDATE: if another transaction moved the device first,
    the row count is 0 and Conflict is raised, so a unit can never be taken twice.
    """
    from_status, to_status = DeviceStatus(from_status), DeviceStatus(to_status)
    if not can_transition(from_status, to_status):
        raise DomainError(
            _l("A device cannot go from “%(from)s” to “%(to)s”.", **{"from": from_status.label, "to": to_status.label})
        )
    result = db.session.execute(
        update(Device)
        .where(Device.id == device_id, Device.status == from_status)
        .values(status=to_status, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        exists = db.session.scalar(select(Device.id).where(Device.id == device_id))
        if exists is None:
            raise NotFound(_l("This device does not exist."))
        raise Conflict(_l("This device changed in the meantime. Please reload and try again."))
    db.session.add(
        DeviceEvent(device_id=device_id, from_status=from_status, to_status=to_status, actor=actor, note=note)
    )
    db.session.flush()
    loaded = db.session.identity_map.get(db.session.identity_key(Device, device_id))
    if loaded is not None:
        db.session.expire(loaded, ["status", "updated_at"])


def move_along(device: Device, path: list[DeviceStatus], *, actor: str | None = None) -> None:
    """Apply several transitions in order (used by imports and demo data)."""
    for to_status in path:
        transition(device.id, device.status, to_status, actor=actor)
