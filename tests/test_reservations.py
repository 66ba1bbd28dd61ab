import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shop.models import (
    AuditEntry, Beneficiary, Category, CodeState, Device, DeviceEvent, DeviceStatus, EligibilityCode, Payment, PaymentChannel,
    PaymentMethod, Reservation, ReservationStatus, Role,
)
from shop.models.types import utcnow
from shop.services import catalog, reservations
from shop.services.errors import Conflict, DomainError
from shop.services.reservations import SoldOut
from tests import factories
from tests.concurrency import race_each

R = ReservationStatus


@pytest.fixture
def staff(db):
    return factories.user(Role.STAFF)


def test_reserving_at_the_counter_confirms_at_once_and_holds_the_unit_14_days(db):
    device = factories.device()
    code, _ = factories.code()
    now = utcnow()
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER, now=now)
    assert reservation.status == R.CONFIRMED
    assert reservation.held_until == now + timedelta(days=14)
    assert len(reservation.pickup_code) == 6 and reservation.pickup_code.isdigit()
    db.session.refresh(device)
    assert device.status == DeviceStatus.RESERVED
    assert catalog.get_offer(device.offer_key) is None


def test_code_must_allow_the_category(db):
    phone = factories.device(category=Category.SMARTPHONE, model="Pixel", cpu=None)
    code, _ = factories.code(categories=("computer",))
    with pytest.raises(DomainError, match="allow"):
        reservations.reserve(code, phone.offer_key, method=PaymentMethod.COUNTER)
    db.session.refresh(phone)
    assert phone.status == DeviceStatus.LISTED


def test_a_code_reserves_one_device_at_a_time(db):
    point = factories.pickup_point()
    first, second = factories.device(point=point), factories.device(point=point, model="Other")
    code, _ = factories.code()
    reservations.reserve(code, first.offer_key, method=PaymentMethod.COUNTER)
    with pytest.raises(DomainError):
        reservations.reserve(code, second.offer_key, method=PaymentMethod.COUNTER)
    db.session.refresh(second)
    assert second.status == DeviceStatus.LISTED  # the refusal changed nothing


def test_sold_out_offer_proposes_alternatives(db):
    point = factories.pickup_point()
    last = factories.device(point=point)
    other = factories.device(point=point, model="ThinkPad T490", price_cents=13000)
    code_a, _ = factories.code()
    code_b, _ = factories.code()
    reservations.reserve(code_a, last.offer_key, method=PaymentMethod.COUNTER)
    with pytest.raises(SoldOut) as refused:
        reservations.reserve(code_b, last.offer_key, method=PaymentMethod.COUNTER)
    assert [o.offer_key for o in refused.value.details["alternatives"]] == [other.offer_key]


def test_an_expired_hold_never_blocks_anyone_even_without_a_job(db):
    device = factories.device()
    code_a, _ = factories.code()
    code_b, _ = factories.code()
    start = utcnow()
    first = reservations.reserve(code_a, device.offer_key, method=PaymentMethod.CARD_ONLINE, now=start)
    assert first.status == R.PENDING_PAYMENT
    assert catalog.get_offer(device.offer_key) is None
    later = start + timedelta(minutes=40)
    assert first.state(later) == R.EXPIRED
    second = reservations.reserve(code_b, device.offer_key, method=PaymentMethod.COUNTER, now=later)
    assert second.device_id == device.id
    db.session.refresh(first)
    assert first.status == R.EXPIRED
    history = db.session.scalars(sa.select(DeviceEvent.to_status).where(DeviceEvent.device_id == device.id)
                                 .order_by(DeviceEvent.id)).all()
    assert history[-3:] == [DeviceStatus.RESERVED, DeviceStatus.LISTED, DeviceStatus.RESERVED]
    # and the first code is free again for another device
    other = factories.device(model="Again")
    reservations.reserve(code_a, other.offer_key, method=PaymentMethod.COUNTER, now=later)


def test_cancel_frees_the_unit_and_the_code(db):
    device = factories.device()
    code, _ = factories.code()
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    assert reservations.cancel(reservation, reason="changed my mind") == 0
    assert reservation.status == R.CANCELLED
    db.session.refresh(device)
    assert device.status == DeviceStatus.LISTED
    reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    with pytest.raises(DomainError):
        reservations.cancel(reservation, reason="twice")


