"""The waitlist: joining, turns in joining order, reserving a held unit, the sweep, and races."""

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shop.models import (
    Category, Device, DeviceStatus, EligibilityCode, PaymentMethod, Reservation, WaitlistEntry, WaitlistStatus,
)
from shop.models.types import utcnow
from shop.services import catalog, codes, reservations, waitlist
from shop.services.errors import Conflict, DomainError
from tests import factories
from tests.concurrency import race

W = WaitlistStatus
HOUR = timedelta(hours=1)


def _people(count, *, categories=("computer", "smartphone", "tablet"), org=None):
    """`count` codes of different people of one structure with room in its quota."""
    org = org or factories.organisation(monthly_quota=1000)
    worker = factories.user(org=org)
    return [factories.code(factories.beneficiary(worker), categories=categories, worker=worker)[0]
            for _ in range(count)]


def _listed(point, **values):
    """A unit put on sale without going through the staff's listing (so not offered yet)."""
    return factories.device(point=point, **values)


def test_joining_puts_people_in_line_in_joining_order(db):
    point = factories.pickup_point()
    a, b, c = _people(3)
    start = utcnow()
    entries = [waitlist.join(code, "laptop", point.id, now=start + n * HOUR) for n, code in enumerate((a, b, c))]
    assert [waitlist.place(e) for e in entries] == [1, 2, 3]
    waitlist.leave(entries[0], now=start + 4 * HOUR)
    assert [waitlist.place(e) for e in entries[1:]] == [1, 2]
    assert entries[0].status == W.LEFT


@pytest.mark.parametrize("args, field", [
    (dict(category="laptop", pickup_point_id=10**9), "pickup_point"),
    (dict(category="laptop", pickup_point_id=None), "pickup_point"),
    (dict(category="spaceship"), "category"),
    (dict(category="screen"), "category"),  # the code does not allow screens
    (dict(category="laptop", max_price_cents=-100), "max_price"),
    (dict(category="laptop", max_price_cents=10**32), "max_price"),
])
def test_bad_input_is_refused_with_a_message_and_stores_nothing(db, args, field):
    point = factories.pickup_point()
    (code,) = _people(1)
    db.session.commit()
    args = {"pickup_point_id": point.id, **args}
    with pytest.raises(DomainError) as refused:
        waitlist.join(code, args.pop("category"), args.pop("pickup_point_id"), **args)
    assert refused.value.details["field"] == field and str(refused.value.message)
    assert db.session.scalar(sa.select(sa.func.count(WaitlistEntry.id))) == 0


def test_joining_twice_is_refused(db):
    point = factories.pickup_point()
    (code,) = _people(1)
    waitlist.join(code, "laptop", point.id)
    with pytest.raises(DomainError, match="already in the queue"):
        waitlist.join(code, "laptop", point.id)
    waitlist.join(code, "smartphone", point.id)  # another kind of device is another queue
    assert db.session.scalar(sa.select(sa.func.count(WaitlistEntry.id))) == 2


def test_a_code_that_ended_cannot_join(db):
    point = factories.pickup_point()
    (code,) = _people(1)
    with pytest.raises(DomainError, match="expired"):
        waitlist.join(code, "laptop", point.id, now=code.expires_at + HOUR)


def test_a_unit_put_on_sale_is_held_for_the_first_in_line_only(app, db):
    point = factories.pickup_point()
    first, second = _people(2)
    start = utcnow()
    e1 = waitlist.join(first, "laptop", point.id, now=start - 2 * HOUR)
    e2 = waitlist.join(second, "laptop", point.id, now=start - HOUR)
    unit = factories.device(point=point, status=DeviceStatus.REFURBISHED)
    from shop.services import devices

    devices.move_by_hand(unit, DeviceStatus.LISTED, actor="staff@example.org")
    db.session.refresh(e1)
    db.session.refresh(unit)
    assert e1.status == W.OFFERED and e1.device_id == unit.id
    assert unit.status == DeviceStatus.RESERVED
    hours = app.config.get("WAITLIST_HOLD_HOURS", 48)
    assert abs((unit.held_until - e1.offer_until).total_seconds()) == 0
    assert timedelta(hours=hours - 1) < unit.held_until - utcnow() <= timedelta(hours=hours)
    assert waitlist.place(e2) == 1
    # The catalog does not show it, and nobody else can reserve it.
    assert catalog.get_offer(unit.offer_key) is None
    with pytest.raises(reservations.SoldOut):
        reservations.reserve(second, unit.offer_key, method=PaymentMethod.COUNTER)


