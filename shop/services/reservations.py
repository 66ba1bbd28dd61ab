"""Reserving a device with an eligibility code, and everything that happens to a reservation.

States: pending_payment → confirmed → ready → picked_up, with cancelled/expired exits. Every
change is a conditional UPDATE on the expected state, so a replay or a race changes nothing twice.
Holds end by timestamp (`held_until`): an expired hold never blocks anyone, job or not.
"""

import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.models import (
    ACTIVE_STATUSES, Beneficiary, CodeCategory, CodeState, Device, DeviceStatus, EligibilityCode, Payment,
    PaymentChannel, PaymentKind, PaymentMethod, PaymentStatus, Reservation, ReservationStatus, User,
)
from shop.models.types import utcnow
from shop.services import audit, catalog, codes, notifications, slots, yearly_limit
from shop.services import devices as device_service
from shop.services.errors import Conflict, DomainError, NotFound
from shop.services.tx import atomic

R = ReservationStatus
# Stripe Checkout lives at least 30 minutes; our hold outlasts it, so a payment made in time always
# finds its unit still held.
CHECKOUT_LIFETIME = timedelta(minutes=31)
HOLD_FOR_PAYMENT = timedelta(minutes=35)
DEFAULT_PICKUP_DAYS = 14
REMINDER_BEFORE = timedelta(days=2)  # before a pickup deadline
CODE_REMINDER_BEFORE = timedelta(days=7)  # before an unused code ends
LIVE = yearly_limit.LIVE  # running or picked up: holds its code, counts as a purchase
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
# A person's last activity is written at most this often (it only drives retention, in months).
ACTIVITY_RESOLUTION = timedelta(hours=12)


class UnknownCode(DomainError):
    """A well-formed code that matches nothing: counts as a failed attempt."""


class SoldOut(DomainError):
    """The last unit went to someone else; `details["alternatives"]` holds similar offers."""


def pickup_window() -> timedelta:
    return timedelta(days=current_app.config.get("PICKUP_DAYS", DEFAULT_PICKUP_DAYS))


# --- Codes as the key to the shop -----------------------------------------------------------

def open_code(text: str, now: datetime | None = None) -> EligibilityCode:
    """The code a person typed, if it can still be used; a plain refusal otherwise."""
    now = now or utcnow()
    code = codes.find(text)  # InvalidCode on a typo (not a failed attempt)
    if code is None:
        raise UnknownCode(_l("We do not know this code. Check it on your slip, or ask your social worker."))
    check_usable(code, now, allow_live_reservation=True)
    return code


def check_usable(code: EligibilityCode, now: datetime, *, allow_live_reservation: bool = False) -> None:
    state = code.state(now)
    if state == CodeState.EXPIRED:
        raise DomainError(_l("This code has expired. Ask your social worker for a new one."))
    if state == CodeState.REVOKED:
        raise DomainError(_l("This code was cancelled. Ask your social worker for a new one."))
    if state == CodeState.USED and not allow_live_reservation:
        raise DomainError(_l("This code was already used for a device. Ask your social worker if you need another one."))
    if code.beneficiary.anonymised_at is not None:
        raise DomainError(_l("This code cannot be used any more. Ask your social worker."))


def _holding(found: Reservation | None, now: datetime | None) -> Reservation | None:
    """The code's latest reservation in a LIVE status, if it still holds the code now."""
    return found if found is not None and found.holds_code(now or utcnow()) else None


def live_reservation(code_id: int, now: datetime | None = None) -> Reservation | None:
    """The code's reservation that is still running (or picked up), if any."""
    found = db.session.scalar(
        sa.select(Reservation).where(Reservation.code_id == code_id, Reservation.status.in_(LIVE))
        .order_by(Reservation.id.desc()).limit(1)
    )
    return _holding(found, now)


# The code with its holder and its latest running (or picked up) reservation, in one statement:
# the reserve page and the reservation itself need both.
_CODE_AND_LIVE = (
    codes.with_holder()
    .add_columns(Reservation)
    .outerjoin(Reservation, sa.and_(Reservation.code_id == EligibilityCode.id, Reservation.status.in_(LIVE)))
    .where(EligibilityCode.id == sa.bindparam("code_id"))
    .order_by(Reservation.id.desc())
    .limit(1)
)


