"""The device lifecycle, enforced here and only here."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, insert, select, update

from shop.extensions import db
from shop.models import (
    Device, DeviceEvent, DeviceStatus, DonationBatch, Donor, DonorKind, ErasureRecord, ErasureResult, PickupPoint,
)
from shop.models.types import utcnow
from shop.services import audit, pricing, webhooks
from shop.services.errors import Conflict, DomainError, NotFound
from shop.services.tx import atomic

S = DeviceStatus

TRANSITIONS: dict[DeviceStatus, frozenset[DeviceStatus]] = {
    S.RECEIVED: frozenset({S.ERASED, S.WITHDRAWN, S.RECYCLED}),
    S.ERASED: frozenset({S.REFURBISHED, S.WITHDRAWN, S.RECYCLED}),
    S.REFURBISHED: frozenset({S.LISTED, S.WITHDRAWN, S.RECYCLED}),
    S.LISTED: frozenset({S.RESERVED, S.REFURBISHED, S.WITHDRAWN}),
    S.RESERVED: frozenset({S.SOLD, S.LISTED}),
    S.WITHDRAWN: frozenset({S.REFURBISHED, S.RECYCLED}),
    # sold → received: a device brought back under an after-sale case (exchanged or refunded).
    S.SOLD: frozenset({S.RECEIVED}),
    S.RECYCLED: frozenset(),
}


def can_transition(from_status: DeviceStatus, to_status: DeviceStatus) -> bool:
    return to_status in TRANSITIONS[DeviceStatus(from_status)]


# Reserving and selling belong to the reservation and the counter, never to a staff button.
MANUAL_TARGETS = frozenset(DeviceStatus) - {S.RESERVED, S.SOLD}


def manual_moves(from_status: DeviceStatus) -> list[DeviceStatus]:
    """The moves staff may make by hand from this status, in lifecycle order. A sold device comes
    back only through an after-sale case, which records why."""
    if DeviceStatus(from_status) == S.SOLD:
        return []
    return [s for s in DeviceStatus if s in TRANSITIONS[DeviceStatus(from_status)] and s in MANUAL_TARGETS]


@atomic
def move_by_hand(device: Device, to_status: DeviceStatus, *, actor: str) -> None:
    """A staff member moves a device along its lifecycle (never to reserved or sold)."""
    if DeviceStatus(to_status) not in manual_moves(device.status):
        raise DomainError(
            _l("A device cannot go from “%(from)s” to “%(to)s”.",
               **{"from": device.status.label, "to": DeviceStatus(to_status).label})
        )
    transition(device.id, device.status, to_status, actor=actor)
    if DeviceStatus(to_status) == S.LISTED:
        offer_to_waitlist([device.id])


def offer_to_waitlist(device_ids: list[int]) -> None:
    """Units just put on sale go to the first people in line for them (shop.services.waitlist)."""
    from shop.services import waitlist  # it builds on this module

    waitlist.offer_units(device_ids=device_ids)


def _check_description(values: dict, *, batch: DonationBatch | None = None, device_id: int | None = None) -> None:
    """The checks shared by adding and editing: the donor's price caps and a unique serial number."""
    if batch is None and values.get("batch_id") is not None:
        batch = db.session.get(DonationBatch, values["batch_id"])
    public_donor = batch is not None and batch.donor.is_public
    try:
        pricing.check_price(values["category"], values["price_cents"], public_donor=public_donor)
    except DomainError as error:
        error.details.setdefault("field", "price")
        raise
    same_serial = select(Device.id).where(Device.serial_number == values["serial_number"])
    if device_id is not None:
        same_serial = same_serial.where(Device.id != device_id)
    if db.session.scalar(same_serial) is not None:
        raise DomainError(_l("A device with this serial number is already in the stock."), field="serial_number")


def add_device(device: Device, *, actor: str | None = None) -> Device:
    """Check a new device's price against its donor's caps (no price: the grid's), store it as
    `received` at an open pickup point, record it."""
    with db.session.no_autoflush:
        batch = device.batch
        if batch is None and device.batch_id is not None:
            batch = db.session.get(DonationBatch, device.batch_id)
        public_donor = batch is not None and batch.donor.is_public
        # No price given: the grid's price for the category and grade (checked against the caps too).
        device.price_cents = pricing.resolve_price(device.category, device.grade, device.price_cents,
                                                   public_donor=public_donor)
        point = db.session.get(PickupPoint, device.pickup_point_id)
        if point is None or not point.active:
            raise DomainError(_l("This pickup point is closed: choose another one."), field="pickup_point")
        values = {name: getattr(device, name) for name in ("category", "price_cents", "serial_number", "batch_id")}
        _check_description(values, batch=batch)
    device.status = S.RECEIVED
    db.session.add(device)
    db.session.flush()
    db.session.add(DeviceEvent(device_id=device.id, from_status=None, to_status=S.RECEIVED, actor=actor))
    db.session.flush()
    return device