def test_the_code_and_its_live_reservation_in_one_statement_say_what_the_two_reads_say(db, staff, count_queries):
    """What the reserve page and the reservation read: the same code and the same running
    reservation as codes.get and live_reservation, through a code's whole life, in one statement."""
    from shop.services import codes

    first, second = factories.device(), factories.device()
    code, _ = factories.code()

    def agree(now=None):
        with count_queries() as counter:
            found, live = reservations.code_and_live_reservation(code.id, now)
        assert counter.count == 1
        assert found is codes.get(code.id) and found.beneficiary is not None
        assert live == reservations.live_reservation(code.id, now)
        return live

    assert agree() is None
    cancelled = reservations.reserve(code, first.offer_key, method=PaymentMethod.COUNTER)
    assert agree() == cancelled
    reservations.cancel(cancelled, reason="changed my mind")
    assert agree() is None
    running = reservations.reserve(code, second.offer_key, method=PaymentMethod.COUNTER)
    assert agree() == running
    assert agree(now=running.held_until + timedelta(minutes=1)) is None  # its hold ran out
    reservations.hand_over(running, actor=staff, channel=PaymentChannel.CASH)
    assert agree() == running  # picked up: it still holds the code
    assert reservations.code_and_live_reservation(code.id + 1000) == (None, None)


def test_hand_over_sells_the_device_uses_the_code_and_takes_payment(db, staff):
    device = factories.device()
    code, _ = factories.code()
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    with pytest.raises(DomainError):
        reservations.hand_over(reservation, actor=staff)  # amount due, no payment given
    reservations.hand_over(reservation, actor=staff, channel=PaymentChannel.CASH)
    db.session.refresh(device)
    db.session.refresh(code)
    assert (reservation.status, device.status, code.status) == (R.PICKED_UP, DeviceStatus.SOLD, CodeState.USED)
    assert db.session.scalar(sa.select(sa.func.sum(Payment.amount_cents))) == device.price_cents
    with pytest.raises(DomainError):
        reservations.hand_over(reservation, actor=staff, channel=PaymentChannel.CASH)


def test_limits_are_checked_again_when_the_code_is_used(db, staff):
    person = factories.beneficiary()
    point = factories.pickup_point()
    first, second = factories.device(point=point), factories.device(point=point, model="Second")
    code, _ = factories.code(person, categories=("computer",))
    reservation = reservations.reserve(code, first.offer_key, method=PaymentMethod.COUNTER)
    reservations.hand_over(reservation, actor=staff, channel=PaymentChannel.CARD_TERMINAL)
    # A second code slipped through (e.g. issued by another structure before the purchase).
    other_code = EligibilityCode(code_hash="x" * 64, beneficiary_id=person.id, organisation_id=person.organisation_id,
                                 categories="computer", issued_at=utcnow(), expires_at=utcnow() + timedelta(days=90))
    db.session.add(other_code)
    db.session.flush()
    with pytest.raises(DomainError, match="12 months"):
        reservations.reserve(other_code, second.offer_key, method=PaymentMethod.COUNTER)


def test_expire_holds_releases_run_out_holds_and_is_safe_twice(db):
    device = factories.device()
    code, _ = factories.code()
    start = utcnow()
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.CARD_ONLINE, now=start)
    assert reservations.expire_holds(start) == 0
    later = start + timedelta(hours=1)
    assert reservations.expire_holds(later) == 1
    assert reservations.expire_holds(later) == 0
    db.session.refresh(device)
    db.session.refresh(reservation)
    assert device.status == DeviceStatus.LISTED and reservation.status == R.EXPIRED




def test_twenty_people_on_the_last_unit_give_exactly_one_reservation(app, db):
    key = factories.device().offer_key
    code_ids = [factories.code()[0].id for _ in range(20)]
    db.session.commit()

    def work(code_id):
        from shop.extensions import db as _db

        reservations.reserve(_db.session.get(EligibilityCode, code_id), key, method=PaymentMethod.COUNTER)

    outcomes = race_each(app, code_ids, work)
    assert outcomes.count("won") == 1
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 1


def test_one_code_on_two_devices_at_once_gives_one_reservation(app, db):
    point = factories.pickup_point()
    keys = [factories.device(point=point, model=f"Model {n}").offer_key for n in range(2)]
    code_id = factories.code()[0].id
    db.session.commit()

    def work(key):
        from shop.extensions import db as _db

        reservations.reserve(_db.session.get(EligibilityCode, code_id), key, method=PaymentMethod.COUNTER)

    outcomes = race_each(app, keys, work)
    assert outcomes.count("won") == 1
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Device.id)).where(Device.status == DeviceStatus.RESERVED)) == 1


def test_control_a_naive_read_then_write_gives_the_unit_twice(app, db):
    """The race tests above can fail: a naive check-in-Python version lets several people win."""
    device_id = factories.device().id
    db.session.commit()
    read_done = threading.Barrier(10, timeout=30)

    def naive(_):
        from shop.extensions import db as _db

        status = _db.session.scalar(sa.select(Device.status).where(Device.id == device_id))
        _db.session.commit()
        read_done.wait()  # everyone has read "listed" before anyone writes
        if status != DeviceStatus.LISTED:
            raise DomainError("taken")
        _db.session.execute(sa.update(Device).where(Device.id == device_id).values(status=DeviceStatus.RESERVED))
        _db.session.add(DeviceEvent(device_id=device_id, from_status=DeviceStatus.LISTED, to_status=DeviceStatus.RESERVED))

    outcomes = race_each(app, range(10), naive)
    assert outcomes.count("won") > 1


