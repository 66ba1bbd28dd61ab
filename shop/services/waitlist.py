"""The waitlist: scarce devices shared by turns, in the order people joined, not by click speed.

A person (or their social worker) joins a queue for a kind of device at a pickup point, or at any
point of its town, with an optional maximum price. When a unit becomes available it is offered to
the first person in line whose code still allows it: the unit is held for that person alone for
WAITLIST_HOLD_HOURS, exactly as the catalog understands a hold (`reserved` with `held_until`, no
reservation row), so nobody else can take it and it is free again by timestamp if nobody acts.

Taking a turn is two conditional UPDATEs with a row-count check: the entry `waiting → offered`
and the unit `listed → reserved`. Partial unique indexes hold the invariants too: one place per
code and kind of device, and at most one turn on a unit at a time.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.models import (
    ACTIVE_STATUSES, Category, CodeState, Device, DeviceEvent, DeviceStatus, EligibilityCode, PickupPoint,
    Reservation, User, WaitlistEntry, WaitlistStatus,
)
from shop.models.types import utcnow
from shop.models.waitlist import IN_LINE, MAX_PRICE_CENTS
from shop.services import audit, catalog
from shop.services.errors import Conflict, DomainError, NotFound
from shop.services.tx import atomic

W = WaitlistStatus
S = DeviceStatus
DEFAULT_HOLD_HOURS = 48
_LIVE_RESERVATION = (*ACTIVE_STATUSES, "picked_up")


def hold_window() -> timedelta:
    return timedelta(hours=current_app.config.get("WAITLIST_HOLD_HOURS", DEFAULT_HOLD_HOURS))


# --- The one place where the waitlist changes a device ---------------------------------------

_devices = Device.__table__


def set_unit(device_id: int, *, expect: DeviceStatus, status: DeviceStatus, held_until: datetime | None,
             now: datetime, expect_held_until: datetime | None = None, note: str | None = None) -> bool:
    """Move a unit for the waitlist: one conditional UPDATE on its expected status (and, for a unit
    held by a turn, on that turn's `held_until`, which says the hold is still the turn's own).

    Every device change the waitlist makes goes through here, so the catalog's work on each status
    change can be hooked in one place. Returns whether the unit was ours to move.
    """
    where = [_devices.c.id == device_id, _devices.c.status == expect]
    if expect_held_until is not None:
        where.append(_devices.c.held_until == expect_held_until)
    result = db.session.execute(
        sa.update(_devices).where(*where).values(status=status, held_until=held_until, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    if status != expect:
        db.session.execute(sa.insert(DeviceEvent.__table__), [dict(
            device_id=device_id, from_status=expect, to_status=status, actor="waitlist", note=note, at=now)])
    # No stock_changed(): the devices' triggers move this unit's own scope (kind and point) in this
    # transaction, so the cached pages of other kinds and points stay.
    loaded = db.session.identity_map.get(db.session.identity_key(Device, device_id))
    if loaded is not None:
        db.session.expire(loaded, ["status", "held_until", "updated_at"])
    return True


# --- Messages --------------------------------------------------------------------------------

def _tell(person, key: str, values: dict, *, about, dedupe_key: str) -> None:
    """Tell a person about their place or turn: the waitlist's only way out.

    Queued in the outbox in this transaction (a text when the person agreed to texts, an e-mail
    when they gave an address), delivered after the commit; nothing is queued if it rolls back.
    The kind of device is named in the person's own language here, as the templates expect."""
    from shop.services import outbox

    with force_locale(person.language):
        shown = {**values, "category": str(Category(values["category"]).label)}
    if isinstance(shown.get("hold_until"), str):  # the outbox stores moments itself (zone and all)
        shown["hold_until"] = datetime.fromisoformat(shown["hold_until"])
    outbox.queue_for_beneficiary(person, key, shown, about=about, dedupe_key=dedupe_key)


# --- Joining and leaving ---------------------------------------------------------------------

