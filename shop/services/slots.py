"""Pickup slots: weekly templates, closures and extra slots per point; people take a place.

A template ("Tuesdays 14:00-17:00, 15-minute slots, 2 people each") is materialised as
`pickup_slots` rows for the next HORIZON_DAYS (when an admin saves it, and by `expire-holds`).
Taking a place is one conditional UPDATE (`booked < capacity`), and the database refuses
`booked > capacity`. `booked` always equals the number of reservations that point at the slot: a
cancelled reservation gives its place back; a picked-up or missed one keeps it (it happened).
Times are stored in UTC and read in Europe/Paris, where the counters are.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from shop.extensions import db
from shop.models import (
    OfferRow, PickupPoint, PickupSlot, Reservation, ReservationStatus, SlotClosure, SlotMode, SlotTemplate,
    User,
)
from shop.models.types import is_row_id, utcnow
from shop.services import audit, notifications, outbox
from shop.services.errors import Conflict, DomainError, NotFound
from shop.services.tx import atomic

PARIS = ZoneInfo("Europe/Paris")
HORIZON_DAYS = 21
DEFAULT_GRACE_MINUTES = 120  # a person late by less than this is still expected
R = ReservationStatus
AWAITING = (R.CONFIRMED, R.READY)


def grace() -> timedelta:
    return timedelta(minutes=current_app.config.get("SLOT_GRACE_MINUTES", DEFAULT_GRACE_MINUTES))


def local_day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def _at(day: date, minute: int) -> datetime:
    """The UTC instant of `minute` past midnight, Paris time, on `day` (DST handled by zoneinfo)."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    return naive.replace(tzinfo=PARIS).astimezone(ZoneInfo("UTC"))


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    return _at(day, 0), _at(day + timedelta(days=1), 0)


def mode(point: PickupPoint) -> SlotMode:
    return SlotMode(point.slot_mode or "off")


# --- Admin: templates, closures, extra slots -----------------------------------------------------

@atomic
def set_mode(point: PickupPoint, value: str, *, actor: User | None) -> None:
    try:
        point.slot_mode = SlotMode(value).value
    except ValueError:
        raise DomainError(_l("Choose one of the options.")) from None
    db.session.flush()
    audit.record(actor, "slots.mode", point, mode=point.slot_mode)


def _check_capacity(capacity: int | None) -> None:
    if capacity is None or capacity < 1 or capacity > 100:
        raise DomainError(_l("The number of people per slot must be between 1 and 100."), field="capacity")


@atomic
def add_template(point: PickupPoint, *, weekday: int, start_minute: int, end_minute: int, slot_minutes: int,
                 capacity: int, actor: User | None, now: datetime | None = None) -> SlotTemplate:
    """A weekly opening split into slots; refused if it overlaps another template of that weekday."""
    now = now or utcnow()
    _check_capacity(capacity)
    if weekday not in range(7):
        raise DomainError(_l("Choose one of the options."))
    if not (0 <= start_minute < end_minute <= 24 * 60):
        raise DomainError(_l("The end must come after the start."), field="end")
    if not (5 <= slot_minutes <= end_minute - start_minute):
        raise DomainError(_l("A slot lasts at least 5 minutes and fits between the start and the end."),
                          field="minutes")
    clash = db.session.scalar(sa.select(sa.func.count(SlotTemplate.id)).where(
        SlotTemplate.pickup_point_id == point.id, SlotTemplate.weekday == weekday,
        SlotTemplate.start_minute < end_minute, SlotTemplate.end_minute > start_minute))
    if clash:
        raise DomainError(_l("These hours overlap other hours of the same day."), field="start")
    template = SlotTemplate(pickup_point_id=point.id, weekday=weekday, start_minute=start_minute,
                            end_minute=end_minute, slot_minutes=slot_minutes, capacity=capacity)
    db.session.add(template)
    db.session.flush()
    materialise(point.id, now=now)
    audit.record(actor, "slots.template_add", point, weekday=weekday, start=start_minute, end=end_minute,
                 minutes=slot_minutes, capacity=capacity)
    return template


