"""After-sale pages: the handover form in the person's language, cases at the counter, the
admins' warranty periods, returns in the reports; bad input gets a message and changes nothing."""

import pytest
import sqlalchemy as sa

from shop.models import (
    AftersaleCase, CaseOutcome, Device, DeviceStatus, Payment, PaymentChannel, PaymentKind, PaymentMethod, Role,
    WarrantyPeriod,
)
from shop.services import reservations
from tests import factories
from tests.factories import without_bdi

EN = {"Accept-Language": "en"}


@pytest.fixture
def shop(db):
    point = factories.pickup_point(name="Metz")
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    batch = factories.batch(reference="EMS-2026-01")
    device = factories.device(point=point, price_cents=12000, batch_id=batch.id, serial_number="PF-1234")
    spare = factories.device(point=point, price_cents=12000, serial_number="PF-9999")
    person = factories.beneficiary(display_name="Amina", language="ar")
    code, _ = factories.code(person, categories=("computer",))
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    reservations.hand_over(reservation, actor=staff, channel=PaymentChannel.CASH)
    db.session.commit()
    return dict(point=point, staff=staff, device=device, spare=spare, reservation=reservation, batch=batch)


def sign_in(client, user):
    assert factories.sign_in(client, user.email).status_code == 303


def _open(client, shop, query=None):
    found = client.get("/staff/aftersale", query_string={"q": query or shop["reservation"].number}, headers=EN)
    assert found.status_code == 200 and "Open a case" in found.text
    opened = client.post("/staff/aftersale/open", data={"serial": shop["device"].serial_number, "reason": "battery",
                                                        "description": "Dies after 10 minutes"})
    assert opened.status_code == 303
    return opened.headers["Location"]


def test_the_handover_form_is_in_the_persons_language_with_the_facts(client, shop):
    sign_in(client, shop["staff"])
    page = client.get(f"/staff/reservations/{shop['reservation'].number}/handover-form", headers=EN)
    assert page.status_code == 200
    html = page.text
    assert '<article class="slip handover" lang="ar" dir="rtl">' in html
    assert "<html lang=\"en\"" in html and "Back to the reservation" in html  # the staff's own language around it
    person_part = without_bdi(html.split('dir="rtl">', 1)[1])
    assert "PF-1234" in person_part and "CERT-PF-1234" in person_part and "Amina" in person_part
    assert "Handover form" not in person_part  # translated for the person


def test_the_receipt_and_the_passport_show_the_warranty_end(client, db, shop):
    sign_in(client, shop["staff"])
    receipt = without_bdi(client.get(f"/staff/reservations/{shop['reservation'].number}/receipt", headers=EN).text)
    assert "Warranty until" in receipt and "Print the handover form" in receipt
    passport = without_bdi(client.get(f"/passport/{shop['device'].passport_token}", headers=EN).text)
    assert "Warranty until" in passport


def test_an_unknown_serial_gets_a_clear_message(client, shop):
    sign_in(client, shop["staff"])
    page = client.get("/staff/aftersale", query_string={"q": "NOT-A-SERIAL"}, headers=EN)
    assert page.status_code == 404
    assert "No device with this serial number is known to the shop." in page.text
    assert 'value="NOT-A-SERIAL"' in page.text  # what was typed stays


def test_open_then_exchange_at_the_counter(client, db, shop):
    sign_in(client, shop["staff"])
    case_url = _open(client, shop, query=shop["device"].serial_number)
    page = without_bdi(client.get(case_url, headers=EN).text)
    assert "Dies after 10 minutes" in page and "Warranty until" in page
    taken = client.post(f"{case_url}/exchange", data={"replacement": "NOPE"}, headers=EN)
    assert taken.status_code == 422 and "No unit with this serial number is on sale" in taken.text
    done = client.post(f"{case_url}/exchange", data={"replacement": "pf-9999"}, headers=EN)
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Device, shop["spare"].id).status == DeviceStatus.SOLD
    assert db.session.get(Device, shop["device"].id).status == DeviceStatus.RECEIVED