def _check_code(code: EligibilityCode, now: datetime) -> None:
    state = code.state(now)
    if state == CodeState.EXPIRED:
        raise DomainError(_l("This code has expired. Ask your social worker for a new one."))
    if state == CodeState.REVOKED:
        raise DomainError(_l("This code was cancelled. Ask your social worker for a new one."))
    if state == CodeState.USED:
        raise DomainError(_l("This code was already used for a device. Ask your social worker if you need another one."))
    if code.beneficiary.anonymised_at is not None:
        raise DomainError(_l("This code cannot be used any more. Ask your social worker."))


def _code_is_busy(code_id: int, now: datetime) -> bool:
    """Whether the code has a running (or picked-up) reservation: it cannot take a turn now."""
    rows = db.session.execute(
        sa.select(Reservation.status, Reservation.held_until)
        .where(Reservation.code_id == code_id, Reservation.status.in_(_LIVE_RESERVATION))
    ).all()
    return any(status.value == "picked_up" or held_until > now for status, held_until in rows)


@atomic
def join(code: EligibilityCode, category, pickup_point_id, *, any_point_in_town: bool = False,
         max_price_cents: int | None = None, actor: User | None = None, now: datetime | None = None) -> WaitlistEntry:
    """Put the code's holder in the queue for a kind of device at a pickup point.

    Refusals name the field they are about (`details["field"]`), so a form shows them in place.
    A unit already on sale that fits is offered at once (the person may be first in line).
    """
    now = now or utcnow()
    _check_code(code, now)
    try:
        category = Category(category)
    except ValueError:
        raise DomainError(_l("Choose a kind of device from the list."), field="category") from None
    if not code.allows(category):
        raise DomainError(_l("Your code does not allow this kind of device. It allows: %(allowed)s.",
                             allowed=", ".join(str(c.label) for c in code.category_list)), field="category")
    point = db.session.get(PickupPoint, pickup_point_id) if isinstance(pickup_point_id, int) else None
    if point is None or not point.active:
        raise DomainError(_l("Choose a pickup point from the list."), field="pickup_point")
    if max_price_cents is not None and (not isinstance(max_price_cents, int) or not 0 <= max_price_cents <= MAX_PRICE_CENTS):
        raise DomainError(_l("Give a maximum price between 0 and %(most)s euros, or leave it empty.",
                             most=MAX_PRICE_CENTS // 100), field="max_price")
    if _code_is_busy(code.id, now):
        raise DomainError(_l("This code already has a reservation. Cancel it first if you want another device."))
    if _in_line(code.id, category) is not None:
        raise DomainError(_l("You are already in the queue for this kind of device."), field="category")
    entry = WaitlistEntry(beneficiary_id=code.beneficiary_id, code_id=code.id, organisation_id=code.organisation_id,
                          category=category, pickup_point_id=point.id, any_point_in_town=bool(any_point_in_town),
                          max_price_cents=max_price_cents, status=W.WAITING, joined_at=now,
                          joined_by_id=actor.id if actor else None)
    db.session.add(entry)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:  # the same code joined a moment ago (a double click)
        raise Conflict(_l("You are already in the queue for this kind of device."), field="category") from None
    audit.record(actor, "waitlist.join", entry, organisation_id=code.organisation_id, category=category.value,
                 on_behalf=actor is not None)
    offered = offer_units(category=category, now=now)
    if entry not in offered:
        _tell(code.beneficiary, "waitlist_joined",
              {"category": category.value, "point": point.name, "place": place(entry)},
              about=entry, dedupe_key=f"waitlist_joined:{entry.id}")
    return entry


def _in_line(code_id: int, category: Category) -> WaitlistEntry | None:
    return db.session.scalar(sa.select(WaitlistEntry).where(
        WaitlistEntry.code_id == code_id, WaitlistEntry.category == category, WaitlistEntry.status.in_(IN_LINE)))


def _end(entry: WaitlistEntry, status: WaitlistStatus, reason: str, now: datetime,
         expected: tuple = (W.WAITING, W.OFFERED)) -> bool:
    """End a place (conditional on its status); a turn running gives its unit back for the next."""
    was = dict(status=entry.status, device_id=entry.device_id, offer_until=entry.offer_until)
    result = db.session.execute(
        sa.update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status.in_(expected))
        .values(status=status, ended_at=now, end_reason=reason[:200])
        .execution_options(synchronize_session=False)
    )
    db.session.expire(entry)
    if result.rowcount != 1:
        return False
    if was["status"] == W.OFFERED:
        # Back on sale only if the hold is still this turn's: a run-out hold may have been taken.
        set_unit(was["device_id"], expect=S.RESERVED, expect_held_until=was["offer_until"], status=S.LISTED,
                 held_until=None, now=now, note="waitlist turn ended")
    return True


@atomic
def leave(entry: WaitlistEntry, *, actor: User | None = None, now: datetime | None = None) -> None:
    """The person (or their social worker) leaves the queue; a unit held for them goes to the next."""
    now = now or utcnow()
    device_id = entry.device_id
    if not _end(entry, W.LEFT, "left the queue", now):
        raise Conflict(_l("You are no longer in this queue."))
    audit.record(actor, "waitlist.leave", entry, organisation_id=entry.organisation_id, on_behalf=actor is not None)
    if device_id is not None:
        offer_units(device_ids=[device_id], now=now)


# --- Offering --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Unit:
    id: int
    category: Category
    pickup_point_id: int
    town: str
    price_cents: int
    title: str


def _serialise_offering() -> None:
    """One offering run at a time (PostgreSQL; SQLite serialises writers anyway).

    The conditional UPDATEs already make a double offer impossible; the lock keeps two runs from
    taking entries and units in opposite orders and deadlocking, and keeps queue order exact.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(728310412)"))


def _fits(entry: WaitlistEntry, unit: _Unit, towns: dict[int, str]) -> bool:
    if entry.category != unit.category:
        return False
    if entry.max_price_cents is not None and unit.price_cents > entry.max_price_cents:
        return False
    if entry.pickup_point_id == unit.pickup_point_id:
        return True
    return entry.any_point_in_town and towns.get(entry.pickup_point_id) == unit.town


def _gone_reason(entry: WaitlistEntry, now: datetime) -> tuple[WaitlistStatus, str] | None:
    """Why a code can no longer hold a place (the entry then leaves by itself), or None."""
    code = entry.code
    state = code.state(now)
    if state == CodeState.EXPIRED:
        return W.EXPIRED, "code expired"
    if state in (CodeState.REVOKED, CodeState.USED):
        return W.LEFT, f"code {state.value}"
    if code.beneficiary.anonymised_at is not None:
        return W.LEFT, "person's data erased"
    if not code.allows(entry.category):
        return W.LEFT, "code no longer allows this kind of device"
    return None


def _busy_codes(code_ids: set[int], now: datetime) -> set[int]:
    if not code_ids:
        return set()
    rows = db.session.execute(
        sa.select(Reservation.code_id, Reservation.status, Reservation.held_until)
        .where(Reservation.code_id.in_(code_ids), Reservation.status.in_(_LIVE_RESERVATION))
    ).all()
    return {code_id for code_id, status, held_until in rows if status.value == "picked_up" or held_until > now}


def offer_units(*, device_ids=None, category: Category | None = None, now: datetime | None = None) -> list[WaitlistEntry]:
    """Offer units on sale to the people waiting for them, first come first served.

    `device_ids`: the units that just became available; else every unit on sale of `category`
    (or of every kind someone waits for). Each unit goes to the first waiting entry, in joining
    order, whose code still allows it and whose point (or town) and maximum price fit. Entries
    whose code ended leave by themselves. Returns the entries that got a turn.
    """
    now = now or utcnow()
    if device_ids is not None and not device_ids:
        return []
    waiting_query = (sa.select(WaitlistEntry).where(WaitlistEntry.status == W.WAITING)
                     .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
                     .options(selectinload(WaitlistEntry.code).selectinload(EligibilityCode.beneficiary)))
    if category is not None:
        waiting_query = waiting_query.where(WaitlistEntry.category == Category(category))
    anyone = sa.select(WaitlistEntry.id).where(WaitlistEntry.status == W.WAITING)
    if category is not None:
        anyone = anyone.where(WaitlistEntry.category == Category(category))
    if not db.session.scalar(sa.select(sa.exists(anyone))):
        return []
    if device_ids is None and category is not None and not db.session.scalar(sa.select(sa.exists(
            sa.select(Device.id).where(Device.status == S.LISTED, Device.category == Category(category))))):
        return []  # someone joined a queue whose kind is sold out: nothing to offer  # the usual case: nobody waits, so no lock and nothing more to read
    _serialise_offering()
    waiting = list(db.session.scalars(waiting_query))  # read under the lock: the previous run's turns are seen
    if not waiting:
        return []
    points = db.session.execute(sa.select(PickupPoint.id, PickupPoint.town)).all()
    towns = {point_id: town for point_id, town in points}
    units_query = (
        sa.select(Device.id, Device.category, Device.pickup_point_id, Device.price_cents, Device.brand, Device.model)
        .where(Device.status == S.LISTED)
        .order_by(Device.id)
    )
    if device_ids is not None:
        units_query = units_query.where(Device.id.in_(list(device_ids)))
    else:
        units_query = units_query.where(Device.category.in_({e.category for e in waiting}))
    units = [_Unit(r.id, r.category, r.pickup_point_id, towns.get(r.pickup_point_id, ""), r.price_cents,
                   f"{r.brand} {r.model}") for r in db.session.execute(units_query)]
    busy = _busy_codes({e.code_id for e in waiting}, now)
    done: set[int] = set()
    offered = []
    until = now + hold_window()
    for unit in units:
        for entry in waiting:
            if entry.id in done or not _fits(entry, unit, towns):
                continue
            gone = _gone_reason(entry, now)
            if gone is not None:
                _end(entry, *gone, now, expected=(W.WAITING,))
                done.add(entry.id)
                continue
            if entry.code_id in busy:
                continue  # a reservation running with this code: it cannot take a turn now
            taken = _take_turn(entry, unit, until, now)
            if taken is None:  # the entry changed meanwhile (left, or served by another run)
                done.add(entry.id)
                continue
            if taken:
                done.add(entry.id)
                offered.append(entry)
            break  # the unit is held for this entry, or somebody else took it: next unit
    return offered


def _take_turn(entry: WaitlistEntry, unit: _Unit, until: datetime, now: datetime) -> bool | None:
    """Hold `unit` for `entry`: True if done, None if the entry is no longer waiting, False if the
    unit was taken by someone else (the entry keeps its place)."""
    claimed = db.session.execute(
        sa.update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == W.WAITING)
        .values(status=W.OFFERED, device_id=unit.id, offered_at=now, offer_until=until)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not claimed:
        db.session.expire(entry)
        return None
    if not set_unit(unit.id, expect=S.LISTED, status=S.RESERVED, held_until=until, now=now, note="waitlist turn"):
        db.session.execute(
            sa.update(WaitlistEntry).where(WaitlistEntry.id == entry.id, WaitlistEntry.status == W.OFFERED)
            .values(status=W.WAITING, device_id=None, offered_at=None, offer_until=None)
            .execution_options(synchronize_session=False)
        )
        db.session.expire(entry)
        return False
    db.session.expire(entry)
    point = db.session.get(PickupPoint, unit.pickup_point_id)
    audit.record(None, "waitlist.turn", entry, organisation_id=entry.organisation_id, device_id=unit.id)
    _tell(entry.beneficiary, "waitlist_turn", {
        "category": unit.category.value, "point": point.name, "address": point.address, "town": point.town,
        "hold_until": until.isoformat(), "price_cents": unit.price_cents, "link": turn_link(entry),
    }, about=entry, dedupe_key=f"waitlist_turn:{entry.id}:{unit.id}")
    return True


def turn_link(entry: WaitlistEntry) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + f"/reserve/turn/{entry.token}"


# --- Reserving a held unit -------------------------------------------------------------------

def claim_turn(entry: WaitlistEntry, code: EligibilityCode, *, held_until: datetime, now: datetime):
    """Turn the entry's running turn into the unit of a reservation (called by the reservation
    service, inside its transaction). The entry moves `offered → reserved` only while the turn runs;
    the unit keeps `reserved`, its hold becoming the reservation's. Refused if the turn ended."""
    from shop.services.devices import TakenUnit

    if entry.code_id != code.id:
        raise NotFound(_l("This device is not held for this code."))
    offer_until, device_id = entry.offer_until, entry.device_id
    claimed = db.session.execute(
        sa.update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == W.OFFERED, WaitlistEntry.offer_until > now)
        .values(status=W.RESERVED, ended_at=now, end_reason="reserved")
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.expire(entry)
    if not claimed:
        raise DomainError(_l("Your turn for this device has ended, so it went to the next person in line. "
                             "You can join the queue again."))
    if not set_unit(device_id, expect=S.RESERVED, expect_held_until=offer_until, status=S.RESERVED,
                    held_until=held_until, now=now):
        raise Conflict(_l("This device changed in the meantime. Please reload the page."))
    unit = db.session.execute(sa.select(Device.pickup_point_id, Device.price_cents).where(Device.id == device_id)).one()
    return TakenUnit(id=device_id, pickup_point_id=unit.pickup_point_id, price_cents=unit.price_cents, was_held=False)


