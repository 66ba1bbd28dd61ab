"""After the sale: warranty periods, after-sale cases (repair, exchange, refund, refusal), the
device's way back into the pipeline, and returns in the reports."""

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from shop.models import (
    AftersaleCase, AuditEntry, CaseOutcome, Category, Device, DeviceEvent, DeviceStatus, Payment,
    PaymentChannel, PaymentKind, PaymentMethod, PaymentStatus, ReturnReason, Role,
)
from shop.extensions import db
from shop.models.types import utcnow
from shop.services import aftersale, devices, reservations, warranty
from shop.services.errors import Conflict, DomainError, NotFound
from tests import factories
from tests.concurrency import race_each
from tests.conftest import _empty_tables
from tests.stripe_fake import WEBHOOK_SECRET, FakeStripeHTTP, param

S = DeviceStatus


def _sold(point=None, staff=None, **device_values):
    """A device handed over at the counter (paid cash): returns (reservation, staff)."""
    point = point or factories.pickup_point()
    staff = staff or factories.user(Role.STAFF, pickup_point_id=point.id)
    device = factories.device(point=point, **device_values)
    code, _ = factories.code(categories=("computer", "smartphone"))
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    reservations.hand_over(reservation, actor=staff, channel=PaymentChannel.CASH)
    return reservation, staff


def _case(reservation, staff, reason=ReturnReason.BATTERY):
    sale = aftersale.find_sale(reservation.number, [reservation.pickup_point_id])
    return aftersale.open_case(sale, reason=reason, description="Battery lasts 10 minutes", actor=staff)


# --- Warranty ---------------------------------------------------------------------------------

def test_every_kind_has_a_default_and_computers_and_phones_get_six_months(db):
    assert set(warranty.DEFAULT_MONTHS) == set(Category)
    assert {warranty.months_for(c) for c in (Category.LAPTOP, Category.DESKTOP, Category.SMARTPHONE)} == {6}


@pytest.mark.parametrize("day, months, end", [
    (date(2026, 1, 15), 6, date(2026, 7, 15)),
    (date(2026, 8, 31), 6, date(2027, 2, 28)),
    (date(2027, 8, 31), 6, date(2028, 2, 29)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
])
def test_months_are_added_on_calendar_days(day, months, end):
    assert warranty.add_months(day, months) == end


def test_the_end_is_counted_from_the_paris_day_of_the_handover(db):
    # 23:30 UTC on 31 May is already 1 June in Paris.
    assert warranty.end_date(datetime(2026, 5, 31, 23, 30, tzinfo=timezone.utc), Category.LAPTOP) == date(2026, 12, 1)


def test_admins_set_periods_within_bounds_and_a_refusal_changes_nothing(db):
    admin = factories.user(Role.ADMIN)
    assert warranty.set_periods({Category.SCREEN: 12, Category.LAPTOP: 6}, actor=admin) == [Category.SCREEN]
    assert warranty.months_for(Category.SCREEN) == 12
    for bad in (0, -1, 61):
        with pytest.raises(DomainError, match="between 1 and 60"):
            warranty.set_periods({Category.TABLET: 3, Category.SCREEN: bad}, actor=admin)
    assert warranty.months_for(Category.SCREEN) == 12 and warranty.months_for(Category.TABLET) == 6
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "warranty.periods")) == 1


def test_a_sold_device_has_a_warranty_end_and_one_in_stock_has_none(db):
    reservation, _ = _sold()
    assert warranty.end_for_device(reservation.device) == warranty.add_months(
        devices.paris_date(reservation.picked_up_at), 6)
    assert warranty.end_for_device(factories.device()) is None


# --- Finding the sale -------------------------------------------------------------------------

def test_a_sale_is_found_by_number_pickup_code_or_serial_at_the_staffs_points(db):
    reservation, _ = _sold()
    points = [reservation.pickup_point_id]
    serial = reservation.device.serial_number
    for query in (reservation.number.lower(), reservation.pickup_code, f"  {serial.lower()} "):
        assert aftersale.find_sale(query, points).reservation.id == reservation.id
    with pytest.raises(DomainError):  # another point's staff
        aftersale.find_sale(serial, [factories.pickup_point().id])