def test_expire_holds_command_reminds_once_before_deadlines(app, db):
    from sqlalchemy import update

    person = factories.beneficiary(email="amina@example.org", language="ar")
    code, _ = factories.code(person, categories=("computer",))
    device = factories.device()
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    db.session.execute(update(Reservation).where(Reservation.id == reservation.id)
                       .values(held_until=utcnow() + timedelta(days=1)))
    other_person = factories.beneficiary(email="oleks@example.org", language="uk")
    expiring, _ = factories.code(other_person, categories=("smartphone",))
    db.session.execute(update(EligibilityCode).where(EligibilityCode.id == expiring.id)
                       .values(expires_at=utcnow() + timedelta(hours=30)))
    db.session.commit()
    outbox = app.extensions.setdefault("mail_outbox", [])
    outbox.clear()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["expire-holds"])
    assert first.exit_code == 0, first.output
    sent = list(outbox)
    recipients = sorted(m["To"] for m in sent)
    # the beneficiary with an e-mail address and the social worker who issued the code, for each
    assert "amina@example.org" in recipients and "oleks@example.org" in recipients
    assert len(recipients) == 4
    arabic = next(m for m in sent if m["To"] == "amina@example.org")
    assert any("\u0600" <= ch <= "\u06ff" for ch in arabic.get_content())  # in the person's language
    second = runner.invoke(args=["expire-holds"])
    assert second.exit_code == 0 and len(outbox) == 4
    assert "sent 0 reminders" in second.output


def test_reserving_takes_exactly_one_unit_of_an_offer_with_several(db):
    """The unit is picked and taken in one statement on PostgreSQL: it must take one unit, not all."""
    point = factories.pickup_point()
    units = [factories.device(point=point) for _ in range(3)]
    assert len({u.offer_key for u in units}) == 1
    code, _ = factories.code()
    reservation = reservations.reserve(code, units[0].offer_key, method=PaymentMethod.COUNTER)
    reserved = db.session.scalars(sa.select(Device.id).where(Device.status == DeviceStatus.RESERVED)).all()
    assert reserved == [reservation.device_id] == [units[0].id]  # the first unit, in id order
    taken_events = db.session.scalars(sa.select(DeviceEvent.device_id).where(DeviceEvent.to_status == DeviceStatus.RESERVED)).all()
    assert taken_events == [units[0].id]
    assert catalog.get_offer(units[0].offer_key).count == 2


def test_ten_people_on_an_offer_with_three_units_give_three_reservations(app, db):
    point = factories.pickup_point()
    key = [factories.device(point=point) for _ in range(3)][0].offer_key
    code_ids = [factories.code()[0].id for _ in range(10)]
    db.session.commit()

    def work(code_id):
        from shop.services import codes

        reservations.reserve(codes.get(code_id), key, method=PaymentMethod.COUNTER)

    outcomes = race_each(app, code_ids, work)
    assert outcomes.count("won") == 3
    device_ids = db.session.scalars(sa.select(Reservation.device_id)).all()
    assert len(device_ids) == len(set(device_ids)) == 3
    assert db.session.scalar(sa.select(sa.func.count(Device.id)).where(Device.status == DeviceStatus.RESERVED)) == 3


def _reserve_counting(db, count_queries, code_id, key, *, category_known=False):
    from shop.services import catalog, codes

    if not category_known:  # a process remembers the category of the offer keys it has seen
        catalog._category_of_key.clear()
    db.session.commit()
    db.session.expunge_all()  # as in a request: nothing loaded yet
    with count_queries() as counter:
        code = codes.get(code_id)  # the code and its holder (the request's own load)
        reservation = reservations.reserve(code, key, method=PaymentMethod.COUNTER)
        db.session.commit()  # the catalog's versions are bumped by the database's triggers: no statement
    return reservation, counter


def test_a_reservation_costs_a_fixed_small_number_of_statements(db, count_queries):
    """Code+holder, offer category, the code's and the person's reservations, whether the offer's
    pickup point requires a time (none was chosen), take the unit (one
    statement on PostgreSQL, read then update elsewhere), its history event, the reservation,
    the person's activity, the audit entry (the offer row and the catalog's version are kept by
    triggers, in the same statements). No SAVEPOINT either: nothing
    had been written before (see tests/test_tx.py)."""
    device = factories.device()
    code, _ = factories.code()
    db.session.execute(sa.update(Beneficiary).where(Beneficiary.id == code.beneficiary_id)
                       .values(last_activity_at=utcnow() - timedelta(days=3)))
    reservation, counter = _reserve_counting(db, count_queries, code.id, device.offer_key)
    take = 1 if db.engine.dialect.name == "postgresql" else 2
    assert counter.count == 8 + take, "\n".join(counter.statements)
    assert db.session.get(Beneficiary, reservation.beneficiary_id).last_activity_at > utcnow() - timedelta(minutes=5)