def by_token(token: str) -> WaitlistEntry | None:
    if not token or len(token) > 24:
        return None
    return db.session.scalar(sa.select(WaitlistEntry).where(WaitlistEntry.token == token))


# --- The sweep (expire-holds) ----------------------------------------------------------------

def sweep(now: datetime | None = None) -> dict[str, int]:
    """Turns that ran out go to the next in line; places whose code ended leave by themselves;
    units on sale are offered to whoever waits. Safe to run twice; run by `expire-holds`."""
    now = now or utcnow()
    counts = {"left": 0, "turns_ended": 0, "offered": 0}
    in_line = list(db.session.scalars(
        sa.select(WaitlistEntry).where(WaitlistEntry.status.in_(IN_LINE))
        .options(selectinload(WaitlistEntry.code).selectinload(EligibilityCode.beneficiary))
        .order_by(WaitlistEntry.id)
    ))
    busy = _busy_codes({e.code_id for e in in_line if e.status == W.OFFERED}, now)
    freed = []
    for entry in in_line:
        gone = _gone_reason(entry, now)
        device_id = entry.device_id
        if gone is not None:
            if _end(entry, *gone, now):
                counts["left"] += 1
                freed.append(device_id)
        elif entry.status == W.OFFERED and entry.code_id in busy:
            # The person reserved another device with this code: the held unit goes on.
            if _end(entry, W.LEFT, "reserved another device", now, expected=(W.OFFERED,)):
                counts["left"] += 1
                freed.append(device_id)
        elif entry.status == W.OFFERED and entry.offer_until <= now:
            if _end_turn(entry, now):
                counts["turns_ended"] += 1
                freed.append(device_id)
    counts["offered"] = len(offer_units(now=now))
    return counts


