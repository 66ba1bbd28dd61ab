"""Fault injection: a database error in the middle of reserving or handing over leaves nothing
half done, and the person sees a friendly page in their language, never a stack trace.

Faults are injected at several points of each service: a raised OperationalError (a lost
connection, a lock timeout), and a statement that really fails in the database.
"""

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext
from sqlalchemy.exc import OperationalError

from shop.extensions import db as _db
from shop.models import PaymentMethod, Role
from shop.services import audit, devices, notifications, reservations
from tests import factories
from tests.test_access_matrix import PASSWORD
from tests.test_fuzz_forms import snapshot


def _lost_connection(*args, **kwargs):
    raise OperationalError("UPDATE ...", {}, Exception("server closed the connection unexpectedly"))


def _failing_statement(*args, **kwargs):
    # A statement the database itself refuses, mid-transaction (on PostgreSQL this also aborts it).
    _db.session.execute(sa.text("UPDATE no_such_table SET x = 1"))


FAULTS = {"lost connection": _lost_connection, "failing statement": _failing_statement}
# Where the fault strikes, as (module, function) replaced for the request.
RESERVE_POINTS = {
    "after the unit is taken": (devices, "take_unit", "wrap"),
    "at the audit entry (last step)": (audit, "record", "replace"),
    "after the service, while notifying": (notifications, "reservation_confirmed", "replace"),
}
HAND_OVER_POINTS = {
    "after the payment, at the device": (devices, "transition", "replace"),
    "at the audit entry (last step)": (audit, "record", "replace"),
}


def _inject(monkeypatch, module, name, how, fault):
    if how == "wrap":  # let the real function do its writes, then fail
        real = getattr(module, name)

        def wrapped(*args, **kwargs):
            result = real(*args, **kwargs)
            fault()
            return result

        monkeypatch.setattr(module, name, wrapped)
    else:
        monkeypatch.setattr(module, name, lambda *args, **kwargs: fault())


def _friendly(response, language, title):
    page = response.get_data(as_text=True)
    assert f'lang="{language}"' in page
    with force_locale(language):
        assert gettext(title) in page, page[:3000]
    for leak in ("Traceback", "no_such_table", "server closed", "sqlalchemy", "OperationalError"):
        assert leak not in page


@pytest.fixture
def no_propagation(app, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("point", RESERVE_POINTS)
def test_a_database_error_while_reserving_leaves_nothing(app, db, client, monkeypatch, no_propagation, point, fault):
    device = factories.device()
    person = factories.beneficiary(email="person@example.org")
    code, clear = factories.code(person)
    db.session.commit()
    assert client.post("/reserve", data={"code": clear}).status_code == 303
    before = snapshot(db)
    _inject(monkeypatch, *RESERVE_POINTS[point], FAULTS[fault])
    response = client.post(f"/reserve/offer/{device.offer_key}", data={"method": "counter"},
                           headers={"Accept-Language": "uk"})
    assert response.status_code in (500, 503)
    if response.status_code == 503 and b"form" in response.data:
        _friendly(response, "uk", "Many people are reserving right now. Please try again.")
    else:
        _friendly(response, "uk", "Busy for a moment" if response.status_code == 503 else "Something went wrong")
    assert snapshot(db) == before  # no device, code, reservation, payment or quota row changed
    monkeypatch.undo()
    # And the shop still works: the same reservation now goes through, once.
    assert client.post(f"/reserve/offer/{device.offer_key}", data={"method": "counter"}).status_code == 303
    assert snapshot(db) != before


@pytest.mark.parametrize("fault", FAULTS)
def test_a_database_error_while_reserving_on_behalf_leaves_nothing(app, db, client, monkeypatch, no_propagation,
                                                                   fault):
    worker = factories.user(Role.SOCIAL_WORKER)
    device = factories.device()
    code, _ = factories.code(factories.beneficiary(worker), worker=worker)
    db.session.commit()
    factories.sign_in(client, worker.email, PASSWORD)
    before = snapshot(db)
    _inject(monkeypatch, audit, "record", "replace", FAULTS[fault])
    response = client.post(f"/partner/codes/{code.id}/reserve/{device.offer_key}", headers={"Accept-Language": "ar"})
    assert response.status_code in (500, 503)
    _friendly(response, "ar", "Busy for a moment" if response.status_code == 503 else "Something went wrong")
    assert snapshot(db) == before


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("point", HAND_OVER_POINTS)
def test_a_database_error_while_handing_over_leaves_nothing(app, db, client, monkeypatch, no_propagation, point, fault):
    point_row = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point_row.id)
    device = factories.device(point=point_row)
    code, _ = factories.code()
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    factories.sign_in(client, staff.email, PASSWORD)
    before = snapshot(db)
    _inject(monkeypatch, *HAND_OVER_POINTS[point], FAULTS[fault])
    response = client.post(f"/staff/reservations/{reservation.number}/hand-over", data={"channel": "cash"},
                           headers={"Accept-Language": "fr"})
    assert response.status_code in (500, 503)
    _friendly(response, "fr", "Busy for a moment" if response.status_code == 503 else "Something went wrong")
    assert snapshot(db) == before  # no payment, device still reserved, code still active
    monkeypatch.undo()
    response = client.post(f"/staff/reservations/{reservation.number}/hand-over", data={"channel": "cash"})
    assert response.status_code == 303 and "/receipt" in response.headers["Location"]