def test_a_refund_larger_than_paid_is_refused_and_nothing_is_stored(client, db, shop):
    sign_in(client, shop["staff"])
    case_url = _open(client, shop)
    refused = client.post(f"{case_url}/refund", data={"amount": "120,01", "channel": "cash"}, headers=EN)
    assert refused.status_code == 422
    assert "A refund cannot be more than what was paid" in without_bdi(refused.text)
    assert 'value="120,01"' in refused.text
    for bad in ("abc", "-3"):
        assert client.post(f"{case_url}/refund", data={"amount": bad, "channel": "cash"}).status_code == 422
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Payment.kind == PaymentKind.REFUND)) == 0
    assert db.session.scalar(sa.select(AftersaleCase.outcome)) == CaseOutcome.OPEN
    assert client.post(f"{case_url}/refund", data={"amount": "120", "channel": "cheque"}).status_code == 303
    db.session.expire_all()
    assert db.session.scalar(sa.select(AftersaleCase.outcome)) == CaseOutcome.REFUNDED


def test_refusing_needs_a_reason(client, db, shop):
    sign_in(client, shop["staff"])
    case_url = _open(client, shop)
    assert client.post(f"{case_url}/refuse", data={"refusal_reason": " "}).status_code == 422
    assert client.post(f"{case_url}/refuse", data={"refusal_reason": "Dropped in water"}).status_code == 303
    db.session.expire_all()
    assert db.session.scalar(sa.select(AftersaleCase.refusal_reason)) == "Dropped in water"


def test_another_points_staff_cannot_see_the_sale_or_the_case(client, db, shop):
    sign_in(client, shop["staff"])
    case_url = _open(client, shop)
    client.post("/logout")
    other = factories.user(Role.STAFF, pickup_point_id=factories.pickup_point().id)
    db.session.commit()
    sign_in(client, other)
    assert client.get(case_url).status_code == 404
    assert client.get("/staff/aftersale", query_string={"q": "PF-1234"}).status_code == 422


def test_admins_set_warranty_periods_and_bad_input_keeps_what_was_typed(client, db, shop):
    admin = factories.user(Role.ADMIN)
    db.session.commit()
    sign_in(client, admin)
    page = client.get("/admin/warranty", headers=EN)
    assert page.status_code == 200 and 'name="laptop"' in page.text
    data = {"laptop": "6", "desktop": "6", "smartphone": "6", "tablet": "6", "screen": "0", "printer": "3",
            "multifunction_printer": "3", "accessory": "abc"}
    bad = client.post("/admin/warranty", data=data, headers=EN)
    assert bad.status_code == 422 and "Choose a number of months between 1 and 60." in bad.text and 'value="abc"' in bad.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WarrantyPeriod)) == 0
    data.update(screen="12", accessory="2")
    assert client.post("/admin/warranty", data=data).status_code == 303
    db.session.expire_all()
    assert dict(db.session.execute(sa.select(WarrantyPeriod.category, WarrantyPeriod.months)).tuples().all()) == {
        "screen": 12, "accessory": 2}


def test_returns_show_on_the_donor_report_and_the_dashboard_as_fewer_than_5(client, db, shop):
    staff_client = client
    sign_in(staff_client, shop["staff"])
    _open(staff_client, shop)
    client.post("/logout")
    admin = factories.user(Role.ADMIN)
    db.session.commit()
    sign_in(client, admin)
    report = without_bdi(client.get(f"/admin/donors/{shop['batch'].donor_id}/report", headers=EN).text)
    section = report.split('id="h-returns"', 1)[1]
    assert "EMS-2026-01" in section and "Laptop" in section and "fewer than 5" in section
    dashboard = without_bdi(client.get("/admin/impact", headers=EN).text)
    assert "Returns per donation batch" in dashboard and "fewer than 5" in dashboard.split('id="h-returns"', 1)[1]


def test_opening_a_case_for_a_device_not_sold_here_says_why(client, db, shop):
    sign_in(client, shop["staff"])
    page = client.post("/staff/aftersale/open", data={"serial": "PF-9999", "reason": "battery"}, headers=EN)
    assert page.status_code == 422 and "it cannot be returned" in page.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AftersaleCase)) == 0
