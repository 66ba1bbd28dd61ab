"""Pickup slots and missed pickups: the service rules, races on the last place, query counts."""

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from shop.models import (
    DeviceStatus, EligibilityCode, Message, PaymentMethod, PickupSlot, Reservation, ReservationStatus, Role,
    SlotTemplate,
)
from shop.services import reservations, slots
from shop.services.errors import Conflict, DomainError, NotFound
from tests import factories
from tests.concurrency import race_each

R = ReservationStatus
# A Monday 08:00 in Paris (07:00 UTC in winter): the tests' clock.
MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=timezone.utc)


@pytest.fixture
def admin(db):
    return factories.user(Role.ADMIN)


def _point(admin, *, capacity=1, mode="optional", weekday=0, start=9 * 60, end=10 * 60, minutes=15):
    point = factories.pickup_point()
    slots.set_mode(point, mode, actor=admin)
    slots.add_template(point, weekday=weekday, start_minute=start, end_minute=end, slot_minutes=minutes,
                       capacity=capacity, actor=admin, now=MONDAY)
    return point


def _reserve(point, now=MONDAY, **code_args):
    device = factories.device(point=point, model=f"Model {factories._seq.__next__()}")
    code, _ = factories.code(**code_args)
    return reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER, now=now)


def _slots(point):
    return list(db_session().scalars(sa.select(PickupSlot).where(PickupSlot.pickup_point_id == point.id)
                                     .order_by(PickupSlot.starts_at)))


def db_session():
    from shop.extensions import db

    return db.session


def test_a_template_becomes_slots_in_paris_time_for_the_coming_weeks(db, admin):
    point = _point(admin, capacity=2)
    rows = _slots(point)
    # Mondays 9:00-10:00 in 15-minute slots: 4 a week, over the next 21 days (4 Mondays from today).
    assert len(rows) == 16
    assert rows[0].starts_at == datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)  # 9:00 Paris, winter
    assert {r.capacity for r in rows} == {2} and {r.booked for r in rows} == {0}
    slots.materialise(point.id, now=MONDAY)  # safe twice
    assert len(_slots(point)) == 16


@pytest.mark.parametrize("capacity", [0, -1, None, 101])
def test_a_capacity_of_zero_or_less_is_refused(db, admin, capacity):
    point = factories.pickup_point()
    with pytest.raises(DomainError, match="between 1 and 100"):
        slots.add_template(point, weekday=1, start_minute=600, end_minute=660, slot_minutes=15, capacity=capacity,
                           actor=admin, now=MONDAY)
    assert db.session.scalar(sa.select(sa.func.count(SlotTemplate.id))) == 0


def test_overlapping_templates_are_refused_and_touching_ones_accepted(db, admin):
    point = _point(admin)
    with pytest.raises(DomainError, match="overlap"):
        slots.add_template(point, weekday=0, start_minute=9 * 60 + 30, end_minute=11 * 60, slot_minutes=15,
                           capacity=1, actor=admin, now=MONDAY)
    slots.add_template(point, weekday=0, start_minute=10 * 60, end_minute=11 * 60, slot_minutes=15, capacity=1,
                       actor=admin, now=MONDAY)
    assert db.session.scalar(sa.select(sa.func.count(SlotTemplate.id))) == 2


def test_the_database_refuses_more_booked_than_capacity(db, admin):
    slot = _slots(_point(admin))[0]
    slot.booked = 2
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_choosing_a_slot_takes_a_place_and_changing_gives_it_back(db, admin):
    point = _point(admin, capacity=1)
    reservation = _reserve(point)
    first, second = _slots(point)[:2]
    assert slots.free_slots(point.id, until=reservation.held_until, now=MONDAY)[0].id == first.id
    slots.choose(reservation, first.id, now=MONDAY)
    assert (reservation.slot_id, first.booked) == (first.id, 1)
    assert first.id not in [s.id for s in slots.free_slots(point.id, until=reservation.held_until, now=MONDAY)]
    slots.choose(reservation, second.id, now=MONDAY)
    db.session.refresh(first)
    db.session.refresh(second)
    assert (reservation.slot_id, first.booked, second.booked) == (second.id, 0, 1)