def _end_turn(entry: WaitlistEntry, now: datetime) -> bool:
    """A turn ran out: the place ends (conditional on the turn having run out, so a reservation
    made in time wins), the unit goes back for the next in line, and the person is told."""
    device_id, offer_until = entry.device_id, entry.offer_until
    result = db.session.execute(
        sa.update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == W.OFFERED, WaitlistEntry.offer_until <= now)
        .values(status=W.EXPIRED, ended_at=now, end_reason="turn ran out")
        .execution_options(synchronize_session=False)
    )
    db.session.expire(entry)
    if result.rowcount != 1:
        return False
    set_unit(device_id, expect=S.RESERVED, expect_held_until=offer_until, status=S.LISTED, held_until=None,
             now=now, note="waitlist turn ran out")
    point = db.session.get(PickupPoint, entry.pickup_point_id)
    _tell(entry.beneficiary, "waitlist_turn_ended", {"category": entry.category.value, "point": point.name},
          about=entry, dedupe_key=f"waitlist_turn_ended:{entry.id}")
    return True


# --- What people see ---------------------------------------------------------------------------

def place(entry: WaitlistEntry) -> int | None:
    """1 for the first in line: waiting entries of the same queue (kind, point) who joined earlier."""
    if entry.status != W.WAITING:
        return None
    ahead = db.session.scalar(
        sa.select(sa.func.count(WaitlistEntry.id)).where(
            WaitlistEntry.status == W.WAITING, WaitlistEntry.category == entry.category,
            WaitlistEntry.pickup_point_id == entry.pickup_point_id,
            sa.or_(WaitlistEntry.joined_at < entry.joined_at,
                   sa.and_(WaitlistEntry.joined_at == entry.joined_at, WaitlistEntry.id < entry.id)))
    )
    return ahead + 1