def code_and_live_reservation(code_id: int, now: datetime | None = None):
    """The code with this id (with its holder) and its `live_reservation`: (None, None) when
    there is no such code."""
    row = db.session.execute(_CODE_AND_LIVE, {"code_id": code_id}).first()
    if row is None:
        return None, None
    code, found = row
    return code, _holding(found, now)


def latest_reservation(code_id: int) -> Reservation | None:
    return db.session.scalar(
        sa.select(Reservation).where(Reservation.code_id == code_id).order_by(Reservation.id.desc()).limit(1)
    )


# --- Reserving --------------------------------------------------------------------------------

def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _expire_rows(where, now: datetime, reason: str) -> list[tuple[int, int]]:
    """End matching active reservations: expired if unpaid online, missed if they awaited pickup
    (nobody came in time). Returns their (id, device_id)."""
    rows = db.session.execute(
        sa.select(Reservation.id, Reservation.device_id, Reservation.status)
        .where(Reservation.status.in_(ACTIVE_STATUSES), *where)
    ).all()
    ended = []
    for reservation_id, device_id, status in rows:
        result = db.session.execute(
            sa.update(Reservation)
            .where(Reservation.id == reservation_id, Reservation.status == status)
            .values(status=R.EXPIRED if status == R.PENDING_PAYMENT else R.MISSED, ended_at=now, end_reason=reason)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            ended.append((reservation_id, device_id))
            if status == R.PENDING_PAYMENT:  # never paid: its pickup time goes to someone else
                slots.give_back(reservation_id)
    return ended


def alternatives(category, *, exclude: str | None = None, limit: int = 3, now=None) -> list:
    """Offers of the same kind on sale, cheapest first (for "sold out" answers, often under load).

    Read from the offer rows in one statement: a cost that does not grow with the stock.
    """
    filters = catalog.OfferFilters(category=category, exclude=exclude)
    return catalog.list_offers(filters, per_page=limit, now=now).offers


def _free_code(rows, now: datetime) -> None:
    """Refuse if the code has a running or picked-up reservation; end its run-out holds, job or not.

    `rows` are the code's live reservations as (id, device_id, status, held_until).
    """
    for reservation_id, device_id, status, held_until in rows:
        if status.value not in ACTIVE_STATUSES or held_until > now:
            raise DomainError(_l("This code already has a reservation. Cancel it first if you want another device."))
        if _expire_rows([Reservation.id == reservation_id], now, "hold expired"):
            device_service.release(device_id, actor="system", note="hold expired", now=now)


_RESERVATIONS_THAT_COUNT = (  # built once: see devices._TAKE_NOT_LOCKED
    sa.select(Reservation.code_id, Reservation.id, Reservation.device_id, Reservation.status,
              Reservation.held_until, Device.category, yearly_limit.REFUNDED.label("refunded"))
    .join(Device, Device.id == Reservation.device_id)
    .where(Reservation.status.in_(LIVE),
           sa.or_(Reservation.code_id == sa.bindparam("code"),
                  sa.and_(Reservation.beneficiary_id == sa.bindparam("person"),
                          Reservation.created_at > sa.bindparam("since"))))
)


def _reservations_that_count(code: EligibilityCode, since: datetime) -> tuple[list, list]:
    """In one query: the code's live reservations, and its holder's other live ones since `since`.

    Returns (rows for `_free_code`, rows for `yearly_limit.check_reserve`). The holder's reservations made
    with this very code are the first list's business, as in `yearly_limit.categories_bought`.
    """
    rows = db.session.execute(_RESERVATIONS_THAT_COUNT,
                              {"code": code.id, "person": code.beneficiary_id, "since": since}).all()
    mine = [(r.id, r.device_id, r.status, r.held_until) for r in rows if r.code_id == code.id]
    others = [(r.category, r.status, r.held_until) for r in rows if r.code_id != code.id and not r.refunded]
    return mine, others


class _DrawAgain(Exception):
    """The random number or pickup code clashed with another reservation's: try again."""


# The unique indexes on the randomly drawn columns, as PostgreSQL and SQLite name a clash on them.
_DRAWN = re.compile(r"uq_reservations_active_pickup_code|uq_reservations_number|"
                    r"reservations\.pickup_code|reservations\.number")
DRAWS = 5


def _clash_on_drawn_column(error: sa.exc.IntegrityError) -> bool:
    diag = getattr(error.orig, "diag", None)  # psycopg names the constraint
    return bool(_DRAWN.search(getattr(diag, "constraint_name", None) or str(error.orig)))


def reserve(code: EligibilityCode, offer_key: str, *, method: PaymentMethod, now: datetime | None = None,
            actor: User | None = None, turn=None, slot_id: int | None = None) -> Reservation:
    """Hold one unit of an offer for the code's holder, and bind the code to it.

    One conditional UPDATE takes the unit; the code binding is guarded by a partial unique index,
    so the same code on two devices at once gives one reservation. Limits are checked again here.
    The pickup code is short (six digits, read aloud at the counter), so it can clash with another
    running reservation's: then everything is undone and tried again with new draws.

    `turn`: a waitlist entry whose turn holds a unit for this code: that very unit is reserved
    (see waitlist.claim_turn), with the same rules; refused once the turn has ended.

    `slot_id`: the pickup time chosen with the reservation, taken in the same transaction (a full
    time undoes the reservation). At a point that requires a time, none is refused before anything
    is taken (`slots.TimeRequired`, naming the point, so the page can offer its times).
    """
    for _ in range(DRAWS):
        try:
            return _reserve(code, offer_key, method=method, now=now, actor=actor, turn=turn, slot_id=slot_id)
        except _DrawAgain:
            pass
    raise Conflict(_l("Many people are reserving right now. Please try again."))


def times_to_choose(point, now: datetime | None = None) -> "slots.TimesToChoose | None":
    """The pickup times a reservation made now at `point` can take (before its pickup deadline)."""
    now = now or utcnow()
    return slots.choices_before(point, until=now + pickup_window(), now=now)


def reserve_again(missed: Reservation, *, actor: User | None = None, now: datetime | None = None,
                  slot_id: int | None = None) -> Reservation:
    """A pickup nobody came for: the same offer again, with the same code, paid at the counter.
    Only a missed reservation can be made again (anything else: not found)."""
    if missed.status != ReservationStatus.MISSED:
        raise NotFound(_l("Page not found"))
    return reserve(missed.code, missed.device.offer_key, method=PaymentMethod.COUNTER, now=now, actor=actor,
                   slot_id=slot_id)


@atomic
def _reserve(code: EligibilityCode, offer_key: str, *, method: PaymentMethod, now: datetime | None,
             actor: User | None, turn=None, slot_id: int | None = None) -> Reservation:
    now = now or utcnow()
    method = PaymentMethod(method)
    check_usable(code, now)
    category = catalog.offer_category(offer_key)
    if category is None:
        raise NotFound(_l("This device does not exist."))
    if not code.allows(category):
        raise DomainError(_l("Your code does not allow this kind of device. It allows: %(allowed)s.",
                             allowed=", ".join(str(c.label) for c in code.category_list)))
    mine, others = _reservations_that_count(code, now - yearly_limit.WINDOW)
    _free_code(mine, now)
    yearly_limit.check_reserve(category, others, now)
    if slot_id is None:
        slots.require_time(offer_key)
    held_until = now + (HOLD_FOR_PAYMENT if method == PaymentMethod.CARD_ONLINE else pickup_window())
    if turn is not None:
        from shop.services import waitlist

        device = waitlist.claim_turn(turn, code, held_until=held_until, now=now)
    else:
        device = device_service.take_unit(offer_key, held_until=held_until, now=now,
                                          actor=actor.email if actor else "beneficiary")
    if device is None:
        raise SoldOut(_l("Sorry, someone else has just reserved the last one."),
                      alternatives=alternatives(category, exclude=offer_key, now=now))
    if device.was_held:  # the unit comes from someone's run-out hold: end that reservation first
        _expire_rows([Reservation.device_id == device.id], now, "hold expired; unit taken by another reservation")
    values = dict(
        number=_random(NUMBER_ALPHABET, 6), pickup_code=_random("0123456789", 6),
        device_id=device.id, code_id=code.id,
        beneficiary_id=code.beneficiary_id, organisation_id=code.organisation_id,
        pickup_point_id=device.pickup_point_id, payment_method=method, amount_cents=device.price_cents,
        status=R.PENDING_PAYMENT if method == PaymentMethod.CARD_ONLINE else R.CONFIRMED,
        confirmed_at=None if method == PaymentMethod.CARD_ONLINE else now,
        held_until=held_until, created_at=now, created_by_id=actor.id if actor else None,
    )
    try:
        reservation = db.session.scalars(_ADD_RESERVATION, [values]).one()
    except sa.exc.IntegrityError as error:
        if _clash_on_drawn_column(error):
            raise _DrawAgain() from None
        # Lost a race: the code was bound a moment ago.
        raise Conflict(_l("This code already has a reservation. Cancel it first if you want another device.")) from None
    if slot_id is not None:  # paid online, the deadline starts with the payment: never before this
        slots.take_for_new(reservation, slot_id, until=now + pickup_window(), now=now, actor=actor)
    _touch(code.beneficiary, now)
    audit.record(actor, "reservation.create", reservation, organisation_id=code.organisation_id,
                 method=method.value, on_behalf=actor is not None)
    if reservation.status == R.CONFIRMED:  # an online payment confirms it later, from the webhook
        notifications.reservation_confirmed(reservation)
    return reservation


# One INSERT ... RETURNING that hands back the ORM object, without a unit-of-work flush.
_ADD_RESERVATION = sa.insert(Reservation).returning(Reservation)
_people = Beneficiary.__table__
_TOUCH = sa.update(_people).where(_people.c.id == sa.bindparam("person")).values(last_activity_at=sa.bindparam("now"))


def _touch(person: Beneficiary, now: datetime) -> None:
    """Note the person's activity (retention counts from it), at most once per ACTIVITY_RESOLUTION.

    The value only ever moves forward, so a recent value read with the code is enough to skip the
    write; retention periods are counted in months.
    """
    if person.last_activity_at is not None and person.last_activity_at > now - ACTIVITY_RESOLUTION:
        return
    db.session.execute(_TOUCH, {"person": person.id, "now": now})


def get_by_number(number: str, *, with_device: bool = False) -> Reservation | None:
    """The reservation with this number; `with_device` reads its device in the same statement."""
    statement = sa.select(Reservation).where(Reservation.number == (number or "").upper()[:12])
    if with_device:
        statement = statement.options(joinedload(Reservation.device, innerjoin=True))
    return db.session.scalar(statement)


# --- Moving a reservation along -------------------------------------------------------------

def _move(reservation: Reservation, expected: tuple[ReservationStatus, ...], new: ReservationStatus, **values) -> bool:
    result = db.session.execute(
        sa.update(Reservation)
        .where(Reservation.id == reservation.id, Reservation.status.in_(expected))
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(reservation)
    return result.rowcount == 1


def record_online_payment(reservation: Reservation, *, amount_cents: int, reference: str, now: datetime | None = None) -> str:
    """A card payment succeeded. Confirm if the hold is still this reservation's; else flag a refund.

    Returns what happened: "confirmed", "duplicate" or "refund_due". Safe to call twice.
    """
    now = now or utcnow()
    existing = db.session.scalar(
        sa.select(Payment.id).where(Payment.provider_reference == reference, Payment.kind == PaymentKind.PAYMENT)
    )
    if existing is not None:
        return "duplicate"
    db.session.add(Payment(reservation_id=reservation.id, kind=PaymentKind.PAYMENT, channel=PaymentChannel.STRIPE,
                           status=PaymentStatus.DONE, amount_cents=amount_cents, provider_reference=reference, created_at=now))
    deadline = now + pickup_window()
    # Still ours if nobody ended it — even a little late: nobody else holds the unit meanwhile.
    if _move(reservation, (R.PENDING_PAYMENT,), R.CONFIRMED, confirmed_at=now, held_until=deadline,
             paid_cents=min(amount_cents, reservation.amount_cents)):
        device_service.set_hold(reservation.device_id, deadline, now=now)
        audit.record(None, "reservation.paid_online", reservation, organisation_id=reservation.organisation_id)
        return "confirmed"
    db.session.add(Payment(reservation_id=reservation.id, kind=PaymentKind.REFUND, channel=PaymentChannel.STRIPE,
                           status=PaymentStatus.PENDING, amount_cents=amount_cents, provider_reference=reference,
                           note="paid after the hold ended", created_at=now))
    audit.record(None, "reservation.refund_due", reservation, organisation_id=reservation.organisation_id)
    return "refund_due"


def end_unpaid_checkout(reservation: Reservation, now: datetime | None = None) -> bool:
    """The online checkout expired unpaid: release the unit and the code. Safe to call twice."""
    now = now or utcnow()
    if _move(reservation, (R.PENDING_PAYMENT,), R.EXPIRED, ended_at=now, end_reason="checkout expired"):
        slots.give_back(reservation.id)
        device_service.release(reservation.device_id, actor="stripe", note="checkout expired", now=now)
        _offer_to_waitlist([reservation.device_id], now)
        return True
    return False


@atomic
def cancel(reservation: Reservation, *, reason: str, actor: User | None = None, now: datetime | None = None) -> int:
    """Cancel before pickup; frees the unit and the code. Returns cents to refund (paid online)."""
    now = now or utcnow()
    if reservation.state(now) not in (R.PENDING_PAYMENT, R.CONFIRMED, R.READY):
        raise DomainError(_l("This reservation cannot be cancelled any more."))
    paid = reservation.paid_cents
    if not _move(reservation, tuple(ReservationStatus(s) for s in ACTIVE_STATUSES), R.CANCELLED,
                 ended_at=now, end_reason=(reason or "")[:200]):
        raise Conflict(_l("This reservation changed in the meantime. Please reload the page."))
    slots.give_back(reservation.id)
    device_service.release(reservation.device_id, actor=actor.email if actor else "beneficiary", note="cancelled", now=now)
    _offer_to_waitlist([reservation.device_id], now)
    audit.record(actor, "reservation.cancel", reservation, organisation_id=reservation.organisation_id,
                 reason=(reason or "")[:200], refund_cents=paid)
    return paid


def expire_holds(now: datetime | None = None) -> int:
    """Release every unit whose hold ran out (the site already ignores them), for the people in
    line first; a reservation nobody came for (deadline, or chosen time plus a grace period)
    becomes missed. Safe to run twice."""
    now = now or utcnow()
    ended = _expire_rows([Reservation.held_until <= now], now, "hold expired")
    # A chosen pickup time that passed (plus a grace period) without pickup: missed too.
    late = [reservation_id for reservation_id, _ in slots.missed_slot_reservations(now)]
    if late:
        ended += _expire_rows([Reservation.id.in_(late)], now, "pickup time missed")
    for _, device_id in ended:
        device_service.release(device_id, actor="expire-holds", note="hold expired", now=now)
    slots.tell_missed([reservation_id for reservation_id, _ in ended])
    _offer_to_waitlist([device_id for _, device_id in ended], now)
    return len(ended)


def _offer_to_waitlist(device_ids: list[int], now: datetime) -> None:
    """Units back on sale go to the first people in line for them (see waitlist.offer_units)."""
    from shop.services import waitlist

    waitlist.offer_units(device_ids=device_ids, now=now)


def due_reminders(now: datetime | None = None) -> tuple[list[Reservation], list[EligibilityCode]]:
    """Reservations whose pickup deadline comes within two days, and active codes ending within seven, not yet reminded."""
    now = now or utcnow()
    soon = now + REMINDER_BEFORE
    reservations = list(db.session.scalars(
        sa.select(Reservation).where(
            Reservation.awaits_pickup(now), Reservation.held_until <= soon, Reservation.reminder_sent_at.is_(None))
    ))
    expiring = list(db.session.scalars(
        sa.select(EligibilityCode).where(
            EligibilityCode.is_valid(now), EligibilityCode.expires_at <= now + CODE_REMINDER_BEFORE, EligibilityCode.reminder_sent_at.is_(None))
    ))
    return reservations, expiring


def mark_reminded(item, now: datetime) -> bool:
    """Claim the reminder (conditional UPDATE), so two runs never send it twice."""
    model = type(item)
    result = db.session.execute(
        sa.update(model).where(model.id == item.id, model.reminder_sent_at.is_(None))
        .values(reminder_sent_at=now).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def queue_due_reminders(now: datetime | None = None) -> int:
    """Queue the reminders now due (pickup deadline in two days, unused code ending in seven), each once.

    Claiming a reminder and queueing its messages happen in the same transaction: if the messages
    cannot be delivered now, they wait in the outbox; nothing is marked done that was not queued.
    """
    now = now or utcnow()
    due_reservations, due_codes = due_reminders(now)
    queued = 0
    for reservation in due_reservations:
        if mark_reminded(reservation, now):
            queued += len(notifications.pickup_reminder(reservation))
    for code in due_codes:
        if mark_reminded(code, now):
            queued += len(notifications.code_ending(code))
    return queued


# --- At the pickup point ------------------------------------------------------------------------

@atomic
def mark_ready(reservation: Reservation, *, actor: User, now: datetime | None = None) -> None:
    """Staff prepared the device: it waits at the counter."""
    now = now or utcnow()
    if reservation.state(now) != R.CONFIRMED:
        raise DomainError(_l("Only a confirmed reservation can be marked ready."))
    if not _move(reservation, (R.CONFIRMED,), R.READY, ready_at=now):
        raise Conflict(_l("This reservation changed in the meantime. Please reload the page."))
    audit.record(actor, "reservation.ready", reservation, organisation_id=reservation.organisation_id)
    notifications.reservation_ready(reservation)


@atomic
def hand_over(reservation: Reservation, *, actor: User, channel: PaymentChannel | None = None,
              now: datetime | None = None) -> None:
    """Hand the device over: take what is due at the counter, device `sold`, code `used` — all or nothing."""
    now = now or utcnow()
    if reservation.state(now) not in (R.CONFIRMED, R.READY):
        raise DomainError(_l("This reservation cannot be handed over: it is not confirmed, or its time has run out."))
    due = reservation.amount_due_cents
    if due > 0:
        if channel is None or PaymentChannel(channel) == PaymentChannel.STRIPE:
            raise DomainError(_l("Record how the amount due was paid (cash, card terminal or cheque)."))
        db.session.add(Payment(reservation_id=reservation.id, kind=PaymentKind.PAYMENT, channel=PaymentChannel(channel),
                               status=PaymentStatus.DONE, amount_cents=due, recorded_by_id=actor.id, created_at=now))
    if not _move(reservation, (R.CONFIRMED, R.READY), R.PICKED_UP, picked_up_at=now,
                 paid_cents=reservation.amount_cents, ended_at=now):
        raise Conflict(_l("This reservation changed in the meantime. Please reload the page."))
    device_service.transition(reservation.device_id, DeviceStatus.RESERVED, DeviceStatus.SOLD, actor=actor.email)
    result = db.session.execute(
        sa.update(EligibilityCode)
        .where(EligibilityCode.id == reservation.code_id, EligibilityCode.status == CodeState.ACTIVE)
        .values(status=CodeState.USED, used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(_l("This code was already used or cancelled. Nothing was handed over."))
    audit.record(actor, "reservation.hand_over", reservation, organisation_id=reservation.organisation_id,
                 paid_at_counter=due, channel=PaymentChannel(channel).value if due else None)