def test_a_full_slot_a_past_slot_and_another_points_slot_are_refused_and_change_nothing(db, admin):
    point, other = _point(admin, capacity=1), _point(admin, capacity=1)
    mine, theirs = _reserve(point), _reserve(point)
    first = _slots(point)[0]
    slots.choose(mine, first.id, now=MONDAY)
    with pytest.raises(Conflict, match="full"):
        slots.choose(theirs, first.id, now=MONDAY)
    with pytest.raises(DomainError, match="passed"):
        slots.choose(theirs, _slots(point)[1].id, now=_slots(point)[1].starts_at + timedelta(minutes=1))
    with pytest.raises(NotFound, match="not offered"):
        slots.choose(theirs, _slots(other)[0].id, now=MONDAY)
    db.session.refresh(theirs)
    assert theirs.slot_id is None
    assert [s.booked for s in _slots(point)][:2] == [1, 0] and {s.booked for s in _slots(other)} == {0}


def test_no_slots_when_the_point_has_them_off(db, admin):
    point = _point(admin, mode="off")
    reservation = _reserve(point)
    with pytest.raises(DomainError, match="cannot be changed"):
        slots.choose(reservation, _slots(point)[0].id, now=MONDAY)


def test_cancelling_gives_the_place_back(db, admin):
    point = _point(admin, capacity=1)
    reservation = _reserve(point)
    first = _slots(point)[0]
    slots.choose(reservation, first.id, now=MONDAY)
    reservations.cancel(reservation, reason="no", now=MONDAY)
    db.session.refresh(first)
    db.session.refresh(reservation)
    assert (first.booked, reservation.slot_id) == (0, None)


def test_a_closure_empties_its_slots_and_asks_the_booked_people_to_choose_again(db, admin):
    point = _point(admin, capacity=1)
    person = factories.beneficiary(email="a@example.org")
    reservation = _reserve(point, person=person)
    next_monday = _slots(point)[4]
    slots.choose(reservation, next_monday.id, now=MONDAY)
    told = slots.add_closure(point, day=date(2026, 12, 14), reason="Holiday", actor=admin, now=MONDAY)
    assert told == 1
    db.session.refresh(reservation)
    assert reservation.slot_id is None and reservation.status == R.CONFIRMED
    assert len(_slots(point)) == 12
    templates = db.session.scalars(sa.select(Message.template).where(Message.about_id == reservation.id)).all()
    assert "slot_closed" in templates
    with pytest.raises(DomainError, match="already closed"):
        slots.add_closure(point, day=date(2026, 12, 14), reason="Again", actor=admin, now=MONDAY)
    with pytest.raises(DomainError, match="passed"):
        slots.add_closure(point, day=date(2026, 12, 1), reason="Past", actor=admin, now=MONDAY)
    slots.materialise(point.id, now=MONDAY)
    assert len(_slots(point)) == 12  # a closed day gets no slots back


def test_an_extra_slot_is_added_once(db, admin):
    point = _point(admin)
    slot = slots.add_extra_slot(point, day=date(2026, 12, 8), start_minute=14 * 60, minutes=30, capacity=3,
                                actor=admin, now=MONDAY)
    assert slot.template_id is None and slot.capacity == 3
    with pytest.raises(DomainError, match="already a slot"):
        slots.add_extra_slot(point, day=date(2026, 12, 8), start_minute=14 * 60, minutes=30, capacity=3,
                             actor=admin, now=MONDAY)
    with pytest.raises(DomainError, match="passed"):
        slots.add_extra_slot(point, day=date(2026, 12, 1), start_minute=14 * 60, minutes=30, capacity=3,
                             actor=admin, now=MONDAY)


def test_a_passed_slot_plus_grace_makes_the_reservation_missed_and_releases_the_unit(db, admin):
    point = _point(admin, capacity=1)
    reservation = _reserve(point)
    first = _slots(point)[0]
    slots.choose(reservation, first.id, now=MONDAY)
    assert reservations.expire_holds(first.ends_at + timedelta(minutes=30)) == 0  # within the grace
    assert reservations.expire_holds(first.ends_at + timedelta(hours=3)) == 1
    db.session.refresh(reservation)
    assert reservation.status == R.MISSED and reservation.device.status == DeviceStatus.LISTED
    assert reservations.expire_holds(first.ends_at + timedelta(hours=3)) == 0
    code = db.session.get(EligibilityCode, reservation.code_id)
    # The code is free again: the person (or their worker) can reserve again.
    again = reservations.reserve(code, reservation.device.offer_key, method=PaymentMethod.COUNTER,
                                 now=first.ends_at + timedelta(hours=3))
    assert again.status == R.CONFIRMED