# What staff may correct on a device that is not promised to anyone.
EDITABLE_ATTRIBUTES = (
    "category", "brand", "model", "serial_number", "cpu", "ram_gb", "storage_gb", "screen_tenths", "os",
    "keyboard_layout", "grade", "battery_health", "price_cents", "batch_id", "pickup_point_id",
)


@atomic
def edit_device(device: Device, values: dict, *, actor) -> list[str]:
    """Change a device's description with the same checks as when adding it; returns what changed.

    Only a device that is neither reserved nor sold may change: the write is one conditional
    UPDATE on that, so a reservation made meanwhile wins and the edit is refused. The offer key
    is recomputed (identical units regroup) and the catalog's cached pages are dropped.
    """
    unknown = set(values) - set(EDITABLE_ATTRIBUTES)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if not device.editable:
        raise DomainError(_l("This device is reserved or sold: it can no longer be changed."))
    merged = {name: getattr(device, name) for name in EDITABLE_ATTRIBUTES} | values
    if merged.get("price_cents") is None:  # no price given: the grid's, as when adding
        batch = db.session.get(DonationBatch, merged["batch_id"]) if merged.get("batch_id") else None
        merged["price_cents"] = values["price_cents"] = pricing.resolve_price(
            merged["category"], merged["grade"], None, public_donor=batch is not None and batch.donor.is_public)
    if values.get("pickup_point_id", device.pickup_point_id) != device.pickup_point_id:
        point = db.session.get(PickupPoint, values["pickup_point_id"])
        if point is None or not point.active:
            raise DomainError(_l("This pickup point is closed: choose another one."), field="pickup_point")
    _check_description(merged, device_id=device.id)
    changed = sorted(name for name in values if values[name] != getattr(device, name))
    if not changed:
        return []
    merged["offer_key"] = Device(**{k: merged[k] for k in EDITABLE_ATTRIBUTES}).compute_offer_key()
    result = db.session.execute(
        update(Device)
        .where(Device.id == device.id, Device.status.not_in([S.RESERVED, S.SOLD]))
        .values(**{name: merged[name] for name in changed}, offer_key=merged["offer_key"], updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(_l("This device was reserved or changed in the meantime. Please reload and try again."))
    db.session.expire(device)
    audit.record(actor, "device.edited", device, changed=changed)
    return changed


@atomic
def move_many(selection: list[Device], to_status: DeviceStatus, *, actor: str) -> None:
    """Move every selected device to `to_status`, or none of them.

    Every device is checked first and the refusal names each one that cannot make the move and
    why; a device moved by someone else meanwhile makes its conditional UPDATE fail, and the
    savepoint undoes the moves already made.
    """
    to_status = DeviceStatus(to_status)
    if not selection:
        raise DomainError(_l("Please select at least one device."))
    problems = [
        str(_l("%(serial)s cannot go from “%(from)s” to “%(to)s”",
               **{"serial": d.serial_number, "from": d.status.label, "to": to_status.label}))
        for d in selection if to_status not in manual_moves(d.status)
    ]
    if problems:
        raise DomainError(_l("Nothing was changed. %(problems)s.", problems="; ".join(problems)),
                          serials=[d.serial_number for d in selection if to_status not in manual_moves(d.status)])
    for device in selection:
        transition(device.id, device.status, to_status, actor=actor)
    if to_status == S.LISTED:
        offer_to_waitlist([device.id for device in selection])


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
    if to_status == S.LISTED and not has_successful_erasure(device_id):
        raise DomainError(_l("This device cannot be put on sale: no successful data erasure is recorded for it."))
    result = db.session.execute(
        update(Device)
        .where(Device.id == device_id, Device.status == from_status)
        .values(status=to_status, updated_at=utcnow(), held_until=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        exists = db.session.scalar(select(Device.id).where(Device.id == device_id))
        if exists is None:
            raise NotFound(_l("This device does not exist."))
        raise Conflict(_l("This device changed in the meantime. Please reload and try again."))
    event = DeviceEvent(device_id=device_id, from_status=from_status, to_status=to_status, actor=actor, note=note)
    db.session.add(event)
    db.session.flush()
    if to_status in webhooks.EVENTS:  # the refurbisher's system hears of it (after the commit)
        webhooks.device_changed(device_id, to_status, event_id=event.id)
    loaded = db.session.identity_map.get(db.session.identity_key(Device, device_id))
    if loaded is not None:
        db.session.expire(loaded, ["status", "updated_at"])


def has_successful_erasure(device_id: int) -> bool:
    """Whether a successful erasure is recorded for the device: no device goes on sale without one.

    A device that came back after a sale needs a new one: the records it had are superseded at its
    return, and a record typed or imported later counts only if performed on or after the day of
    the return (Paris time), so an old certificate entered again does not count.
    """
    current = select(ErasureRecord.id).where(
        ErasureRecord.device_id == device_id, ErasureRecord.result == ErasureResult.SUCCESS,
        ErasureRecord.superseded_at.is_(None))
    returned_at = db.session.scalar(
        select(sa.func.max(ErasureRecord.superseded_at)).where(ErasureRecord.device_id == device_id))
    if returned_at is not None:
        current = current.where(ErasureRecord.performed_on >= paris_date(returned_at))
    return db.session.scalar(current.limit(1)) is not None


def paris_date(moment):
    """The calendar day in Europe/Paris of a UTC moment (erasure dates are typed as local days)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Paris")).date()


def move_along(device: Device, path: list[DeviceStatus], *, actor: str | None = None) -> None:
    """Apply several transitions in order (used by imports and demo data)."""
    for to_status in path:
        transition(device.id, device.status, to_status, actor=actor)


@dataclass(frozen=True)
class TakenUnit:
    id: int
    pickup_point_id: int
    price_cents: int
    was_held: bool  # taken over from a hold that had run out


# The reserve path runs these statements many times a second: they are built once, because
# building a statement (and its cache key) costs more CPU than sending it, and on the tables
# (SQLAlchemy Core), because the ORM's bulk-UPDATE machinery costs more again and nothing here
# needs it: the caller gets plain values back.
_devices = Device.__table__
_unit = _devices.alias("unit")  # its own name, so the CTE below is not correlated to the UPDATE's table


_FREE_UNIT = (
    select(_unit.c.id, _unit.c.status)
    # `available` with the key inside each branch, so that both use the (status, offer_key) index
    # (otherwise PostgreSQL scans every reserved unit of the shop for the run-out holds).
    .where(sa.or_(sa.and_(_unit.c.status == S.LISTED, _unit.c.offer_key == bindparam("key")),
                  sa.and_(_unit.c.status == S.RESERVED, _unit.c.offer_key == bindparam("key"),
                          _unit.c.held_until <= bindparam("now"))))
    .order_by(_unit.c.status, _unit.c.id)  # `listed` sorts before `reserved`: fresh units first
    .limit(1)
)
_FREE_UNIT_NOT_LOCKED = (
    # On sale only: a unit whose hold ran out is left to the portable path below. With no
    # timestamp in it, one plan fits every call, so PostgreSQL keeps the prepared statement's
    # generic plan instead of planning each call again (0.3-0.4 ms each).
    select(_unit.c.id)
    .where(_unit.c.status == S.LISTED, _unit.c.offer_key == bindparam("key"))
    .order_by(_unit.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
    .cte("candidate")
    # Materialised, so it runs once: as a plain subquery in FROM, a nested loop may run it again
    # for each row and take several units.
    .prefix_with("MATERIALIZED", dialect="postgresql")
)
_TAKE_NOT_LOCKED = (
    update(_devices)
    .where(_devices.c.id == _FREE_UNIT_NOT_LOCKED.c.id, _devices.c.status == S.LISTED)
    .values(status=S.RESERVED, held_until=bindparam("hold_end"), updated_at=bindparam("now"))
    .returning(_devices.c.id, _devices.c.pickup_point_id, _devices.c.price_cents)
)
_TAKE_THIS_ONE = (
    update(_devices)
    .where(_devices.c.id == bindparam("device_id"), Device.available(bindparam("now"), _devices.c))
    .values(status=S.RESERVED, held_until=bindparam("hold_end"), updated_at=bindparam("now"))
    .returning(_devices.c.pickup_point_id, _devices.c.price_cents)
)
_ADD_EVENTS = insert(DeviceEvent.__table__)


def take_unit(offer_key: str, *, held_until, now, actor: str | None = None, attempts: int = 5) -> TakenUnit | None:
    """Hold one available unit of an offer until `held_until`; None if none is left.

    A unit is taken by a conditional UPDATE whose returned row says it was ours. A unit whose
    previous hold ran out is taken over (and its history says so).
    """
    # Parameter names are not column names: in an UPDATE, those would be added to the SET clause.
    params = {"key": offer_key, "now": now, "hold_end": held_until}
    taken = None
    if db.session.get_bind().dialect.name == "postgresql":
        taken = _take_skipping_locked(params)
    if taken is None:
        taken = _take_one_by_one(params, attempts=attempts)
    if taken is None:
        return None
    events = [dict(device_id=taken.id, from_status=S.LISTED, to_status=S.RESERVED, actor=actor, note=None, at=now)]
    if taken.was_held:
        events.insert(0, dict(device_id=taken.id, from_status=S.RESERVED, to_status=S.LISTED,
                              actor=actor, note="hold expired", at=now))
    db.session.execute(_ADD_EVENTS, events)
    return taken


def _take_skipping_locked(params: dict) -> TakenUnit | None:
    """PostgreSQL: one statement picks the first unit on sale nobody is taking right now, and takes it.

    `FOR UPDATE SKIP LOCKED` spreads concurrent takers over the units instead of queuing them on
    the same row; the UPDATE keeps its own condition (true under the row lock). None when no unit
    is on sale, or when all of them are being taken by others: the caller then waits its turn (and
    looks at units whose hold ran out).
    """
    row = db.session.execute(_TAKE_NOT_LOCKED, params).first()
    if row is None:
        return None
    return TakenUnit(id=row.id, pickup_point_id=row.pickup_point_id, price_cents=row.price_cents, was_held=False)


def _take_one_by_one(params: dict, *, attempts: int) -> TakenUnit | None:
    """Any database: read a candidate, then take it with a conditional UPDATE; a concurrent winner
    makes the row count 0 and we try the next one. (SQLite serialises writers anyway.)"""
    for _ in range(attempts):
        candidate = db.session.execute(_FREE_UNIT, params).first()
        if candidate is None:
            return None
        device_id, previous = candidate
        taken = db.session.execute(_TAKE_THIS_ONE, {"device_id": device_id, "now": params["now"],
                                                    "hold_end": params["hold_end"]}).first()
        if taken is not None:
            return TakenUnit(id=device_id, pickup_point_id=taken.pickup_point_id, price_cents=taken.price_cents,
                             was_held=previous == S.RESERVED)
    return None


def set_hold(device_id: int, held_until, *, now) -> bool:
    """Extend or shorten the hold of a reserved unit (payment confirmed, deadline moved)."""
    result = db.session.execute(
        update(Device)
        .where(Device.id == device_id, Device.status == S.RESERVED)
        .values(held_until=held_until, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release(device_id: int, *, actor: str | None = None, note: str | None = None, now=None) -> bool:
    """Put a reserved unit back on sale. The caller has just ended the reservation holding it."""
    result = db.session.execute(
        update(Device)
        .where(Device.id == device_id, Device.status == S.RESERVED)
        .values(status=S.LISTED, held_until=None, updated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        db.session.add(DeviceEvent(device_id=device_id, from_status=S.RESERVED, to_status=S.LISTED,
                                   actor=actor, note=note, at=now or utcnow()))
        db.session.flush()
        return True
    return False


@dataclass(frozen=True)
class Passport:
    """What anyone may know of a device: what it is, the steps of its life, its data erasure.
    Never who gave, handled or bought it."""

    device: Device
    steps: list[tuple]  # (when, status)
    erasure: ErasureRecord | None
    donor_kind: DonorKind | None


def passport(token: str) -> Passport:
    """The public passport of the device with this token, else NotFound."""
    device = db.session.scalar(select(Device).where(Device.passport_token == (token or "")[:24])) if token else None
    if device is None:
        raise NotFound(_l("This device does not exist."))
    steps = db.session.execute(
        select(DeviceEvent.at, DeviceEvent.to_status).where(DeviceEvent.device_id == device.id).order_by(DeviceEvent.id)
    ).all()
    erasure = db.session.scalar(
        select(ErasureRecord).where(ErasureRecord.device_id == device.id, ErasureRecord.result == ErasureResult.SUCCESS,
                                    ErasureRecord.superseded_at.is_(None))
        .order_by(ErasureRecord.performed_on.desc(), ErasureRecord.id.desc()).limit(1)
    )
    donor_kind = db.session.scalar(
        select(Donor.kind).join(DonationBatch, DonationBatch.donor_id == Donor.id).where(DonationBatch.id == device.batch_id)
    ) if device.batch_id else None
    return Passport(device=device, steps=[tuple(s) for s in steps], erasure=erasure, donor_kind=donor_kind)
