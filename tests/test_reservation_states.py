"""A stateful property test over reserve, pay, expire, cancel, refund and pickup."""

from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule, run_state_machine_as_test

from shop.extensions import db
from shop.models import (
    ACTIVE_STATUSES, CodeState, Device, DeviceStatus, EligibilityCode, Payment, PaymentChannel, PaymentKind,
    PaymentMethod, Reservation, ReservationStatus, Role,
)
from shop.models.types import utcnow
from shop.services import reservations
from shop.services.errors import DomainError
from tests import factories
from tests.conftest import _empty_tables


class ReservationMachine(RuleBasedStateMachine):
    reserved = Bundle("reserved")

    def __init__(self):
        super().__init__()
        db.session.rollback()
        _empty_tables()
        point = factories.pickup_point()
        self.offers = [factories.device(point=point).offer_key for _ in range(2)][:1]
        self.offers.append(factories.device(point=point, model="Other").offer_key)
        people = [factories.beneficiary() for _ in range(3)]
        self.codes = [factories.code(p, categories=("computer",))[0].id for p in people]
        self.staff = factories.user(Role.STAFF)
        db.session.commit()
        self.now = utcnow()

    def _attempt(self, work):
        try:
            result = work()
        except DomainError:
            db.session.rollback()
            return None
        db.session.commit()
        return result

    @rule(target=reserved, code=st.integers(0, 2), offer=st.integers(0, 1), online=st.booleans())
    def reserve(self, code, offer, online):
        method = PaymentMethod.CARD_ONLINE if online else PaymentMethod.COUNTER
        found = self._attempt(lambda: reservations.reserve(db.session.get(EligibilityCode, self.codes[code]),
                                                           self.offers[offer], method=method, now=self.now))
        return found.id if found else multiple()

    @rule(reservation=reserved)
    def pay_online(self, reservation):
        row = db.session.get(Reservation, reservation)
        if row.payment_method == PaymentMethod.CARD_ONLINE:
            self._attempt(lambda: reservations.record_online_payment(
                row, amount_cents=row.amount_cents, reference=f"pi_{row.id}", now=self.now))

    @rule(minutes=st.sampled_from([5, 40, 60 * 24 * 15]))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)

    @rule()
    def expire_job(self):
        self._attempt(lambda: reservations.expire_holds(self.now))

    @rule(reservation=reserved)
    def cancel(self, reservation):
        row = db.session.get(Reservation, reservation)

        def work():
            refund = reservations.cancel(row, reason="test", now=self.now)
            if refund:
                db.session.add(Payment(reservation_id=row.id, kind=PaymentKind.REFUND, channel=PaymentChannel.STRIPE,
                                       status="done", amount_cents=refund, provider_reference=f"pi_{row.id}"))

        self._attempt(work)

    @rule(reservation=reserved, channel=st.sampled_from([PaymentChannel.CASH, PaymentChannel.CHEQUE, None]))
    def pickup(self, reservation, channel):
        row = db.session.get(Reservation, reservation)
        staff = db.session.merge(self.staff)
        self._attempt(lambda: reservations.hand_over(row, actor=staff, channel=channel, now=self.now))

    @invariant()
    def a_device_is_never_in_two_running_reservations(self):
        rows = db.session.scalars(sa.select(Reservation).where(Reservation.status.in_(ACTIVE_STATUSES))).all()
        running = [r.device_id for r in rows if r.state(self.now).value in ACTIVE_STATUSES]
        assert len(running) == len(set(running))
        stored = [r.device_id for r in rows]
        assert len(stored) == len(set(stored))

    @invariant()
    def a_code_is_never_used_twice(self):
        picked = db.session.execute(
            sa.select(Reservation.code_id, sa.func.count()).where(Reservation.status == ReservationStatus.PICKED_UP)
            .group_by(Reservation.code_id)
        ).all()
        assert all(n == 1 for _, n in picked)
        used = set(db.session.scalars(sa.select(EligibilityCode.id).where(EligibilityCode.status == CodeState.USED)))
        assert used == {code_id for code_id, _ in picked}

    @invariant()
    def a_sold_device_has_exactly_one_settled_pickup(self):
        for device in db.session.scalars(sa.select(Device).where(Device.status == DeviceStatus.SOLD)):
            pickups = db.session.scalars(sa.select(Reservation).where(
                Reservation.device_id == device.id, Reservation.status == ReservationStatus.PICKED_UP)).all()
            assert len(pickups) == 1
            paid = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0)).where(
                Payment.reservation_id == pickups[0].id, Payment.kind == PaymentKind.PAYMENT))
            assert paid == pickups[0].amount_cents == device.price_cents

    @invariant()
    def a_reserved_device_is_held_by_a_stored_active_reservation_or_a_run_out_one(self):
        for device in db.session.scalars(sa.select(Device).where(Device.status == DeviceStatus.RESERVED)):
            holder = db.session.scalar(sa.select(Reservation).where(
                Reservation.device_id == device.id, Reservation.status.in_(ACTIVE_STATUSES)))
            assert holder is not None


def test_reservation_state_machine(app, db):
    run_state_machine_as_test(
        ReservationMachine,
        settings=settings(max_examples=30, stateful_step_count=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