def test_an_unknown_serial_gets_a_clear_message(db):
    with pytest.raises(NotFound, match="No device with this serial number"):
        aftersale.find_sale("NO-SUCH-SERIAL", [factories.pickup_point().id])
    with pytest.raises(DomainError, match="Enter a reservation number"):
        aftersale.find_sale("   ", [1])


def test_a_device_not_sold_cannot_be_returned(db):
    unit = factories.device()
    with pytest.raises(DomainError, match="not with a buyer"):
        aftersale.find_sale(unit.serial_number, [unit.pickup_point_id])


def test_one_open_case_per_device(db):
    reservation, staff = _sold()
    _case(reservation, staff)
    with pytest.raises(Conflict, match="already open"):
        _case(reservation, staff)


# --- Outcomes ---------------------------------------------------------------------------------

def test_repaired_keeps_the_device_with_the_person_and_is_decided_once(db):
    reservation, staff = _sold()
    case = _case(reservation, staff)
    aftersale.repair(case, actor=staff)
    assert case.outcome == CaseOutcome.REPAIRED and case.closed_at is not None
    assert reservation.device.status == S.SOLD
    with pytest.raises(Conflict, match="decided in the meantime"):
        aftersale.refuse(case, reason="too late", actor=staff)


def test_a_refusal_needs_a_reason(db):
    reservation, staff = _sold()
    case = _case(reservation, staff)
    with pytest.raises(DomainError, match="give a reason"):
        aftersale.refuse(case, reason="  ", actor=staff)
    aftersale.refuse(case, reason="Screen broken by a fall", actor=staff)
    assert case.outcome == CaseOutcome.REFUSED and case.refusal_reason == "Screen broken by a fall"


def test_an_exchange_sells_the_replacement_and_takes_the_returned_device_back_with_its_history(db):
    reservation, staff = _sold()
    returned = reservation.device
    replacement = factories.device(point=reservation.pickup_point, model="ThinkPad T490")
    case = _case(reservation, staff)
    aftersale.exchange(case, replacement_serial=replacement.serial_number, actor=staff)
    db.session.expire_all()
    assert case.outcome == CaseOutcome.EXCHANGED and case.replacement_id == replacement.id
    assert replacement.status == S.SOLD and returned.status == S.RECEIVED
    history = [(e.from_status, e.to_status) for e in returned.events]
    assert history[0] == (None, S.RECEIVED) and history[-1] == (S.SOLD, S.RECEIVED) and len(history) == 7
    assert all(r.superseded_at is not None for r in returned.erasure_records)
    # The person now has the replacement: a second return is about it, with its own warranty.
    sale = aftersale.find_sale(reservation.number, [reservation.pickup_point_id])
    assert sale.device.id == replacement.id and sale.warranty_end is not None
    assert {e.action for e in db.session.scalars(sa.select(AuditEntry))} >= {"aftersale.open", "aftersale.exchanged"}


def test_an_exchange_for_a_unit_someone_else_took_meanwhile_changes_nothing(db):
    reservation, staff = _sold()
    replacement = factories.device(point=reservation.pickup_point)
    case = _case(reservation, staff)
    db.session.commit()
    other, _ = factories.code()
    reservations.reserve(other, replacement.offer_key, method=PaymentMethod.COUNTER)  # taken first
    db.session.commit()
    with pytest.raises(Conflict, match="someone else took it"):
        aftersale.exchange(case, replacement_serial=replacement.serial_number, actor=staff)
    db.session.expire_all()
    assert case.outcome == CaseOutcome.OPEN and reservation.device.status == S.SOLD
    assert replacement.status == S.RESERVED


def test_an_exchange_needs_a_unit_of_the_same_kind_on_sale_at_the_point(db):
    reservation, staff = _sold()
    case = _case(reservation, staff)
    phone = factories.device(point=reservation.pickup_point, category=Category.SMARTPHONE, price_cents=8000)
    elsewhere = factories.device()
    with pytest.raises(DomainError, match="same kind"):
        aftersale.exchange(case, replacement_serial=phone.serial_number, actor=staff)
    for serial in (elsewhere.serial_number, "NOPE", reservation.device.serial_number):
        with pytest.raises(DomainError, match="No unit with this serial number"):
            aftersale.exchange(case, replacement_serial=serial, actor=staff)
    assert case.outcome == CaseOutcome.OPEN