def test_a_turn_and_its_end_drop_only_the_cached_pages_of_the_units_kind_and_point(app, db):
    """The devices' triggers move the unit's own scope; nothing else is thrown out of the page cache
    (a smartphone at another point stays cached while a laptop goes to someone's turn and back)."""
    from shop.services import devices

    point, elsewhere = factories.pickup_point(), factories.pickup_point()
    (first,) = _people(1)
    waitlist.join(first, "laptop", point.id, now=utcnow() - HOUR)
    factories.device(point=elsewhere, category=Category.SMARTPHONE, model="Phone", price_cents=9000)
    unit = factories.device(point=point, status=DeviceStatus.REFURBISHED)
    db.session.commit()

    def moved(change):
        before = catalog.versions().by_scope
        change()
        db.session.commit()
        after = catalog.versions().by_scope
        return {name for name, version in after.items() if version != before.get(name)}

    laptops_here = catalog.scope(Category.LAPTOP, point.id)
    assert moved(lambda: devices.move_by_hand(unit, DeviceStatus.LISTED, actor="staff@example.org")) == {laptops_here}
    entry = db.session.scalars(sa.select(WaitlistEntry)).one()
    assert entry.status == W.OFFERED and entry.device_id == unit.id
    # The turn runs out with nobody else in line: the unit goes back on sale, same scope only.
    assert moved(lambda: waitlist.sweep(now=entry.offer_until + HOUR)) == {laptops_here}
    db.session.refresh(unit)
    assert unit.status == DeviceStatus.LISTED


def test_the_first_in_line_reserves_the_held_unit_with_their_code(db):
    point = factories.pickup_point()
    (code,) = _people(1)
    entry = waitlist.join(code, "laptop", point.id, now=utcnow() - HOUR)
    unit = _listed(point)
    waitlist.offer_units(device_ids=[unit.id])
    db.session.refresh(entry)
    reservation = reservations.reserve(code, unit.offer_key, method=PaymentMethod.COUNTER, turn=entry)
    db.session.refresh(entry)
    assert reservation.device_id == unit.id and entry.status == W.RESERVED
    assert db.session.get(Device, unit.id).held_until == reservation.held_until


def test_another_code_cannot_use_someone_elses_turn(db):
    point = factories.pickup_point()
    mine, other = _people(2)
    entry = waitlist.join(mine, "laptop", point.id)
    unit = _listed(point)
    waitlist.offer_units(device_ids=[unit.id])
    with pytest.raises(DomainError):
        reservations.reserve(other, unit.offer_key, method=PaymentMethod.COUNTER, turn=entry)
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 0


def test_a_turn_that_ran_out_goes_to_the_next_in_line_and_tells_the_first(app, db):
    point = factories.pickup_point()
    first, second = _people(2)
    first.beneficiary.email = "first@example.org"
    first.beneficiary.language = "uk"  # told in their own language
    start = utcnow()
    e1 = waitlist.join(first, "laptop", point.id, now=start)
    e2 = waitlist.join(second, "laptop", point.id, now=start + HOUR)
    unit = _listed(point)
    waitlist.offer_units(device_ids=[unit.id], now=start + 2 * HOUR)
    db.session.commit()
    app.extensions["mail_outbox"] = []
    later = start + 2 * HOUR + waitlist.hold_window() + HOUR
    # By timestamp the unit is free again even before the sweep runs.
    assert db.session.scalar(sa.select(sa.func.count(Device.id)).where(Device.available(later))) == 1
    counts = waitlist.sweep(later)
    db.session.commit()
    assert counts == {"left": 0, "turns_ended": 1, "offered": 1}
    db.session.refresh(e1)
    db.session.refresh(e2)
    assert e1.status == W.EXPIRED and e2.status == W.OFFERED and e2.device_id == unit.id
    assert waitlist.sweep(later) == {"left": 0, "turns_ended": 0, "offered": 0}  # safe twice
    with pytest.raises(DomainError, match="ended"):
        reservations.reserve(first, unit.offer_key, method=PaymentMethod.COUNTER, turn=e1, now=later)
    subjects = [m["Subject"] for m in app.extensions["mail_outbox"]]
    assert subjects == ["Ваша черга на Ноутбук завершилася"]