def test_only_a_missed_pickup_can_be_reserved_again_and_it_takes_the_same_offer(db, admin):
    point = _point(admin, capacity=1)
    reservation = _reserve(point)
    with pytest.raises(NotFound):
        reservations.reserve_again(reservation, now=MONDAY)  # still running: nothing to do again
    first = _slots(point)[0]
    slots.choose(reservation, first.id, now=MONDAY)
    later = first.ends_at + timedelta(hours=3)
    assert reservations.expire_holds(later) == 1
    db.session.refresh(reservation)
    again = reservations.reserve_again(reservation, now=later)
    assert again.status == R.CONFIRMED and again.code_id == reservation.code_id
    assert again.device.offer_key == reservation.device.offer_key


def test_a_deadline_that_ran_out_is_missed_and_an_unpaid_checkout_expired(db, admin):
    point = factories.pickup_point()
    counter = _reserve(point)
    device = factories.device(point=point, model="Online")
    code, _ = factories.code()
    online = reservations.reserve(code, device.offer_key, method=PaymentMethod.CARD_ONLINE, now=MONDAY)
    later = MONDAY + timedelta(days=15)
    assert counter.state(later) == R.MISSED and online.state(later) == R.EXPIRED
    assert reservations.expire_holds(later) == 2
    db.session.refresh(counter)
    db.session.refresh(online)
    assert (counter.status, online.status) == (R.MISSED, R.EXPIRED)


def test_no_shows_per_point_and_month_and_the_repeat_signal(db, admin):
    point = factories.pickup_point(name="Borny")
    person = factories.beneficiary()
    code, _ = factories.code(person)
    for n in range(2):  # the same code reserves again after a missed pickup
        start = MONDAY + timedelta(days=15 * n)
        device = factories.device(point=point, model=f"Again {n}")
        reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER, now=start)
        reservations.expire_holds(start + timedelta(days=15))
    lines = slots.no_shows(since=MONDAY - timedelta(days=30))
    assert [(line.point, line.month, line.missed, line.ended) for line in lines] == [("Borny", "2026-12", 1, 1), ("Borny", "2027-01", 1, 1)]
    assert slots.missed_count([person.id], since=MONDAY - timedelta(days=365)) == {person.id: 2}




def test_twenty_people_on_the_last_place_of_a_slot_give_exactly_one(app, db, admin):
    point = _point(admin, capacity=3)
    taken = [_reserve(point) for _ in range(2)]
    target = _slots(point)[0]
    for reservation in taken:
        slots.choose(reservation, target.id, now=MONDAY)
    ids = [_reserve(point).id for _ in range(20)]
    target_id = target.id
    db.session.commit()

    def work(reservation_id):
        from shop.extensions import db as _db

        slots.choose(_db.session.get(Reservation, reservation_id), target_id, now=MONDAY)

    outcomes = race_each(app, ids, work)
    assert outcomes.count("won") == 1
    db.session.expire_all()
    assert db.session.get(PickupSlot, target_id).booked == 3
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id)).where(Reservation.slot_id == target_id)) == 3


def test_changing_a_slot_while_others_take_it_never_goes_over_capacity(app, db, admin):
    point = _point(admin, capacity=2)
    first, target = _slots(point)[:2]
    movers = [_reserve(point) for _ in range(2)]
    for reservation in movers:
        slots.choose(reservation, first.id, now=MONDAY)
    takers = [_reserve(point) for _ in range(6)]
    items = [m.id for m in movers] + [t.id for t in takers]
    target_id, first_id = target.id, first.id
    db.session.commit()

    def work(reservation_id):
        from shop.extensions import db as _db

        slots.choose(_db.session.get(Reservation, reservation_id), target_id, now=MONDAY)

    outcomes = race_each(app, items, work)
    assert outcomes.count("won") == 2
    db.session.expire_all()
    for slot_id in (first_id, target_id):
        booked = db.session.get(PickupSlot, slot_id).booked
        counted = db.session.scalar(sa.select(sa.func.count(Reservation.id)).where(Reservation.slot_id == slot_id))
        assert booked == counted <= 2


def _fill(point, n):
    """n confirmed reservations at the point, spread over its slots (through the real services)."""
    rows = [s for s in _slots(point) if s.starts_at < MONDAY + timedelta(days=14)]
    made = []
    for i in range(n):
        reservation = _reserve(point)
        slots.choose(reservation, rows[i % len(rows)].id, now=MONDAY)
        made.append(reservation)
    return made


