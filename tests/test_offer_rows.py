"""The offer rows are exactly a recount of the units, whatever changes them and however.

The rows are kept by database triggers (migration 9f3b7c21d4e8), so this runs every kind of
change a unit goes through: the lifecycle service, reserving, holds running out by the clock,
cancellations, sales, edits, bulk imports, moves to another point, a hand-written UPDATE (as a
waitlist turn or a script would make) and deletions, then compares the rows with a recount.
"""

import threading
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from shop.extensions import db
from shop.models import Category, Device, DeviceStatus, Grade, OfferRow, Role
from shop.models.stock import offer_key_for
from shop.models.types import utcnow
from shop.services import catalog, devices
from shop.services.errors import DomainError
from tests import factories
from tests.conftest import _empty_tables

S = DeviceStatus
MODELS = ("T480", "X270")
PRICES = (9000, 12000)


def recount(now) -> dict:
    """What the offer rows must hold, computed from every unit."""
    expected = {}
    for unit in db.session.scalars(sa.select(Device)):
        row = expected.setdefault(unit.offer_key, dict(listed=0, battery=[], held=0, hold_ends=[], available=0))
        if unit.status == S.LISTED:
            row["listed"] += 1
            row["available"] += 1
            if unit.battery_health is not None:
                row["battery"].append(unit.battery_health)
        elif unit.status == S.RESERVED:
            row["held"] += 1
            if unit.held_until is not None:
                row["hold_ends"].append(unit.held_until)
                row["available"] += unit.held_until <= now
    return expected


def assert_rows_match_the_units(now) -> None:
    db.session.expire_all()
    expected = recount(now)
    rows = {row.offer_key: row for row in db.session.scalars(sa.select(OfferRow))}
    assert set(rows) == set(expected)
    for key, want in expected.items():
        row = rows[key]
        assert (row.listed, row.held) == (want["listed"], want["held"]), key
        assert row.listed_battery_min == (min(want["battery"]) if want["battery"] else None)
        assert row.listed_battery_max == (max(want["battery"]) if want["battery"] else None)
        assert row.first_hold_end == (min(want["hold_ends"]) if want["hold_ends"] else None)
    # And what the catalog shows is the units available at this moment, holds run out included.
    shown = {o.offer_key: o.count for o in catalog.list_offers(catalog.OfferFilters(), per_page=100, now=now).offers}
    assert shown == {key: want["available"] for key, want in expected.items() if want["available"]}


class OfferRowMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        db.session.rollback()
        _empty_tables()
        self.points = [factories.pickup_point().id for _ in range(2)]
        self.staff = factories.user(Role.STAFF)
        db.session.commit()
        self.now = utcnow()
        self.serial = 0

    def _units(self, status):
        return list(db.session.scalars(sa.select(Device.id).where(Device.status == status).order_by(Device.id)))

    def _keys(self):
        return list(db.session.scalars(sa.select(Device.offer_key).distinct().order_by(Device.offer_key)))

    def _commit(self, work) -> None:
        try:
            work()
        except DomainError:
            db.session.rollback()
        else:
            db.session.commit()

    @rule(model=st.integers(0, 1), price=st.integers(0, 1), point=st.integers(0, 1), battery=st.sampled_from([None, 80, 95]))
    def list_a_unit(self, model, price, point, battery):
        factories.device(model=MODELS[model], price_cents=PRICES[price], pickup_point_id=self.points[point],
                         battery_health=battery)
        db.session.commit()

    @rule(count=st.integers(1, 3), model=st.integers(0, 1), listed=st.booleans())
    def import_in_bulk(self, count, model, listed):
        """As the CSV import and the benches do: one INSERT of many rows, past the ORM."""
        rows = []
        for _ in range(count):
            self.serial += 1
            values = dict(serial_number=f"BULK-{self.serial}", category=Category.LAPTOP, brand="Lenovo",
                          model=MODELS[model], grade=Grade.B, price_cents=PRICES[0], battery_health=88,
                          pickup_point_id=self.points[0], status=S.LISTED if listed else S.RECEIVED,
                          passport_token=f"bulk-{self.serial}")
            values["offer_key"] = offer_key_for(values)
            rows.append(values)
        db.session.execute(sa.insert(Device), rows)
        db.session.commit()

    @rule(which=st.integers(0, 5), minutes=st.sampled_from([5, 30, 60 * 24]))
    def reserve(self, which, minutes):
        keys = self._keys()
        if keys:
            key = keys[which % len(keys)]
            self._commit(lambda: devices.take_unit(key, held_until=self.now + timedelta(minutes=minutes), now=self.now))

    @rule(which=st.integers(0, 5), minutes=st.sampled_from([10, 60]))
    def take_by_hand(self, which, minutes):
        """A plain conditional UPDATE, as another feature (a waitlist turn) would write it."""
        units = self._units(S.LISTED)
        if units:
            db.session.execute(sa.update(Device).where(Device.id == units[which % len(units)], Device.status == S.LISTED)
                               .values(status=S.RESERVED, held_until=self.now + timedelta(minutes=minutes)))
            db.session.commit()

    @rule(minutes=st.sampled_from([6, 31, 61]))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)

    @rule(which=st.integers(0, 5))
    def cancel_or_expire(self, which):
        units = self._units(S.RESERVED)
        if units:
            self._commit(lambda: devices.release(units[which % len(units)], now=self.now))

    @rule(which=st.integers(0, 5), minutes=st.sampled_from([-10, 120]))
    def move_the_hold(self, which, minutes):
        units = self._units(S.RESERVED)
        if units:
            devices.set_hold(units[which % len(units)], self.now + timedelta(minutes=minutes), now=self.now)
            db.session.commit()

    @rule(which=st.integers(0, 5))
    def sell(self, which):
        units = self._units(S.RESERVED)
        if units:
            self._commit(lambda: devices.transition(units[which % len(units)], S.RESERVED, S.SOLD))

    @rule(which=st.integers(0, 5), price=st.integers(0, 1), point=st.integers(0, 1), battery=st.sampled_from([70, 90]))
    def edit(self, which, price, point, battery):
        units = self._units(S.LISTED)
        if units:
            unit = db.session.get(Device, units[which % len(units)])
            self._commit(lambda: devices.edit_device(unit, {"price_cents": PRICES[price], "battery_health": battery,
                                                            "pickup_point_id": self.points[point]}, actor=self.staff))

    @rule(which=st.integers(0, 5), back=st.booleans())
    def withdraw_or_list_again(self, which, back):
        units = self._units(S.WITHDRAWN if back else S.LISTED)
        if units:
            to = S.LISTED if back else S.WITHDRAWN
            self._commit(lambda: devices.transition(units[which % len(units)], S.WITHDRAWN if back else S.LISTED, to))

    @rule(which=st.integers(0, 5))
    def delete(self, which):
        units = list(db.session.scalars(sa.select(Device.id).order_by(Device.id)))
        if units:
            db.session.execute(sa.delete(Device).where(Device.id == units[which % len(units)]))
            db.session.commit()

    @invariant()
    def rows_match_the_units(self):
        assert_rows_match_the_units(self.now)