def test_places_leave_by_themselves_when_the_code_ends(db):
    point = factories.pickup_point()
    revoked, expiring, kept = _people(3)
    worker = factories.user(org=revoked.beneficiary.organisation)
    entries = [waitlist.join(c, "laptop", point.id) for c in (revoked, expiring, kept)]
    codes.revoke(revoked, worker=worker, reason="no longer needed")
    counts = waitlist.sweep(expiring.expires_at + HOUR)
    assert counts["left"] == 3  # the third code ends at the same date
    assert {e.status for e in entries} == {W.LEFT, W.EXPIRED}


def test_a_unit_goes_to_the_first_whose_point_town_and_price_fit(db):
    metz, woippy = factories.pickup_point(town="Metz"), factories.pickup_point(town="Woippy")
    metz2 = factories.pickup_point(town="Metz")
    far, cheap, town, exact = _people(4)
    start = utcnow()
    waitlist.join(far, "laptop", woippy.id, now=start)
    waitlist.join(cheap, "laptop", metz.id, max_price_cents=5000, now=start + HOUR)
    e_town = waitlist.join(town, "laptop", metz2.id, any_point_in_town=True, now=start + 2 * HOUR)
    waitlist.join(exact, "laptop", metz.id, now=start + 3 * HOUR)
    unit = _listed(metz, price_cents=12000)
    offered = waitlist.offer_units(device_ids=[unit.id], now=start + 4 * HOUR)
    assert offered == [e_town]


def test_a_cancelled_reservation_gives_its_unit_to_the_first_in_line(db):
    point = factories.pickup_point()
    buyer, waiting = _people(2)
    unit = _listed(point)
    reservation = reservations.reserve(buyer, unit.offer_key, method=PaymentMethod.COUNTER)
    entry = waitlist.join(waiting, "laptop", point.id)
    reservations.cancel(reservation, reason="changed my mind")
    db.session.refresh(entry)
    assert entry.status == W.OFFERED and entry.device_id == unit.id


def test_a_message_written_in_a_transaction_that_rolls_back_is_never_sent(app, db):
    point = factories.pickup_point()
    (code,) = _people(1)
    code.beneficiary.email = "person@example.org"
    db.session.commit()
    app.extensions["mail_outbox"] = []
    waitlist.join(code, "laptop", point.id)
    db.session.rollback()
    assert app.extensions["mail_outbox"] == []
    with db.session.begin_nested():  # a savepoint released is no commit yet
        waitlist.join(code, "laptop", point.id)
    assert app.extensions["mail_outbox"] == []  # not before the commit
    db.session.commit()
    (message,) = app.extensions["mail_outbox"]
    assert message["Subject"] == "Vous êtes dans la file pour Ordinateur portable"  # the person speaks French
    assert "Votre place : 1." in message.get_content()


def _fits(entry, unit, towns):
    if entry.category != unit.category:
        return False
    if entry.max_price_cents is not None and unit.price_cents > entry.max_price_cents:
        return False
    return entry.pickup_point_id == unit.pickup_point_id or (
        entry.any_point_in_town and towns[entry.pickup_point_id] == towns[unit.pickup_point_id])