@pytest.mark.parametrize("service", ["free_slots", "today"])
def test_the_slot_list_and_todays_board_cost_the_same_queries_with_10_and_many_reservations(
        db, admin, count_queries, service):
    def run(point):
        point_id = point.id
        db.session.expire_all()
        with count_queries() as counter:
            if service == "free_slots":
                found = slots.free_slots(point_id, until=MONDAY + timedelta(days=14), now=MONDAY)
            else:
                found = slots.today(point_id, now=MONDAY)
                [(r.device.model, r.beneficiary.display_name) for b in found for r in b.reservations]
        return counter.count, found

    # 16 Mondays-slots of capacity 100 over 3 weeks; the big point is filled with bulk rows
    # (1,000 reservations through the service would take minutes on 2 cores).
    small, big = _point(admin, capacity=100), _point(admin, capacity=100)
    _fill(small, 10)
    _fill(big, 10)
    _bulk_reservations(big, 990)
    small_count, _ = run(small)
    big_count, found = run(big)
    assert small_count == big_count == (1 if service == "free_slots" else 2)
    if service == "today":
        assert sum(len(b.reservations) for b in found) > 100


def _bulk_reservations(point, n):
    """Copy a reservation of the point n times onto its today's slots (rows only, same shape)."""
    template = db_session().scalar(sa.select(Reservation).where(Reservation.pickup_point_id == point.id).limit(1))
    today_slots = [s for s in _slots(point) if s.starts_at < MONDAY + timedelta(days=1)]
    columns = [c.name for c in Reservation.__table__.columns if c.name != "id"]
    base = {c: getattr(template, c) for c in columns}
    code_table = EligibilityCode.__table__
    code_row = dict(db_session().execute(sa.select(code_table).where(code_table.c.id == template.code_id))
                    .mappings().one())
    code_row.pop("id")
    code_ids = db_session().scalars(sa.insert(code_table).returning(code_table.c.id),
                                    [{**code_row, "code_hash": f"{i:064d}"} for i in range(n)]).all()
    rows = []
    for i in range(n):
        slot = today_slots[i % len(today_slots)]
        rows.append({**base, "number": f"B{i:05d}", "pickup_code": f"{900000 + i}", "code_id": code_ids[i],
                     "slot_id": slot.id, "status": R.PICKED_UP})
    db_session().execute(sa.insert(Reservation), rows)
    for slot in today_slots:
        slot.booked = min(100, slot.booked)
    db_session().flush()


# --- A point that requires a pickup time -----------------------------------------------------------

def _offer_at(point):
    return factories.device(point=point, model=f"Model {factories._seq.__next__()}")


def test_a_point_that_requires_a_time_refuses_a_reservation_without_one_and_takes_nothing(db, admin):
    point = _point(admin, capacity=1, mode="required")
    device = _offer_at(point)
    code, _ = factories.code()
    with pytest.raises(slots.TimeRequired) as refused:
        reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER, now=MONDAY)
    assert refused.value.details == {"field": "slot", "point_id": point.id}
    db.session.refresh(device)
    assert device.status == DeviceStatus.LISTED
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 0
    assert {s.booked for s in _slots(point)} == {0}


def test_the_time_is_taken_with_the_reservation_and_the_confirmation_gives_it(db, admin):
    point = _point(admin, capacity=1, mode="required")
    device = _offer_at(point)
    person = factories.beneficiary(email="b@example.org")
    code, _ = factories.code(person)
    first = _slots(point)[0]
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER, now=MONDAY,
                                       slot_id=first.id)
    db.session.refresh(first)
    assert (reservation.slot_id, first.booked) == (first.id, 1)
    sent = db.session.scalars(sa.select(Message.template).where(Message.about_id == reservation.id)).all()
    assert sent == ["reservation_confirmed_at"]  # one message with the time, not two