@atomic
def remove_template(template: SlotTemplate, *, actor: User, now: datetime | None = None) -> int:
    """Remove weekly hours and their future slots; people booked there are asked to choose again."""
    now = now or utcnow()
    slot_ids = list(db.session.scalars(sa.select(PickupSlot.id).where(
        PickupSlot.template_id == template.id, PickupSlot.starts_at > now)))
    told = _empty_slots(slot_ids, now)
    audit.record(actor, "slots.template_remove", template.pickup_point, template=template.id, told=told)
    db.session.delete(template)
    db.session.flush()
    return told


@atomic
def add_closure(point: PickupPoint, *, day: date | None, reason: str, actor: User,
                now: datetime | None = None) -> int:
    """Close a day: its slots go; the people booked are told and asked to choose again. Returns how many."""
    now = now or utcnow()
    reason = (reason or "").strip()[:120]
    if day is None:
        raise DomainError(_l("Enter a date."))
    if day < local_day(now):
        raise DomainError(_l("This date has passed."))
    if not reason:
        raise DomainError(_l("Say why the point is closed."))
    if db.session.scalar(sa.select(SlotClosure.id).where(SlotClosure.pickup_point_id == point.id,
                                                         SlotClosure.day == day)):
        raise DomainError(_l("This day is already closed."))
    db.session.add(SlotClosure(pickup_point_id=point.id, day=day, reason=reason))
    start, end = _day_bounds(day)
    slot_ids = list(db.session.scalars(sa.select(PickupSlot.id).where(
        PickupSlot.pickup_point_id == point.id, PickupSlot.starts_at >= max(start, now), PickupSlot.starts_at < end)))
    told = _empty_slots(slot_ids, now)
    audit.record(actor, "slots.closure_add", point, day=day.isoformat(), told=told)
    return told


@atomic
def remove_closure(closure: SlotClosure, *, actor: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    point_id = closure.pickup_point_id
    audit.record(actor, "slots.closure_remove", db.session.get(PickupPoint, point_id), day=closure.day.isoformat())
    db.session.delete(closure)
    db.session.flush()
    materialise(point_id, now=now)


@atomic
def add_extra_slot(point: PickupPoint, *, day: date | None, start_minute: int | None, minutes: int | None,
                   capacity: int | None, actor: User, now: datetime | None = None) -> PickupSlot:
    """A one-off slot (a busy week, a special opening)."""
    now = now or utcnow()
    _check_capacity(capacity)
    if day is None or start_minute is None:
        raise DomainError(_l("Enter a date and a time."))
    if not minutes or not (5 <= minutes <= 24 * 60):
        raise DomainError(_l("A slot lasts at least 5 minutes and fits between the start and the end."))
    starts_at = _at(day, start_minute)
    if starts_at <= now:
        raise DomainError(_l("This date has passed."))
    if db.session.scalar(sa.select(SlotClosure.id).where(SlotClosure.pickup_point_id == point.id,
                                                         SlotClosure.day == day)):
        raise DomainError(_l("The point is closed that day."))
    if db.session.scalar(sa.select(PickupSlot.id).where(PickupSlot.pickup_point_id == point.id,
                                                        PickupSlot.starts_at == starts_at)):
        raise DomainError(_l("There is already a slot at this time."))
    slot = PickupSlot(pickup_point_id=point.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
                      capacity=capacity, booked=0, created_at=now)
    db.session.add(slot)
    db.session.flush()
    audit.record(actor, "slots.extra_add", point, starts_at=starts_at.isoformat(), capacity=capacity)
    return slot


def _empty_slots(slot_ids: list[int], now: datetime) -> int:
    """Delete slots; the reservations booked in them lose their time and, if still awaiting
    pickup, their holders are told to choose again. Nothing is dropped silently."""
    if not slot_ids:
        return 0
    booked = list(db.session.scalars(
        sa.select(Reservation).where(Reservation.slot_id.in_(slot_ids))
        .options(selectinload(Reservation.slot), selectinload(Reservation.beneficiary),
                 selectinload(Reservation.pickup_point))))
    told = 0
    for reservation in booked:
        if reservation.status in AWAITING:
            told += 1
            notifications.slot_closed(reservation, reservation.slot.starts_at)
    db.session.execute(sa.update(Reservation).where(Reservation.slot_id.in_(slot_ids)).values(slot_id=None)
                       .execution_options(synchronize_session="fetch"))
    db.session.execute(sa.delete(PickupSlot).where(PickupSlot.id.in_(slot_ids))
                       .execution_options(synchronize_session="fetch"))
    return told


def _insert_ignoring_existing(rows: list[dict]) -> None:
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(PickupSlot).values(rows)
                       .on_conflict_do_nothing(index_elements=["pickup_point_id", "starts_at"]))


