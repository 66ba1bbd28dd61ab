"""The counter: find a reservation, take payment, hand over, receipt; staff scoped to their point."""

import pytest
import sqlalchemy as sa

from shop.models import CodeState, Device, DeviceStatus, Payment, PaymentMethod, Reservation, ReservationStatus, Role
from shop.services import reservations
from tests import factories
from tests.factories import without_bdi

EN = {"Accept-Language": "en"}


@pytest.fixture
def counter(db):
    metz, woippy = factories.pickup_point(name="Metz"), factories.pickup_point(name="Woippy")
    staff_metz = factories.user(Role.STAFF, pickup_point_id=metz.id)
    staff_woippy = factories.user(Role.STAFF, pickup_point_id=woippy.id)
    device = factories.device(point=metz, price_cents=12000)
    code, _ = factories.code(categories=("computer",))
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    return dict(metz=metz, woippy=woippy, staff=staff_metz, other_staff=staff_woippy, device=device, code=code,
                reservation=reservation)



def test_staff_land_on_their_board_with_counts(client, counter):
    factories.signed_in(client, counter["staff"])
    page = without_bdi(client.get("/staff/", headers=EN).text)
    assert "Reservations at Metz" in page
    assert counter["reservation"].number in page
    assert "to prepare" in page


def test_find_by_pickup_code_then_pay_and_hand_over_then_receipt(client, db, counter):
    factories.signed_in(client, counter["staff"])
    reservation = counter["reservation"]
    found = client.get(f"/staff/counter?q={reservation.pickup_code}")
    assert found.status_code == 303 and found.headers["Location"].endswith(f"/staff/reservations/{reservation.number}")
    page = client.get(found.headers["Location"], headers=EN).text
    assert reservation.beneficiary.display_name in page and "€120.00" in page
    assert client.post(f"/staff/reservations/{reservation.number}/ready").status_code == 303
    done = client.post(f"/staff/reservations/{reservation.number}/hand-over", data={"channel": "card_terminal"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/receipt")
    receipt = client.get(done.headers["Location"], headers=EN).text
    assert "Card terminal" in receipt and "€120.00" in receipt
    db.session.expire_all()
    assert db.session.get(Reservation, reservation.id).status == ReservationStatus.PICKED_UP
    assert db.session.get(Device, counter["device"].id).status == DeviceStatus.SOLD
    assert db.session.get(type(counter["code"]), counter["code"].id).status == CodeState.USED
    assert db.session.scalar(sa.select(sa.func.sum(Payment.amount_cents))) == 12000


def test_find_by_reservation_number_ignores_case_and_spaces(client, counter):
    factories.signed_in(client, counter["staff"])
    number = counter["reservation"].number
    assert client.get(f"/staff/counter?q= {number.lower()} ").status_code == 303


def test_unknown_code_says_so(client, counter):
    factories.signed_in(client, counter["staff"])
    response = client.get("/staff/counter?q=000000", headers=EN)
    assert response.status_code == 404 and "No reservation at your pickup point" in response.text


def test_cancel_needs_a_reason_and_frees_the_device(client, db, counter):
    factories.signed_in(client, counter["staff"])
    number = counter["reservation"].number
    refused = client.post(f"/staff/reservations/{number}/cancel", data={"reason": ""}, headers=EN)
    assert refused.status_code == 422 and "Please give a reason" in refused.text
    assert client.post(f"/staff/reservations/{number}/cancel", data={"reason": "no show"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Device, counter["device"].id).status == DeviceStatus.LISTED


def test_staff_of_another_point_cannot_see_or_act(client, db, counter):
    factories.signed_in(client, counter["other_staff"])
    reservation = counter["reservation"]
    assert client.get(f"/staff/counter?q={reservation.pickup_code}").status_code == 404
    for method, url in [("get", ""), ("post", "/ready"), ("post", "/hand-over"), ("post", "/cancel"), ("get", "/receipt")]:
        response = getattr(client, method)(f"/staff/reservations/{reservation.number}{url}",
                                           data={"channel": "cash", "reason": "x"})
        assert response.status_code == 404, url
    assert client.get(f"/staff/?point={counter['metz'].id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Reservation, reservation.id).status == ReservationStatus.CONFIRMED


@pytest.mark.parametrize("role", [Role.SOCIAL_WORKER, Role.PARTNER_ADMIN])
def test_partner_users_reach_no_staff_page(client, counter, role):
    factories.signed_in(client, factories.user(role))
    assert client.get("/staff/").status_code == 403
    assert client.get("/staff/counter").status_code == 403
    assert client.post(f"/staff/reservations/{counter['reservation'].number}/hand-over").status_code == 403


def test_admin_sees_every_point(client, counter):
    factories.signed_in(client, factories.user(Role.ADMIN))
    assert client.get(f"/staff/?point={counter['woippy'].id}").status_code == 200
    assert client.get(f"/staff/reservations/{counter['reservation'].number}").status_code == 200


DEVICE_FORM = {"category": "smartphone", "brand": "Samsung", "model": "Galaxy A52", "serial_number": "SN-NEW-1",
               "ram_gb": "6", "storage_gb": "128", "screen_inches": "6.5", "os": "Android 14", "keyboard_layout": "",
               "grade": "B", "battery_health": "88", "price": "95.00", "batch": "", "pickup_point": ""}


def test_staff_add_a_device_and_bring_it_online(client, db, counter):
    factories.signed_in(client, counter["staff"])
    data = dict(DEVICE_FORM, pickup_point=str(counter["metz"].id))
    response = client.post("/staff/stock/new", data=data)
    assert response.status_code == 303
    device = db.session.scalar(sa.select(Device).where(Device.serial_number == "SN-NEW-1"))
    assert device.status == DeviceStatus.RECEIVED and device.price_cents == 9500 and device.screen_tenths == 65
    for target in ("erased", "refurbished"):
        assert client.post(f"/staff/stock/{device.id}/move/{target}").status_code == 303
    # No proof of erasure yet: it cannot go on sale.
    refused = client.post(f"/staff/stock/{device.id}/move/listed", headers=EN, follow_redirects=True)
    assert "no successful data erasure" in refused.text
    erasure = {"serial_number": "SN-NEW-1", "method": "nist_800_88_purge", "tool": "Blancco Drive Eraser",
               "tool_version": "7.9", "performed_on": "2026-01-20", "operator": "Valor'Emm", "result": "success",
               "certificate_reference": "CERT-1"}
    assert client.post("/staff/erasures", data=erasure).status_code == 303
    assert client.post(f"/staff/stock/{device.id}/move/listed").status_code == 303
    db.session.expire_all()
    assert db.session.get(Device, device.id).status == DeviceStatus.LISTED
    assert device.offer_key in client.get("/catalog?category=smartphone").text


def test_price_above_the_legal_cap_is_refused_on_the_form_and_nothing_is_stored(client, db, counter):
    factories.signed_in(client, counter["staff"])
    batch = factories.batch(public=True)
    data = dict(DEVICE_FORM, pickup_point=str(counter["metz"].id), batch=str(batch.id), price="100.01")
    response = client.post("/staff/stock/new", data=data, headers=EN)
    assert response.status_code == 422
    assert "legal cap" in response.text and 'value="Galaxy A52"' in response.text  # what was typed is kept
    assert db.session.scalar(sa.select(Device).where(Device.serial_number == "SN-NEW-1")) is None


def test_duplicate_serial_number_is_refused(client, db, counter):
    factories.signed_in(client, counter["staff"])
    data = dict(DEVICE_FORM, pickup_point=str(counter["metz"].id), serial_number=counter["device"].serial_number)
    response = client.post("/staff/stock/new", data=data, headers=EN)
    assert response.status_code == 422 and "already in the stock" in response.text


def test_illegal_moves_and_other_points_are_refused(client, db, counter):
    factories.signed_in(client, counter["staff"])
    received = factories.device(point=counter["metz"], status=DeviceStatus.RECEIVED, model="Fresh")
    response = client.post(f"/staff/stock/{received.id}/move/listed", headers=EN, follow_redirects=True)
    assert "cannot go from" in response.text
    assert client.post(f"/staff/stock/{received.id}/move/sold").status_code == 400
    elsewhere = factories.device(point=counter["woippy"], model="Elsewhere")
    assert client.post(f"/staff/stock/{elsewhere.id}/move/withdrawn").status_code == 404
    assert client.get(f"/staff/stock?point={counter['woippy'].id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Device, received.id).status == DeviceStatus.RECEIVED
    assert db.session.get(Device, elsewhere.id).status == DeviceStatus.LISTED


def test_the_counter_offers_the_qr_scanner_and_only_it_may_use_the_camera(client, counter):
    factories.signed_in(client, counter["staff"])
    response = client.get("/staff/counter")
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert 'id="scan"' in response.text and "/static/scan" in response.text
    assert 'name="q"' in response.text  # typing always works
    board = client.get("/staff/")
    assert "camera=()" in board.headers["Permissions-Policy"] and 'id="scan"' not in board.text