def places(entries) -> dict[int, int]:
    """Places of several entries (entry id → place), for lists."""
    return {e.id: p for e in entries if (p := place(e)) is not None}


def for_code(code_id: int) -> list[WaitlistEntry]:
    """The code's places in line (waiting, or with a unit held), oldest first."""
    return list(db.session.scalars(
        sa.select(WaitlistEntry).where(WaitlistEntry.code_id == code_id, WaitlistEntry.status.in_(IN_LINE))
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
    ))


def in_line_for(beneficiary_id: int) -> list[WaitlistEntry]:
    """A person's places in line over all their codes."""
    return list(db.session.scalars(
        sa.select(WaitlistEntry).where(WaitlistEntry.beneficiary_id == beneficiary_id,
                                       WaitlistEntry.status.in_(IN_LINE))
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
    ))


def for_organisation(organisation_id: int) -> list[WaitlistEntry]:
    """A structure's people in line, for its social workers' dashboard."""
    return list(db.session.scalars(
        sa.select(WaitlistEntry).where(WaitlistEntry.organisation_id == organisation_id,
                                       WaitlistEntry.status.in_(IN_LINE))
        .options(selectinload(WaitlistEntry.beneficiary), selectinload(WaitlistEntry.pickup_point),
                 selectinload(WaitlistEntry.device))
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
    ))