def materialise(point_id: int, *, now: datetime | None = None, days: int = HORIZON_DAYS) -> None:
    """Create the slots of the point's templates for the next `days` days (closed days skipped).
    Safe to run twice and concurrently: an existing slot is left as it is."""
    now = now or utcnow()
    templates = list(db.session.scalars(sa.select(SlotTemplate).where(SlotTemplate.pickup_point_id == point_id)))
    if not templates:
        return
    first = local_day(now)
    closed = set(db.session.scalars(sa.select(SlotClosure.day).where(
        SlotClosure.pickup_point_id == point_id, SlotClosure.day >= first)))
    rows = []
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        if day in closed:
            continue
        for template in templates:
            if template.weekday != day.weekday():
                continue
            minute = template.start_minute
            while minute + template.slot_minutes <= template.end_minute:
                starts_at = _at(day, minute)
                if starts_at > now:
                    rows.append(dict(pickup_point_id=point_id, starts_at=starts_at,
                                     ends_at=_at(day, minute + template.slot_minutes),
                                     capacity=template.capacity, booked=0, template_id=template.id, created_at=now))
                minute += template.slot_minutes
    _insert_ignoring_existing(rows)


def materialise_all(now: datetime | None = None) -> None:
    """Every point with slots on: keep HORIZON_DAYS of slots ahead (run by `expire-holds`)."""
    for point_id in db.session.scalars(sa.select(PickupPoint.id).where(PickupPoint.slot_mode != "off")):
        materialise(point_id, now=now)


def overview(point: PickupPoint, now) -> dict:
    """What admins and the point's staff see: weekly hours, closed days, the next 7 days' slots."""
    return dict(
        templates=db.session.scalars(sa.select(SlotTemplate).where(SlotTemplate.pickup_point_id == point.id)
                                     .order_by(SlotTemplate.weekday, SlotTemplate.start_minute)).all(),
        closures=db.session.scalars(sa.select(SlotClosure).where(SlotClosure.pickup_point_id == point.id,
                                                                 SlotClosure.day >= local_day(now))
                                    .order_by(SlotClosure.day)).all(),
        coming=db.session.scalars(sa.select(PickupSlot).where(
            PickupSlot.pickup_point_id == point.id, PickupSlot.starts_at > now,
            PickupSlot.starts_at < now + timedelta(days=7)).order_by(PickupSlot.starts_at)).all(),
        mode=mode(point),
    )


# --- People: the slots with room, taking and changing a place ------------------------------------

SLOT_LIST_LIMIT = 40


def free_slots(point_id: int, *, until: datetime, now: datetime | None = None,
               limit: int = SLOT_LIST_LIMIT) -> list[PickupSlot]:
    """The coming slots with room at a point, before `until` (the pickup deadline), soonest first.
    One query, whatever the number of reservations."""
    now = now or utcnow()
    return list(db.session.scalars(
        sa.select(PickupSlot).where(PickupSlot.pickup_point_id == point_id, PickupSlot.starts_at > now,
                                    PickupSlot.starts_at < until, PickupSlot.booked < PickupSlot.capacity)
        .order_by(PickupSlot.starts_at).limit(limit)))


def _by_day(found: list[PickupSlot]) -> list[list[PickupSlot]]:
    days: dict[date, list[PickupSlot]] = {}
    for slot in found:
        days.setdefault(local_day(slot.starts_at), []).append(slot)
    return list(days.values())


def choices(reservation: Reservation, now: datetime | None = None, *, point=None) -> list[list[PickupSlot]] | None:
    """The free slots for this reservation grouped by day (Paris), or None when it takes no slot.
    `point`: its pickup point, when the caller already has it (else it is loaded)."""
    now = now or utcnow()
    if not offers_slots(reservation, now, point=point):
        return None
    return _by_day(free_slots(reservation.pickup_point_id, until=reservation.held_until, now=now))


@dataclass
class TimesToChoose:
    """The times a reservation still to be made can take at a point, and whether it must take one."""

    days: list[list[PickupSlot]]  # free slots grouped by day (Paris), soonest first
    required: bool

    @property
    def reservable(self) -> bool:
        """False at a point that requires a time and has none free: nobody can reserve there now."""
        return bool(self.days) or not self.required