@pytest.mark.parametrize("which", ["full", "past", "other point", "after the deadline", "absurd"])
def test_a_bad_time_undoes_the_whole_reservation(db, admin, app, monkeypatch, which):
    point = _point(admin, capacity=1, mode="required")
    device = _offer_at(point)
    code, _ = factories.code()
    rows = _slots(point)
    if which == "full":  # someone took its only place first
        reservations.reserve(factories.code()[0], _offer_at(point).offer_key, method=PaymentMethod.COUNTER,
                             now=MONDAY, slot_id=rows[0].id)
        slot_id = rows[0].id
    elif which == "past":
        slot_id = rows[0].id
    elif which == "other point":
        slot_id = _slots(_point(admin, mode="required"))[0].id
    elif which == "after the deadline":
        monkeypatch.setitem(app.config, "PICKUP_DAYS", 2)
        slot_id = rows[-1].id
    else:
        slot_id = 2**63
    now = rows[0].starts_at + timedelta(minutes=1) if which == "past" else MONDAY
    with pytest.raises(DomainError) as refused:
        reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER, now=now, slot_id=slot_id)
    assert refused.value.details["field"] == "slot" and refused.value.details["point_id"] == point.id
    db.session.refresh(device)
    assert device.status == DeviceStatus.LISTED
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id)).where(Reservation.code_id == code.id)) == 0


def test_twenty_people_reserving_the_last_place_of_a_required_time_give_one_reservation(app, db, admin):
    point = _point(admin, capacity=1, mode="required")
    devices = [_offer_at(point) for _ in range(20)]
    code_ids = [factories.code()[0].id for _ in range(20)]
    last_id = _slots(point)[0].id
    keys = [d.offer_key for d in devices]
    db.session.commit()

    def attempt(i):
        code = db_session().get(EligibilityCode, code_ids[i])
        reservations.reserve(code, keys[i], method=PaymentMethod.COUNTER, now=MONDAY, slot_id=last_id)

    outcomes = race_each(app, range(20), attempt)
    assert outcomes.count("won") == 1
    db.session.expire_all()
    assert db.session.get(PickupSlot, last_id).booked == 1
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(sa.text("status = 'reserved'"))
                             .select_from(sa.table("devices"))) == 1


def test_a_closure_tells_the_worker_when_the_person_cannot_be_reached(db, admin):
    point = _point(admin, capacity=1, mode="required")
    worker = factories.user(Role.SOCIAL_WORKER)
    person = factories.beneficiary(worker)  # no e-mail, no texts agreed
    code, _ = factories.code(person, worker=worker)
    monday = _slots(point)[4]
    reservation = reservations.reserve(code, _offer_at(point).offer_key, method=PaymentMethod.COUNTER, now=MONDAY,
                                       slot_id=monday.id)
    assert slots.add_closure(point, day=date(2026, 12, 14), reason="Holiday", actor=admin, now=MONDAY) == 1
    told = db.session.scalars(sa.select(Message).where(Message.about_id == reservation.id,
                                                       Message.template.like("slot_closed%"))).all()
    assert [(m.template, m.user_id, m.beneficiary_id) for m in told] == [("slot_closed_worker", worker.id, None)]
    assert f"/partner/reservations/{reservation.number}" in told[0].values["link"]
    # …and the worker's dashboard lists it until a new time is chosen.
    assert [r.id for r in slots.without_time_for_organisation(person.organisation_id, now=MONDAY)] == [reservation.id]
    slots.choose(reservation, _slots(point)[0].id, now=MONDAY)
    assert slots.without_time_for_organisation(person.organisation_id, now=MONDAY) == []


def test_a_time_chosen_with_an_online_payment_is_given_back_when_the_payment_never_comes(db, admin):
    point = _point(admin, capacity=1, mode="required")
    first = _slots(point)[0]
    unpaid = [reservations.reserve(factories.code()[0], _offer_at(point).offer_key, method=PaymentMethod.CARD_ONLINE,
                                   now=MONDAY, slot_id=first.id)]
    assert unpaid[0].status == R.PENDING_PAYMENT and unpaid[0].slot_id == first.id
    reservations.end_unpaid_checkout(unpaid[0], now=MONDAY)  # Stripe says the checkout expired
    db.session.refresh(first)
    assert first.booked == 0
    # …and a hold for payment that simply runs out gives the place back the same way.
    late = reservations.reserve(factories.code()[0], _offer_at(point).offer_key, method=PaymentMethod.CARD_ONLINE,
                                now=MONDAY, slot_id=first.id)
    reservations.expire_holds(MONDAY + timedelta(hours=1))
    db.session.refresh(first)
    db.session.refresh(late)
    assert (late.status, late.slot_id, first.booked) == (R.EXPIRED, None, 0)