@dataclass(frozen=True)
class QueueFigures:
    point: PickupPoint
    category: Category
    waiting: int
    held: int
    median_wait_days: float | None  # from joining to a turn, over the last 12 months
    median_waiting_days: float | None  # how long the people waiting now have waited


def queue_figures(now: datetime | None = None) -> list[QueueFigures]:
    """Each queue's length per pickup point and kind of device, and its wait in days (medians)."""
    now = now or utcnow()
    since = now - timedelta(days=365)
    rows = db.session.execute(
        sa.select(WaitlistEntry.pickup_point_id, WaitlistEntry.category, WaitlistEntry.status,
                  WaitlistEntry.joined_at, WaitlistEntry.offered_at)
        .where(sa.or_(WaitlistEntry.status.in_(IN_LINE), WaitlistEntry.offered_at > since))
    ).all()
    groups: dict[tuple, dict] = {}
    for point_id, category, status, joined_at, offered_at in rows:
        group = groups.setdefault((point_id, category), {"waiting": [], "held": 0, "served": []})
        if status == W.WAITING:
            group["waiting"].append((now - joined_at).total_seconds() / 86400)
        elif status == W.OFFERED:
            group["held"] += 1
        if offered_at is not None:
            group["served"].append((offered_at - joined_at).total_seconds() / 86400)
    points = {p.id: p for p in db.session.scalars(sa.select(PickupPoint).where(PickupPoint.id.in_({k[0] for k in groups})))}
    figures = [
        QueueFigures(point=points[point_id], category=category, waiting=len(g["waiting"]), held=g["held"],
                     median_wait_days=round(median(g["served"]), 1) if g["served"] else None,
                     median_waiting_days=round(median(g["waiting"]), 1) if g["waiting"] else None)
        for (point_id, category), g in groups.items() if g["waiting"] or g["held"] or g["served"]
    ]
    return sorted(figures, key=lambda f: (f.point.name, list(Category).index(f.category)))


def unit_title(entry: WaitlistEntry) -> str:
    return entry.device.title if entry.device is not None else ""