def choices_before(point: PickupPoint, *, until: datetime, now: datetime | None = None) -> TimesToChoose | None:
    """The free slots of a point before `until` (the pickup deadline), for a reservation still to
    be made; None when the point takes no pickup times."""
    if mode(point) == SlotMode.OFF:
        return None
    return TimesToChoose(_by_day(free_slots(point.id, until=until, now=now)), mode(point) == SlotMode.REQUIRED)


def offers_slots(reservation: Reservation, now: datetime | None = None, *, point=None) -> bool:
    """Whether the person can choose (or change) a pickup time for this reservation now."""
    return mode(point or reservation.pickup_point) != SlotMode.OFF and reservation.awaits_pickup(now)


_TAKE_PLACE = (sa.update(PickupSlot.__table__)
               .where(PickupSlot.__table__.c.id == sa.bindparam("slot"),
                      PickupSlot.__table__.c.booked < PickupSlot.__table__.c.capacity,
                      PickupSlot.__table__.c.starts_at > sa.bindparam("now"))
               .values(booked=PickupSlot.__table__.c.booked + 1))
_GIVE_BACK = (sa.update(PickupSlot.__table__)
              .where(PickupSlot.__table__.c.id == sa.bindparam("slot"), PickupSlot.__table__.c.booked > 0)
              .values(booked=PickupSlot.__table__.c.booked - 1))


class TimeRequired(DomainError):
    """The point hands devices over at chosen times only, and no time was chosen."""


_POINT_OF_OFFER = (sa.select(PickupPoint.__table__.c.id, PickupPoint.__table__.c.slot_mode)
                   .join(OfferRow.__table__, OfferRow.__table__.c.pickup_point_id == PickupPoint.__table__.c.id)
                   .where(OfferRow.__table__.c.offer_key == sa.bindparam("key")))


def require_time(offer_key: str) -> None:
    """Refuse a reservation without a time at a point where one is required, before anything is
    taken; the refusal names the point, so the page can offer its times."""
    point = db.session.execute(_POINT_OF_OFFER, {"key": offer_key}).first()
    if point is not None and point.slot_mode == SlotMode.REQUIRED.value:
        raise TimeRequired(_l("Choose a pickup time."), field="slot", point_id=point.id)


@atomic
def choose(reservation: Reservation, slot_id: int, *, actor: User | None = None,
           now: datetime | None = None) -> PickupSlot:
    """Take a place in a slot for the reservation (or move it there from its current slot)."""
    now = now or utcnow()
    if not offers_slots(reservation, now):
        raise DomainError(_l("The pickup time of this reservation cannot be changed."))
    slot = _take(reservation, slot_id, until=reservation.held_until, now=now, actor=actor, expected=AWAITING)
    _tell(reservation, "slot_chosen", slot.starts_at, dedupe=f"slot_chosen:{reservation.id}:{slot.id}")
    return slot


def take_for_new(reservation: Reservation, slot_id: int, *, until: datetime, now: datetime,
                 actor: User | None) -> PickupSlot:
    """The time chosen with a reservation being made (same transaction). The confirmation message
    gives the time, so no second message is sent."""
    return _take(reservation, slot_id, until=until, now=now, actor=actor,
                 expected=(R.PENDING_PAYMENT, *AWAITING))