def test_simulation_200_people_60_units_in_5_batches(db):
    """Every unit offered in queue order, never to two people, nobody skipped, counts add up."""
    rng = random.Random(12)
    points = [factories.pickup_point(town="Metz"), factories.pickup_point(town="Metz")]
    towns = {p.id: p.town for p in points}
    kinds = [Category.LAPTOP, Category.SMARTPHONE, Category.TABLET]
    people = _people(200)
    start = utcnow() - timedelta(days=20)
    entries = []
    for n, code in enumerate(people):
        entries.append(waitlist.join(
            code, rng.choice(kinds), rng.choice(points).id, any_point_in_town=rng.random() < 0.15,
            max_price_cents=rng.choice([None, None, None, 9000]), now=start + n * timedelta(minutes=7)))
    db.session.commit()
    now = start + timedelta(days=1)
    units, reserved, left, ran_out, offers = [], 0, 0, 0, {}

    def check_order(moment):
        """Nobody who fits a unit offered at `moment` and joined earlier is still waiting."""
        fresh = list(db.session.scalars(sa.select(WaitlistEntry)))
        waiting = [e for e in fresh if e.status == W.WAITING]
        for entry in fresh:
            if entry.offered_at == moment:
                unit = db.session.get(Device, entry.device_id)
                assert offers.setdefault(entry.id, unit.id) == unit.id  # one turn per place
                skipped = [w for w in waiting if _fits(w, unit, towns) and
                           (w.joined_at, w.id) < (entry.joined_at, entry.id)]
                assert not skipped, (entry.id, [w.id for w in skipped])
        # No unit left on sale while someone who fits it waits.
        for unit in db.session.scalars(sa.select(Device).where(Device.status == DeviceStatus.LISTED)):
            assert not [w for w in waiting if _fits(w, unit, towns)], unit.id
        held = [e.device_id for e in fresh if e.status == W.OFFERED]
        assert len(held) == len(set(held))  # never two turns on one unit

    for batch in range(5):
        batch_units = [_listed(rng.choice(points), category=rng.choice(kinds), price_cents=rng.choice([8000, 12000]),
                               model=f"Model {batch}") for _ in range(12)]
        units += batch_units
        ran_out += waitlist.sweep(now)["turns_ended"]  # cron ran meanwhile: turns that ran out move on
        db.session.commit()
        check_order(now)
        waitlist.offer_units(device_ids=[u.id for u in batch_units], now=now)
        db.session.commit()
        check_order(now)
        # People with a turn: some reserve, some leave, the others let it run out.
        for entry in list(db.session.scalars(sa.select(WaitlistEntry).where(WaitlistEntry.status == W.OFFERED))):
            roll = rng.random()
            if roll < 0.45:
                code = db.session.get(EligibilityCode, entry.code_id)
                reservations.reserve(code, entry.device.offer_key, method=PaymentMethod.COUNTER,
                                     now=now + HOUR, turn=entry)
                reserved += 1
            elif roll < 0.6:
                waitlist.leave(entry, now=now + HOUR)
                left += 1
            db.session.commit()
        check_order(now + HOUR)  # units left by people who left went to the next in line
        now += waitlist.hold_window() + HOUR
        ran_out += waitlist.sweep(now)["turns_ended"]
        db.session.commit()
        check_order(now)
        now += timedelta(days=2)

    statuses = [e.status for e in db.session.scalars(sa.select(WaitlistEntry))]
    count = {s: statuses.count(s) for s in W}
    assert sum(count.values()) == 200
    assert count[W.RESERVED] == reserved == db.session.scalar(sa.select(sa.func.count(Reservation.id)))
    assert count[W.LEFT] == left and count[W.EXPIRED] == ran_out
    device_states = [db.session.get(Device, u.id).status for u in units]
    assert len(units) == 60
    assert device_states.count(DeviceStatus.RESERVED) == reserved + count[W.OFFERED]
    assert device_states.count(DeviceStatus.LISTED) == 60 - reserved - count[W.OFFERED]
    # Every place that got a turn is counted once: reserved, still holding, or ended one way or another.
    assert len(offers) == reserved + count[W.OFFERED] + ran_out + left
    assert reserved > 10 and ran_out > 5 and left > 3


# --- Races (threads, SQLite and PostgreSQL) ----------------------------------------------------



def test_a_unit_coming_back_during_two_offering_runs_is_offered_once(app, db):
    point = factories.pickup_point()
    people = _people(3)
    start = utcnow() - timedelta(hours=5)
    entry_ids = [waitlist.join(c, "laptop", point.id, now=start + n * HOUR).id for n, c in enumerate(people)]
    unit_id = _listed(point).id
    db.session.commit()

    def run():
        waitlist.offer_units(device_ids=[unit_id])

    outcomes = race(app, {"one": run, "two": run, "sweep": lambda: waitlist.sweep()})
    assert "won" in outcomes.values()
    db.session.commit()  # end the test's read snapshot: see what the threads wrote
    entries = [db.session.get(WaitlistEntry, i) for i in entry_ids]
    assert [e.status for e in entries] == [W.OFFERED, W.WAITING, W.WAITING]
    assert entries[0].device_id == unit_id