def test_a_counter_refund_is_recorded_and_never_more_than_was_paid(db):
    reservation, staff = _sold(price_cents=12000)
    case = _case(reservation, staff)
    for amount, message in ((12001, "more than what was paid"), (0, "above zero"), (-5, "above zero")):
        with pytest.raises(DomainError, match=message):
            aftersale.refund(case, amount_cents=amount, channel=PaymentChannel.CASH, actor=staff)
    with pytest.raises(DomainError, match="how the money is given back"):
        aftersale.refund(case, amount_cents=100, channel=PaymentChannel.STRIPE, actor=staff)
    db.session.expire_all()
    assert case.outcome == CaseOutcome.OPEN and reservation.device.status == S.SOLD
    assert db.session.scalar(sa.select(sa.func.count()).where(Payment.kind == PaymentKind.REFUND)) == 0
    aftersale.refund(case, amount_cents=12000, channel=PaymentChannel.CASH, actor=staff)
    db.session.expire_all()
    refund = db.session.scalar(sa.select(Payment).where(Payment.kind == PaymentKind.REFUND))
    assert (refund.channel, refund.status, refund.amount_cents) == (PaymentChannel.CASH, PaymentStatus.DONE, 12000)
    assert case.outcome == CaseOutcome.REFUNDED and reservation.device.status == S.RECEIVED
    assert aftersale.refundable_cents(reservation) == 0


def test_a_refunded_device_no_longer_counts_in_the_yearly_limit_but_a_repaired_one_does(db):
    from shop.models import CodeCategory
    from shop.services import codes

    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    worker = factories.user(org=factories.organisation(monthly_quota=100))

    def sold(model):
        code, _ = factories.code(factories.beneficiary(worker), categories=("computer",), worker=worker)
        reservation = reservations.reserve(code, factories.device(point=point, model=model).offer_key,
                                           method=PaymentMethod.COUNTER)
        reservations.hand_over(reservation, actor=staff, channel=PaymentChannel.CASH)
        return reservation

    refunded, repaired = sold("First"), sold("Second")
    with pytest.raises(DomainError, match="one per 12 months"):  # both bought a computer this year
        codes.issue(refunded.beneficiary, [CodeCategory.COMPUTER], worker=worker)
    aftersale.refund(_case(refunded, staff), amount_cents=refunded.amount_cents, channel=PaymentChannel.CASH,
                     actor=staff)
    aftersale.repair(_case(repaired, staff), actor=staff)
    # The refunded sale is undone: a new code for a computer, and it can reserve one.
    code, _ = codes.issue(refunded.beneficiary, [CodeCategory.COMPUTER], worker=worker)
    again = reservations.reserve(code, factories.device(point=point, model="Third").offer_key,
                                 method=PaymentMethod.COUNTER)
    assert again.beneficiary_id == refunded.beneficiary_id
    with pytest.raises(DomainError, match="one per 12 months"):  # the repaired one still counts
        codes.issue(repaired.beneficiary, [CodeCategory.COMPUTER], worker=worker)