def _take(reservation: Reservation, slot_id: int, *, until: datetime, now: datetime, actor: User | None,
          expected: tuple[ReservationStatus, ...]) -> PickupSlot:
    """The place is taken by one conditional UPDATE (room left, slot still to come); then the
    reservation is moved from the slot it had (compare-and-set on `slot_id`), then the old place is
    given back. Any refusal undoes all three (the caller's transaction)."""
    where = dict(field="slot", point_id=reservation.pickup_point_id)  # so a page can offer the times again
    # An id from a form: anything but a plausible row id (None, 2**63…) is simply not offered.
    slot = db.session.get(PickupSlot, slot_id) if is_row_id(slot_id) else None
    if slot is None or slot.pickup_point_id != reservation.pickup_point_id:
        raise NotFound(_l("This time is not offered at your pickup point."), **where)
    if slot.starts_at <= now:
        raise DomainError(_l("This time has passed. Choose another one."), **where)
    if slot.starts_at >= until:
        raise DomainError(_l("This time is after the pickup deadline. Choose an earlier one."), **where)
    previous = reservation.slot_id
    if previous == slot.id:
        return slot
    if db.session.execute(_TAKE_PLACE, {"slot": slot.id, "now": now}).rowcount != 1:
        raise Conflict(_l("This time is full now. Choose another one."), **where)
    moved = db.session.execute(
        sa.update(Reservation)
        .where(Reservation.id == reservation.id,
               Reservation.slot_id == previous if previous is not None else Reservation.slot_id.is_(None),
               Reservation.status.in_(expected))
        .values(slot_id=slot.id).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Conflict(_l("This reservation changed in the meantime. Please reload the page."))
    if previous is not None:
        db.session.execute(_GIVE_BACK, {"slot": previous})
    # The rows changed in SQL; the loaded objects follow without another write.
    db.session.expire(slot, ["booked"])
    set_committed_value(reservation, "slot_id", slot.id)
    set_committed_value(reservation, "slot", slot)
    audit.record(actor, "reservation.slot", reservation, organisation_id=reservation.organisation_id,
                 starts_at=slot.starts_at.isoformat(), changed=previous is not None)
    return slot


def give_back(reservation_id: int) -> None:
    """The reservation ended before pickup (cancelled, payment expired): free its place."""
    slot_id = db.session.scalar(sa.select(Reservation.slot_id).where(Reservation.id == reservation_id))
    if slot_id is None:
        return
    cleared = db.session.execute(
        sa.update(Reservation).where(Reservation.id == reservation_id, Reservation.slot_id == slot_id)
        .values(slot_id=None).execution_options(synchronize_session=False))
    if cleared.rowcount == 1:
        db.session.execute(_GIVE_BACK, {"slot": slot_id})


def _tell(reservation: Reservation, key: str, starts_at: datetime, *, dedupe: str) -> None:
    person, point = reservation.beneficiary, reservation.pickup_point
    if not outbox.reachable(person, key):
        return
    outbox.queue_for_beneficiary(person, key, dict(name=person.display_name, number=reservation.number,
                                                   point=point.name, town=point.town, when=starts_at,
                                                   pickup_code=reservation.pickup_code),
                                 about=reservation, dedupe_key=dedupe)


# --- Missed pickups ------------------------------------------------------------------------------

def tell_missed(reservation_ids: list[int]) -> None:
    """Tell the people whose reservation was just marked missed (the device is back on sale)."""
    if not reservation_ids:
        return
    for reservation in db.session.scalars(
            sa.select(Reservation).where(Reservation.id.in_(reservation_ids), Reservation.status == R.MISSED)
            .options(selectinload(Reservation.beneficiary), selectinload(Reservation.pickup_point))):
        _tell(reservation, "pickup_missed", reservation.ended_at, dedupe=f"pickup_missed:{reservation.id}")


MISSED_SHOWN_FOR = timedelta(days=30)
REPEAT_WINDOW = timedelta(days=365)


@dataclass
class MissedPickup:
    reservation: Reservation
    missed_in_a_year: int

    @property
    def repeated(self) -> bool:
        """Two missed pickups in 12 months: a signal for the worker, never a block."""
        return self.missed_in_a_year >= 2


def missed_for_organisation(organisation_id: int, now: datetime | None = None) -> list[MissedPickup]:
    """The structure's pickups missed in the last 30 days whose code has not reserved again."""
    now = now or utcnow()
    missed, later = aliased(Reservation), aliased(Reservation)
    again = sa.select(later.id).where(later.code_id == missed.code_id,
                                      later.status.in_([R.PENDING_PAYMENT, R.CONFIRMED, R.READY, R.PICKED_UP]))
    rows = list(db.session.scalars(
        sa.select(missed).where(missed.organisation_id == organisation_id, missed.status == R.MISSED,
                                missed.ended_at >= now - MISSED_SHOWN_FOR, ~again.exists())
        .options(selectinload(missed.beneficiary), selectinload(missed.device))
        .order_by(missed.ended_at.desc()).limit(50)))
    counts = missed_count([r.beneficiary_id for r in rows], since=now - REPEAT_WINDOW)
    return [MissedPickup(r, counts.get(r.beneficiary_id, 0)) for r in rows]


def missed_slot_reservations(now: datetime) -> list[tuple[int, int]]:
    """(id, device_id) of reservations awaiting pickup whose slot ended more than the grace ago."""
    return db.session.execute(
        sa.select(Reservation.id, Reservation.device_id).join(PickupSlot, PickupSlot.id == Reservation.slot_id)
        .where(Reservation.status.in_(AWAITING), PickupSlot.ends_at <= now - grace())).all()


def without_time_for_organisation(organisation_id: int, now: datetime | None = None) -> list[Reservation]:
    """The structure's reservations awaiting pickup at a point that requires a time, with none: their
    time was closed (a holiday) or the point began requiring times after they reserved. The worker
    chooses one with the person, who may not have been reachable by message."""
    now = now or utcnow()
    return list(db.session.scalars(
        sa.select(Reservation).join(PickupPoint, PickupPoint.id == Reservation.pickup_point_id)
        .where(Reservation.organisation_id == organisation_id, Reservation.slot_id.is_(None),
               PickupPoint.slot_mode == SlotMode.REQUIRED.value, Reservation.awaits_pickup(now))
        .options(selectinload(Reservation.beneficiary), selectinload(Reservation.device))
        .order_by(Reservation.held_until).limit(50)))


# --- Staff: today's slots ------------------------------------------------------------------------

@dataclass
class BoardSlot:
    slot: PickupSlot
    reservations: list[Reservation]


def today(point_id: int, now: datetime | None = None) -> list[BoardSlot]:
    """Today's slots at a point in order, each with who comes (and what to prepare). Two statements."""
    now = now or utcnow()
    start, end = _day_bounds(local_day(now))
    slots = list(db.session.scalars(
        sa.select(PickupSlot).where(PickupSlot.pickup_point_id == point_id, PickupSlot.starts_at >= start,
                                    PickupSlot.starts_at < end).order_by(PickupSlot.starts_at)))
    by_slot = {slot.id: BoardSlot(slot, []) for slot in slots}
    if by_slot:
        for reservation in db.session.scalars(
                sa.select(Reservation).where(Reservation.slot_id.in_(list(by_slot)),
                                             Reservation.status.in_([*AWAITING, R.PICKED_UP]))
                # Joined, not "selectin": many-to-one, and one statement however many people come.
                .options(joinedload(Reservation.device), joinedload(Reservation.beneficiary))
                .order_by(Reservation.id)):
            by_slot[reservation.slot_id].reservations.append(reservation)
    return list(by_slot.values())


# --- Reports -------------------------------------------------------------------------------------

@dataclass
class NoShowLine:
    point: str
    month: str  # YYYY-MM, Paris time
    missed: int
    ended: int  # picked up + missed

    @property
    def rate(self) -> float:
        return self.missed / self.ended if self.ended else 0.0


def no_shows(*, since: datetime, now: datetime | None = None) -> list[NoShowLine]:
    """Missed pickups per point and per month (among reservations that were picked up or missed)."""
    rows = db.session.execute(
        sa.select(PickupPoint.name, Reservation.status, Reservation.ended_at)
        .join(PickupPoint, PickupPoint.id == Reservation.pickup_point_id)
        .where(Reservation.status.in_([R.MISSED, R.PICKED_UP]), Reservation.ended_at >= since)).all()
    lines: dict[tuple[str, str], NoShowLine] = {}
    for name, status, ended_at in rows:
        month = ended_at.astimezone(PARIS).strftime("%Y-%m")
        line = lines.setdefault((name, month), NoShowLine(name, month, 0, 0))
        line.ended += 1
        line.missed += status == R.MISSED
    return sorted(lines.values(), key=lambda line: (line.month, line.point), reverse=False)


def missed_count(beneficiary_ids: list[int], *, since: datetime) -> dict[int, int]:
    """How many pickups each person missed since `since` (two in 12 months is a signal for the worker)."""
    if not beneficiary_ids:
        return {}
    return dict(db.session.execute(
        sa.select(Reservation.beneficiary_id, sa.func.count(Reservation.id))
        .where(Reservation.beneficiary_id.in_(beneficiary_ids), Reservation.status == R.MISSED,
               Reservation.ended_at >= since).group_by(Reservation.beneficiary_id)).all())