def test_two_units_during_two_offering_runs_go_to_the_first_two(app, db):
    point = factories.pickup_point()
    people = _people(3)
    start = utcnow() - timedelta(hours=5)
    entry_ids = [waitlist.join(c, "laptop", point.id, now=start + n * HOUR).id for n, c in enumerate(people)]
    unit_ids = [_listed(point).id, _listed(point).id]
    db.session.commit()
    race(app, {"one": lambda: waitlist.offer_units(device_ids=unit_ids[::-1]),
                "two": lambda: waitlist.offer_units(device_ids=unit_ids)})
    db.session.commit()  # end the test's read snapshot: see what the threads wrote
    entries = [db.session.get(WaitlistEntry, i) for i in entry_ids]
    assert [e.status for e in entries] == [W.OFFERED, W.OFFERED, W.WAITING]
    assert {e.device_id for e in entries[:2]} == set(unit_ids)


@pytest.mark.parametrize("attempt", range(4))
def test_reserving_while_the_turn_runs_out_gives_the_unit_or_a_refusal_never_both(app, db, attempt):
    point = factories.pickup_point()
    first, second = _people(2)
    start = utcnow() - timedelta(days=3)
    first_id = waitlist.join(first, "laptop", point.id, now=start).id
    second_id = waitlist.join(second, "laptop", point.id, now=start + HOUR).id
    unit = _listed(point)
    waitlist.offer_units(device_ids=[unit.id], now=start + 2 * HOUR)
    db.session.commit()
    turn_end = db.session.get(WaitlistEntry, first_id).offer_until
    key, code_id, unit_id = unit.offer_key, first.id, unit.id

    def reserve():
        from shop.extensions import db as _db

        entry = _db.session.get(WaitlistEntry, first_id)
        reservations.reserve(_db.session.get(EligibilityCode, code_id), key, method=PaymentMethod.COUNTER,
                             turn=entry, now=turn_end - timedelta(milliseconds=1))

    works = {"reserve": reserve, "sweep": lambda: waitlist.sweep(turn_end + timedelta(milliseconds=1))}
    if attempt % 2:
        works = dict(reversed(list(works.items())))
    outcomes = race(app, works)
    db.session.commit()  # end the test's read snapshot: see what the threads wrote
    first_entry, second_entry = db.session.get(WaitlistEntry, first_id), db.session.get(WaitlistEntry, second_id)
    booked = list(db.session.scalars(sa.select(Reservation)))
    if outcomes["reserve"] == "won":
        assert [r.device_id for r in booked] == [unit_id] and booked[0].code_id == code_id
        assert first_entry.status == W.RESERVED and second_entry.status == W.WAITING
    else:
        assert booked == []
        assert first_entry.status == W.EXPIRED
        assert second_entry.status == W.OFFERED and second_entry.device_id == unit_id
    assert outcomes["sweep"] == "won"


def test_the_turn_message_names_the_place_the_deadline_the_price_and_the_link(app, db):
    point = factories.pickup_point(name="Espace Borny", town="Metz")
    (code,) = _people(1)
    code.beneficiary.email = "amina@example.org"
    code.beneficiary.language = "ar"
    entry = waitlist.join(code, "laptop", point.id)
    unit = _listed(point, price_cents=9000)
    db.session.commit()
    app.extensions["mail_outbox"] = []
    waitlist.offer_units(device_ids=[unit.id])
    db.session.commit()
    (message,) = app.extensions["mail_outbox"]
    body = message.get_content()
    assert message["Subject"] == "جاء دورك: \u2068حاسوب محمول\u2069 محجوز لك"
    assert "Espace Borny" in body and "90" in body and f"/reserve/turn/{entry.token}" in body


def test_erasing_a_person_ends_their_places_and_passes_a_held_unit_on(db):
    from shop.services import privacy

    point = factories.pickup_point()
    gone, next_one = _people(2)
    worker = factories.user(org=gone.beneficiary.organisation)
    start = utcnow() - HOUR
    first = waitlist.join(gone, "laptop", point.id, now=start)
    second = waitlist.join(next_one, "laptop", point.id, now=start + timedelta(minutes=1))
    unit = _listed(point)
    waitlist.offer_units(device_ids=[unit.id])
    exported = privacy.everything_about(gone.beneficiary, actor=worker)
    assert [e["state"] for e in exported["waitlist"]] == ["offered"]
    privacy.erase(gone.beneficiary, actor=worker)
    db.session.refresh(first)
    db.session.refresh(second)
    assert first.status == W.LEFT and second.status == W.OFFERED and second.device_id == unit.id
