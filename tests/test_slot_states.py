"""A stateful property test over pickup slots: reserving, choosing and changing a slot, cancelling,
closing a day, time passing, the sweep (missed pickups) and handing over."""

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule, run_state_machine_as_test

from shop.extensions import db
from shop.models import (
    ACTIVE_STATUSES, Device, DeviceStatus, EligibilityCode, PaymentChannel, PaymentMethod, PickupPoint, PickupSlot,
    Reservation,
    ReservationStatus, Role,
)
from shop.services import reservations, slots
from shop.services.errors import DomainError
from tests import factories
from tests.conftest import _empty_tables

MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=timezone.utc)  # 8:00 in Paris
R = ReservationStatus


class SlotMachine(RuleBasedStateMachine):
    reserved = Bundle("reserved")

    def __init__(self):
        super().__init__()
        db.session.rollback()
        _empty_tables()
        self.admin = factories.user(Role.ADMIN)
        self.staff = factories.user(Role.STAFF)
        point = factories.pickup_point()
        self.point_id = point.id
        slots.set_mode(point, "optional", actor=self.admin)
        # Mondays 9:00-10:00, 30-minute slots for 1 person; Tuesdays 9:00-10:00 for 2.
        for weekday, capacity in ((0, 1), (1, 2)):
            slots.add_template(point, weekday=weekday, start_minute=540, end_minute=600, slot_minutes=30,
                               capacity=capacity, actor=self.admin, now=MONDAY)
        self.offer = factories.device(point=point).offer_key
        for _ in range(2):
            factories.device(point=point)
        self.codes = [factories.code(categories=("computer",))[0].id for _ in range(4)]
        db.session.commit()
        self.now = MONDAY

    def _attempt(self, work):
        try:
            result = work()
        except DomainError:
            db.session.rollback()
            return None
        db.session.commit()
        return result

    def _slot_ids(self):
        return db.session.scalars(sa.select(PickupSlot.id).where(PickupSlot.pickup_point_id == self.point_id)
                                  .order_by(PickupSlot.starts_at)).all()

    @rule(target=reserved, code=st.integers(0, 3))
    def reserve(self, code):
        found = self._attempt(lambda: reservations.reserve(db.session.get(EligibilityCode, self.codes[code]),
                                                           self.offer, method=PaymentMethod.COUNTER, now=self.now))
        return found.id if found else multiple()

    @rule(reservation=reserved, index=st.integers(0, 5))
    def choose_slot(self, reservation, index):
        ids = self._slot_ids()
        if ids:
            row = db.session.get(Reservation, reservation)
            self._attempt(lambda: slots.choose(row, ids[index % len(ids)], now=self.now))

    @rule(reservation=reserved)
    def cancel(self, reservation):
        row = db.session.get(Reservation, reservation)
        self._attempt(lambda: reservations.cancel(row, reason="test", now=self.now))

    @rule(reservation=reserved)
    def pickup(self, reservation):
        row = db.session.get(Reservation, reservation)
        staff = db.session.merge(self.staff)
        self._attempt(lambda: reservations.hand_over(row, actor=staff, channel=PaymentChannel.CASH, now=self.now))

    @rule(day=st.sampled_from([date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 14)]))
    def close_a_day(self, day):
        point = db.session.get(PickupPoint, self.point_id)
        admin = db.session.merge(self.admin)
        self._attempt(lambda: slots.add_closure(point, day=day, reason="holiday", actor=admin, now=self.now))

    @rule(minutes=st.sampled_from([30, 60 * 3, 60 * 24, 60 * 24 * 15]))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)

    @rule()
    def sweep(self):
        self._attempt(lambda: reservations.expire_holds(self.now))
        # After the sweep nobody still waits whose slot (plus the grace) or deadline has passed.
        late = db.session.scalar(
            sa.select(sa.func.count(Reservation.id)).outerjoin(PickupSlot, PickupSlot.id == Reservation.slot_id)
            .where(Reservation.status.in_([R.CONFIRMED, R.READY]),
                   sa.or_(Reservation.held_until <= self.now, PickupSlot.ends_at <= self.now - slots.grace())))
        assert late == 0

    @invariant()
    def no_slot_is_over_capacity_and_booked_counts_its_reservations(self):
        for slot in db.session.scalars(sa.select(PickupSlot)):
            counted = db.session.scalar(sa.select(sa.func.count(Reservation.id)).where(Reservation.slot_id == slot.id))
            assert slot.booked == counted <= slot.capacity

    @invariant()
    def every_missed_pickup_released_its_unit(self):
        for missed in db.session.scalars(sa.select(Reservation).where(Reservation.status == R.MISSED)):
            device = db.session.get(Device, missed.device_id)
            later = db.session.scalar(sa.select(sa.func.count(Reservation.id)).where(
                Reservation.device_id == device.id, Reservation.id != missed.id,
                Reservation.status.in_([*ACTIVE_STATUSES, "picked_up"])))
            assert device.status == DeviceStatus.LISTED or later == 1

    @invariant()
    def a_stored_slot_belongs_to_the_reservations_point(self):
        rows = db.session.execute(sa.select(Reservation.pickup_point_id, PickupSlot.pickup_point_id)
                                  .join(PickupSlot, PickupSlot.id == Reservation.slot_id)).all()
        assert all(a == b for a, b in rows)


def test_slot_state_machine(app, db):
    run_state_machine_as_test(
        SlotMachine,
        settings=settings(max_examples=20, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
