import threading

import pytest
import sqlalchemy as sa

from shop.models import Category, Device, DeviceEvent, DeviceStatus
from shop.services import devices
from shop.services.errors import Conflict, DomainError, NotFound
from tests import factories

S = DeviceStatus


def test_full_lifecycle_is_recorded_in_the_history(db):
    device = factories.device(status=S.RECEIVED)
    factories.erasure(device)
    for target in (S.ERASED, S.REFURBISHED, S.LISTED, S.RESERVED, S.SOLD):
        devices.transition(device.id, device.status, target, actor="staff@example.org")
    db.session.commit()
    events = db.session.scalars(sa.select(DeviceEvent).where(DeviceEvent.device_id == device.id).order_by(DeviceEvent.id)).all()
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, S.RECEIVED), (S.RECEIVED, S.ERASED), (S.ERASED, S.REFURBISHED),
        (S.REFURBISHED, S.LISTED), (S.LISTED, S.RESERVED), (S.RESERVED, S.SOLD),
    ]
    assert events[-1].actor == "staff@example.org"
    assert events[-1].at.tzinfo is not None
    assert db.session.get(Device, device.id).status == S.SOLD


@pytest.mark.parametrize(
    "start, target",
    [(S.RECEIVED, S.LISTED), (S.RECEIVED, S.SOLD), (S.LISTED, S.SOLD), (S.SOLD, S.LISTED), (S.RECYCLED, S.LISTED)],
)
def test_illegal_moves_are_refused_and_change_nothing(db, start, target):
    device = factories.device(status=start)
    before = db.session.scalar(sa.select(sa.func.count(DeviceEvent.id)))
    with pytest.raises(DomainError):
        devices.transition(device.id, start, target)
    assert db.session.scalar(sa.select(sa.func.count(DeviceEvent.id))) == before


@pytest.mark.parametrize("records", [[], ["failure"]])
def test_listing_without_a_successful_erasure_is_refused_and_changes_nothing(db, records):
    device = factories.device(status=S.RECEIVED)
    for result in records:
        factories.erasure(device, result=result)
    devices.transition(device.id, S.RECEIVED, S.ERASED)
    devices.transition(device.id, S.ERASED, S.REFURBISHED)
    before = db.session.scalar(sa.select(sa.func.count(DeviceEvent.id)))
    with pytest.raises(DomainError) as refused:
        devices.transition(device.id, S.REFURBISHED, S.LISTED)
    assert "no successful data erasure" in str(refused.value)
    assert db.session.scalar(sa.select(sa.func.count(DeviceEvent.id))) == before
    assert db.session.scalar(sa.select(Device.status).where(Device.id == device.id)) == S.REFURBISHED
    factories.erasure(device)
    devices.transition(device.id, S.REFURBISHED, S.LISTED)
    assert db.session.scalar(sa.select(Device.status).where(Device.id == device.id)) == S.LISTED


def test_a_stale_expected_status_is_a_conflict(db):
    device = factories.device()
    devices.transition(device.id, S.LISTED, S.RESERVED)
    with pytest.raises(Conflict):
        devices.transition(device.id, S.LISTED, S.RESERVED)


def test_unknown_device_is_not_found(db):
    with pytest.raises(NotFound):
        devices.transition(999999, S.LISTED, S.RESERVED)


def test_price_above_the_legal_cap_is_refused_for_a_public_donor(db):
    batch = factories.batch(public=True)
    with pytest.raises(DomainError) as refused:
        factories.device(batch_id=batch.id, category=Category.SMARTPHONE, price_cents=10001)
    assert refused.value.details["cap_cents"] == 10000
    assert db.session.scalar(sa.select(sa.func.count(Device.id))) == 0


def test_price_above_the_cap_is_allowed_for_a_company_donor(db):
    batch = factories.batch(public=False)
    device = factories.device(batch_id=batch.id, category=Category.SMARTPHONE, price_cents=12000)
    assert device.price_cents == 12000


def test_twenty_threads_reserving_one_device_give_exactly_one_winner(app, db):
    device_id = factories.device().id
    db.session.commit()
    barrier = threading.Barrier(20, timeout=30)
    outcomes = []
    lock = threading.Lock()

    def attempt():
        with app.app_context():
            barrier.wait()
            try:
                devices.transition(device_id, S.LISTED, S.RESERVED, actor="thread")
                db.session.commit()
                result = "won"
            except Conflict:
                db.session.rollback()
                result = "lost"
            except sa.exc.OperationalError:
                # SQLite "database is locked" under heavy contention: a refusal, never a double win.
                db.session.rollback()
                result = "lost"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") == 1
    db.session.expire_all()
    assert db.session.get(Device, device_id).status == S.RESERVED
    reserved_events = db.session.scalar(
        sa.select(sa.func.count(DeviceEvent.id)).where(DeviceEvent.device_id == device_id, DeviceEvent.to_status == S.RESERVED)
    )
    assert reserved_events == 1