@pytest.fixture
def stripe_http(app, db):
    fake = FakeStripeHTTP()
    app.extensions["stripe_http_client"] = fake
    old = {k: app.config[k] for k in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")}
    app.config.update(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    yield fake
    app.config.update(old)
    app.extensions.pop("stripe_http_client", None)


def test_an_online_payment_is_refunded_to_the_card_through_stripe(db, stripe_http):
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    device = factories.device(point=point, price_cents=9000)
    code, _ = factories.code()
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.CARD_ONLINE)
    reservations.record_online_payment(reservation, amount_cents=9000, reference="pi_test_42")
    reservations.hand_over(reservation, actor=staff)
    case = _case(reservation, staff)
    with pytest.raises(DomainError, match="more than what was paid"):
        aftersale.refund(case, amount_cents=9001, channel=None, actor=staff)
    assert stripe_http.requests == []
    aftersale.refund(case, amount_cents=4000, channel=None, actor=staff)
    (call,) = stripe_http.requests
    assert call["url"].endswith("/v1/refunds")
    assert (param(call, "payment_intent"), param(call, "amount")) == ("pi_test_42", "4000")
    refund = db.session.scalar(sa.select(Payment).where(Payment.kind == PaymentKind.REFUND))
    assert (refund.channel, refund.status) == (PaymentChannel.STRIPE, PaymentStatus.DONE)
    assert case.refund_channel == PaymentChannel.STRIPE


# --- Back in the pipeline: a new erasure before listing ----------------------------------------

def _refunded(db):
    reservation, staff = _sold()
    case = _case(reservation, staff)
    aftersale.refund(case, amount_cents=reservation.paid_cents, channel=PaymentChannel.CASH, actor=staff)
    return reservation.device, staff


def test_a_returned_device_is_listed_again_only_after_a_new_erasure(db):
    device, staff = _refunded(db)
    devices.move_along(device, [S.ERASED, S.REFURBISHED], actor="test")
    with pytest.raises(DomainError, match="no successful data erasure"):
        devices.transition(device.id, S.REFURBISHED, S.LISTED)
    # The old certificate typed in again (performed before the return) does not count either.
    factories.erasure(device, performed_on=date(2026, 1, 20))
    with pytest.raises(DomainError, match="no successful data erasure"):
        devices.transition(device.id, S.REFURBISHED, S.LISTED)
    factories.erasure(device, performed_on=devices.paris_date(utcnow()), certificate_reference="CERT-NEW")
    devices.transition(device.id, S.REFURBISHED, S.LISTED)
    assert device.status == S.LISTED
    assert devices.passport(device.passport_token).erasure.certificate_reference == "CERT-NEW"


def test_a_sold_device_is_never_moved_back_by_hand(db):
    reservation, _ = _sold()
    assert devices.manual_moves(S.SOLD) == []
    with pytest.raises(DomainError):
        devices.move_by_hand(reservation.device, S.RECEIVED, actor="staff")


class ReturnMachine(RuleBasedStateMachine):
    """Sales, returns (exchange, refund, repair), erasure records old and new, failed ones, and
    attempts to list: a device that came back is never on sale without an erasure after its return."""

    def __init__(self):
        super().__init__()
        db.session.rollback()
        _empty_tables()
        self.point = factories.pickup_point()
        self.staff = factories.user(Role.STAFF, pickup_point_id=self.point.id)
        self.units = [factories.device(point=self.point, model=f"M{n}").id for n in range(3)]
        db.session.commit()

    def _unit(self, which):
        return db.session.get(Device, self.units[which % len(self.units)])

    def _try(self, work):
        try:
            work()
        except DomainError:
            db.session.rollback()
        else:
            db.session.commit()

    @initialize()
    def two_are_sold(self):
        """Start with two units with their buyers and one on the shelf (to exchange with)."""
        self.sell(0)
        self.sell(1)

    @rule(which=st.integers(0, 2))
    def sell(self, which):
        unit = self._unit(which)
        if unit.status != S.LISTED:
            return

        def work():
            code, _ = factories.code(categories=("computer",))
            reservation = reservations.reserve(code, unit.offer_key, method=PaymentMethod.COUNTER)
            reservations.hand_over(reservation, actor=self.staff, channel=PaymentChannel.CASH)
        self._try(work)

    @rule(which=st.integers(0, 2), outcome=st.sampled_from(["exchange", "refund", "repair"]), other=st.integers(0, 2))
    def bring_back(self, which, outcome, other):
        unit = self._unit(which)

        def work():
            sale = aftersale.find_sale(unit.serial_number, [self.point.id])
            case = aftersale.open_case(sale, reason=ReturnReason.SCREEN, description=None, actor=self.staff)
            if outcome == "exchange":
                aftersale.exchange(case, replacement_serial=self._unit(other).serial_number, actor=self.staff)
            elif outcome == "refund":
                aftersale.refund(case, amount_cents=sale.reservation.paid_cents, channel=PaymentChannel.CASH,
                                 actor=self.staff)
            else:
                aftersale.repair(case, actor=self.staff)
        self._try(work)

    @rule(which=st.integers(0, 2), when=st.sampled_from(["old", "today"]), ok=st.booleans())
    def record_erasure(self, which, when, ok):
        unit = self._unit(which)
        performed = date(2026, 1, 20) if when == "old" else devices.paris_date(utcnow())
        self._try(lambda: factories.erasure(unit, performed_on=performed, result="success" if ok else "failure"))

    @rule(which=st.integers(0, 2), steps=st.integers(1, 3))
    def advance(self, which, steps):
        """Towards the shelf, `steps` moves at most: received → erased → refurbished → listed."""
        following = {S.RECEIVED: S.ERASED, S.ERASED: S.REFURBISHED, S.REFURBISHED: S.LISTED}
        for _ in range(steps):
            unit = self._unit(which)
            if unit.status not in following:
                return
            self._try(lambda: devices.move_by_hand(unit, following[unit.status], actor="staff"))

    @invariant()
    def a_returned_device_on_sale_has_a_new_erasure(self):
        db.session.expire_all()
        for unit in db.session.scalars(sa.select(Device).where(Device.status == S.LISTED)):
            returned = db.session.scalars(sa.select(DeviceEvent.at).where(
                DeviceEvent.device_id == unit.id, DeviceEvent.from_status == S.SOLD,
                DeviceEvent.to_status == S.RECEIVED)).all()
            proofs = [r for r in unit.erasure_records if r.result.value == "success"]
            if returned:
                back = max(returned)
                proofs = [r for r in proofs if r.created_at >= back and r.performed_on >= devices.paris_date(back)]
            assert proofs, f"{unit.serial_number} is on sale without an erasure after its return"


def test_a_returned_device_is_never_listed_without_a_new_erasure_record(app, db):
    run_state_machine_as_test(ReturnMachine, settings=settings(
        max_examples=10, stateful_step_count=20, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


# --- Concurrency: two exchanges for the last unit -----------------------------------------------

def test_two_exchanges_racing_for_the_last_unit_give_it_once(app, db):
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    cases = [_case(*_sold(point=point, staff=staff)).id for _ in range(6)]
    last = factories.device(point=point, model="The last one")
    staff_id, serial = staff.id, last.serial_number
    db.session.commit()
    def exchange(case_id):
        from shop.extensions import db as _db
        from shop.models import User

        aftersale.exchange(_db.session.get(AftersaleCase, case_id), replacement_serial=serial,
                           actor=_db.session.get(User, staff_id))

    outcomes = race_each(app, cases, exchange)
    db.session.expire_all()
    assert outcomes.count("won") == 1
    decided = db.session.scalars(sa.select(AftersaleCase).where(AftersaleCase.outcome == CaseOutcome.EXCHANGED)).all()
    assert len(decided) == 1 and decided[0].replacement_id == last.id
    # The losers changed nothing: their cases are open, their devices still with their buyers.
    assert db.session.scalar(sa.select(sa.func.count()).where(AftersaleCase.outcome == CaseOutcome.OPEN)) == 5
    assert db.session.scalar(sa.select(sa.func.count()).where(Device.status == S.RECEIVED)) == 1


# --- Reports ----------------------------------------------------------------------------------

def test_returns_are_counted_per_batch_and_per_kind(db):
    batch = factories.batch(reference="B-RET")
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    sold = [_sold(point=point, staff=staff, batch_id=batch.id)[0] for _ in range(3)]
    cases = [_case(r, staff) for r in sold]
    aftersale.refund(cases[0], amount_cents=1000, channel=PaymentChannel.CASH, actor=staff)
    aftersale.repair(cases[1], actor=staff)
    report = aftersale.returns_report(donor_id=batch.donor_id)
    assert [(l.label, l.returns, l.taken_back) for l in report.by_batch] == [("B-RET", 3, 1)]
    assert [(str(l.label), l.returns, l.taken_back) for l in report.by_category] == [("Laptop", 3, 1)]
    assert report.total == 3
    assert aftersale.returns_report(donor_id=factories.batch().donor_id).total == 0
    assert aftersale.returns_report(since=utcnow() + timedelta(days=1)).total == 0


def test_the_returns_report_costs_the_same_statements_for_1_or_8_cases(db, count_queries):
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    counts = []
    for wanted in (1, 8):
        batch = factories.batch()
        while db.session.scalar(sa.select(sa.func.count()).select_from(AftersaleCase).join(
                Device, Device.id == AftersaleCase.device_id).where(Device.batch_id == batch.id)) < wanted:
            _case(_sold(point=point, staff=staff, batch_id=batch.id)[0], staff)
        batch_id = batch.id
        db.session.commit()
        with count_queries() as counter:
            assert aftersale.returns_report(batch_id=batch_id).total == wanted
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 3, counts