def test_offer_rows_always_match_a_recount_of_the_units(app, db):
    run_state_machine_as_test(
        OfferRowMachine,
        settings=settings(max_examples=12, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )


def test_a_raw_update_of_many_units_at_once_keeps_the_rows_exact(db):
    point = factories.pickup_point()
    for n in range(6):
        factories.device(point=point, model=MODELS[n % 2])
    db.session.commit()
    now = utcnow()
    db.session.execute(sa.update(Device).values(status=S.RESERVED, held_until=now + timedelta(minutes=5)))
    db.session.commit()
    assert_rows_match_the_units(now)
    assert catalog.list_offers(catalog.OfferFilters(), now=now).total == 0
    later = now + timedelta(minutes=6)  # every hold ran out, and no job ran
    assert_rows_match_the_units(later)
    assert catalog.list_offers(catalog.OfferFilters(), now=later).total == 2


def test_concurrent_reservations_of_one_offer_keep_its_row_exact(app, db):
    """Threads, each with its own session and connection, take units of the same offer and
    release others at the same time: the row's counts are the units' (PostgreSQL runs them in
    parallel; SQLite one writer at a time)."""
    point = factories.pickup_point()
    for _ in range(12):
        factories.device(point=point)
    key = factories.device(point=point).offer_key
    db.session.commit()
    now, errors = utcnow(), []

    def worker(n):
        with app.app_context():
            try:
                for _ in range(3):
                    taken = devices.take_unit(key, held_until=now + timedelta(minutes=30), now=now)
                    db.session.commit()
                    if taken is not None and n % 2:
                        devices.release(taken.id, now=now)
                        db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    busy = [e for e in errors if "locked" not in str(e)]  # SQLite may answer "database is locked"
    assert busy == []
    assert_rows_match_the_units(now)
    row = db.session.get(OfferRow, key)
    assert row.listed + row.held == 13


def test_reserving_a_laptop_bumps_only_the_versions_of_laptops_at_its_point(db):
    here, there = factories.pickup_point(), factories.pickup_point()
    phone = factories.device(point=here, category=Category.SMARTPHONE, model="Phone", price_cents=8000)
    laptop = factories.device(point=here)
    factories.device(point=there)
    db.session.commit()
    before = catalog.versions()
    devices.take_unit(laptop.offer_key, held_until=utcnow() + timedelta(minutes=30), now=utcnow())
    db.session.commit()
    after = catalog.versions()
    assert after.of_page(Category.LAPTOP, here.id) > before.of_page(Category.LAPTOP, here.id)
    assert after.of_page(None, here.id) > before.of_page(None, here.id)
    assert after.of_page(Category.SMARTPHONE, None) == before.of_page(Category.SMARTPHONE, None)
    assert after.of_page(None, there.id) == before.of_page(None, there.id)
    assert after.of_page() > before.of_page()  # the home page counts every kind
    assert phone.offer_key != laptop.offer_key