def test_a_person_active_recently_is_not_written_again(db, count_queries):
    device = factories.device()
    code, _ = factories.code()  # issuing the code just noted the person's activity
    reservation, counter = _reserve_counting(db, count_queries, code.id, device.offer_key)
    take = 1 if db.engine.dialect.name == "postgresql" else 2
    assert counter.count == 7 + take, "\n".join(counter.statements)
    assert not any(s.lstrip().upper().startswith("UPDATE BENEFICIARIES") for s in counter.statements)
    assert reservation.status == R.CONFIRMED


def test_the_category_of_an_offer_is_looked_up_once_per_process(db, count_queries):
    point = factories.pickup_point()
    first, second = factories.device(point=point), factories.device(point=point)
    key = first.offer_key
    assert key == second.offer_key
    codes_ = [factories.code()[0].id for _ in range(2)]
    _, counter = _reserve_counting(db, count_queries, codes_[0], key)
    assert any("SELECT offers.category" in s for s in counter.statements)
    _, counter = _reserve_counting(db, count_queries, codes_[1], key, category_known=True)
    assert not any("SELECT offers.category" in s for s in counter.statements), "\n".join(counter.statements)


@pytest.mark.parametrize("column", ["pickup_code", "number"])
def test_a_clash_on_a_drawn_number_or_pickup_code_draws_again(db, monkeypatch, column):
    """Six digits can clash with another running reservation's pickup code: new ones are drawn,
    and nothing of the first try remains (one unit taken, one history event, one audit entry)."""
    point = factories.pickup_point()
    first_unit, second_unit = factories.device(point=point), factories.device(point=point, model="Other")
    first = reservations.reserve(factories.code()[0], first_unit.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    taken = getattr(first, column)
    alphabet = "0123456789" if column == "pickup_code" else reservations.NUMBER_ALPHABET
    draws = []
    real = reservations._random

    def clash_once(chars, length):
        if chars == alphabet and not draws:
            draws.append(taken)
            return taken
        return real(chars, length)

    monkeypatch.setattr(reservations, "_random", clash_once)
    code, _ = factories.code()
    db.session.commit()
    second = reservations.reserve(code, second_unit.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    assert draws == [taken] and getattr(second, column) != taken
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 2
    events = db.session.scalars(sa.select(DeviceEvent.device_id).where(DeviceEvent.to_status == DeviceStatus.RESERVED)).all()
    assert sorted(events) == sorted([first_unit.id, second_unit.id])
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "reservation.create")) == 2


def test_endless_clashes_end_in_a_plain_message(db, monkeypatch):
    point = factories.pickup_point()
    first_unit, second_unit = factories.device(point=point), factories.device(point=point, model="Other")
    first = reservations.reserve(factories.code()[0], first_unit.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    real = reservations._random
    monkeypatch.setattr(reservations, "_random",
                        lambda chars, length: first.pickup_code if chars == "0123456789" else real(chars, length))
    code, _ = factories.code()
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        reservations.reserve(code, second_unit.offer_key, method=PaymentMethod.COUNTER)
    assert "try again" in str(refused.value.message)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 1
    assert db.session.get(Device, second_unit.id).status == DeviceStatus.LISTED


def test_alternatives_are_the_cheapest_offers_of_the_kind_at_a_cost_that_does_not_grow(db, count_queries):
    point = factories.pickup_point()
    gone = factories.device(point=point, model="Gone", price_cents=5000)
    for n in range(12):
        factories.device(point=point, model=f"Model {n}", price_cents=20000 - 1000 * n)
    factories.device(point=point, category=Category.SMARTPHONE, model="Phone", price_cents=1000)
    gone = gone.offer_key
    db.session.commit()
    with count_queries() as few:
        first = reservations.alternatives(Category.LAPTOP, exclude=gone)
    assert [o.model for o in first] == ["Model 11", "Model 10", "Model 9"]
    for n in range(12, 40):
        factories.device(point=point, model=f"Model {n}", price_cents=30000 + n)
    db.session.commit()
    with count_queries() as more:
        again = reservations.alternatives(Category.LAPTOP, exclude=gone)
    assert [o.model for o in again] == ["Model 11", "Model 10", "Model 9"]
    assert few.count == more.count == 1, "\n".join(more.statements)  # from the offer rows
