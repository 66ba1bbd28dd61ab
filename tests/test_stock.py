"""Stock at a pickup point: editing a device, bulk moves on a selection, labels and passports,
and staff kept to their own pickup point."""

import json
import re
from datetime import date

import pytest
import sqlalchemy as sa

from shop.models import (
    AuditEntry, Category, Device, DeviceEvent, DeviceStatus, ErasureMethod, ErasureRecord, ErasureResult, Grade, Role,
)
from shop.services import catalog, devices
from shop.services.errors import DomainError
from tests import factories
from tests.factories import without_bdi
from tests.test_staff import DEVICE_FORM, EN


@pytest.fixture
def stock(db):
    metz, woippy = factories.pickup_point(name="Metz"), factories.pickup_point(name="Woippy")
    staff = factories.user(Role.STAFF, pickup_point_id=metz.id)
    other = factories.user(Role.STAFF, pickup_point_id=woippy.id)
    device = factories.device(point=metz, status=DeviceStatus.REFURBISHED, model="ThinkPad T480")
    elsewhere = factories.device(point=woippy, status=DeviceStatus.REFURBISHED, model="Elsewhere")
    db.session.commit()
    return dict(metz=metz, woippy=woippy, staff=staff, other=other, device=device, elsewhere=elsewhere)


def form_of(device, **changes) -> dict:
    data = dict(DEVICE_FORM, category=device.category.value, brand=device.brand, model=device.model,
                serial_number=device.serial_number, cpu=device.cpu or "", ram_gb=str(device.ram_gb or ""),
                storage_gb=str(device.storage_gb or ""), screen_inches="14.0", os=device.os or "",
                grade=device.grade.value, battery_health=str(device.battery_health or ""),
                price=f"{device.price_cents / 100:.2f}", batch=str(device.batch_id or ""),
                pickup_point=str(device.pickup_point_id))
    data.update(changes)
    return data


# --- Editing --------------------------------------------------------------------------------------

def test_edit_page_shows_every_attribute_filled_in(client, stock):
    factories.signed_in(client, stock["staff"])
    page = client.get(f"/staff/stock/{stock['device'].id}/edit", headers=EN).text
    for value in ('value="ThinkPad T480"', f'value="{stock["device"].serial_number}"', 'value="Intel Core i5-8350U"',
                  'value="8"', 'value="256"', 'value="14.0"', 'value="Windows 11"', 'value="85"', 'value="120.00"'):
        assert value in page, value
    assert 'enctype="multipart/form-data"' in page


def test_editing_the_price_regroups_the_offer_bumps_the_version_of_its_scope_and_is_audited(client, db, stock):
    device = stock["device"]
    twin = factories.device(point=stock["metz"], status=DeviceStatus.REFURBISHED)
    devices.transition(device.id, DeviceStatus.REFURBISHED, DeviceStatus.LISTED)
    db.session.commit()
    assert twin.offer_key == device.offer_key
    before_key, before = device.offer_key, catalog.versions()
    factories.signed_in(client, stock["staff"])
    response = client.post(f"/staff/stock/{device.id}/edit", data=form_of(device, price="99.50", grade="A"))
    assert response.status_code == 303
    db.session.expire_all()
    edited = db.session.get(Device, device.id)
    assert (edited.price_cents, edited.grade) == (9950, Grade.A)
    assert edited.offer_key != before_key and edited.offer_key == edited.compute_offer_key()
    assert db.session.get(Device, twin.id).offer_key == before_key
    after = catalog.versions()
    assert after.of_page(Category.LAPTOP, stock["metz"].id) > before.of_page(Category.LAPTOP, stock["metz"].id)
    assert after.of_page(None, stock["woippy"].id) == before.of_page(None, stock["woippy"].id)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "device.edited"))
    assert entry.actor_id == stock["staff"].id and entry.target_id == device.id
    assert json.loads(entry.details) == {"changed": ["grade", "price_cents"]}


def test_edit_above_the_legal_cap_is_refused_and_keeps_what_was_typed(client, db, stock):
    device = stock["device"]
    batch = factories.batch(public=True)
    db.session.commit()
    factories.signed_in(client, stock["staff"])
    data = form_of(device, batch=str(batch.id), price="180.01", model="Typed model")
    response = client.post(f"/staff/stock/{device.id}/edit", data=data, headers=EN)
    assert response.status_code == 422
    assert "legal cap" in response.text and 'value="Typed model"' in response.text and 'value="180.01"' in response.text
    assert re.search(r'id="price-error"', response.text)
    db.session.expire_all()
    assert db.session.get(Device, device.id).price_cents == 12000 and db.session.get(Device, device.id).batch_id is None
    # At the cap exactly, it is fine.
    assert client.post(f"/staff/stock/{device.id}/edit", data=dict(data, price="180.00")).status_code == 303


def test_edit_to_a_serial_number_already_in_the_stock_is_refused(client, db, stock):
    factories.signed_in(client, stock["staff"])
    taken = stock["elsewhere"].serial_number
    response = client.post(f"/staff/stock/{stock['device'].id}/edit",
                           data=form_of(stock["device"], serial_number=taken), headers=EN)
    assert response.status_code == 422 and "already in the stock" in response.text
    assert 'id="serial_number-error"' in response.text
    db.session.expire_all()
    assert db.session.get(Device, stock["device"].id).serial_number != taken


def test_a_reserved_or_sold_device_cannot_be_edited(client, db, stock):
    sold = factories.device(point=stock["metz"], status=DeviceStatus.SOLD)
    db.session.commit()
    factories.signed_in(client, stock["staff"])
    page = client.get(f"/staff/stock/{sold.id}/edit", headers=EN)
    assert page.status_code == 200 and "can no longer be changed" in page.text
    refused = client.post(f"/staff/stock/{sold.id}/edit", data=form_of(sold, price="10"), headers=EN)
    assert refused.status_code == 422 and "can no longer be changed" in refused.text
    db.session.expire_all()
    assert db.session.get(Device, sold.id).price_cents == 12000


def test_edit_service_loses_to_a_reservation_made_meanwhile(db, stock):
    device = factories.device(point=stock["metz"])
    assert device.status == DeviceStatus.LISTED  # loaded now, as a request would have it
    db.session.execute(sa.update(Device).where(Device.id == device.id).values(status=DeviceStatus.RESERVED)
                       .execution_options(synchronize_session=False))
    # The loaded object still says `listed`: the conditional UPDATE is what refuses.
    with pytest.raises(DomainError, match="reserved or changed"):
        devices.edit_device(device, {"price_cents": 100}, actor=None)


# --- Bulk moves -----------------------------------------------------------------------------------

def test_stock_page_has_a_labelled_checkbox_per_device(client, stock):
    factories.signed_in(client, stock["staff"])
    page = without_bdi(client.get("/staff/stock", headers=EN).text)
    device = stock["device"]
    assert f'<input type="checkbox" form="bulk" name="device" value="{device.id}" id="select-{device.id}">' in page
    assert f'<label for="select-{device.id}">' in page and f"Select {device.serial_number}" in page


def test_bulk_move_moves_every_selected_device_and_records_who(client, db, stock):
    second = factories.device(point=stock["metz"], status=DeviceStatus.REFURBISHED, model="Other")
    db.session.commit()
    factories.signed_in(client, stock["staff"])
    ids = [stock["device"].id, second.id]
    response = client.post("/staff/stock/bulk", data={"device": ids, "action": "listed", "point": stock["metz"].id},
                           headers=EN)
    assert response.status_code == 303
    db.session.expire_all()
    for device_id in ids:
        assert db.session.get(Device, device_id).status == DeviceStatus.LISTED
        last = db.session.scalar(sa.select(DeviceEvent).where(DeviceEvent.device_id == device_id)
                                 .order_by(DeviceEvent.id.desc()).limit(1))
        assert (last.from_status, last.to_status, last.actor) == (
            DeviceStatus.REFURBISHED, DeviceStatus.LISTED, stock["staff"].email)
    assert "2 devices moved" in client.get(response.headers["Location"], headers=EN).text


def test_bulk_move_is_all_or_nothing_and_names_the_devices_that_cannot(client, db, stock):
    received = factories.device(point=stock["metz"], status=DeviceStatus.RECEIVED, model="Fresh")
    sold = factories.device(point=stock["metz"], status=DeviceStatus.SOLD, model="Gone")
    db.session.commit()
    factories.signed_in(client, stock["staff"])
    ids = [stock["device"].id, received.id, sold.id]
    response = client.post("/staff/stock/bulk", data={"device": ids, "action": "listed", "point": stock["metz"].id},
                           headers=EN)
    assert response.status_code == 422
    text = response.text
    assert "Nothing was changed" in text
    assert received.serial_number in text and "“Received” to “On sale”" in text
    assert sold.serial_number in text and "“Sold” to “On sale”" in text
    assert f"{stock['device'].serial_number} cannot" not in text
    for device_id in ids:  # the selection is kept, ticked
        assert f'value="{device_id}" id="select-{device_id}" checked' in text
    db.session.expire_all()
    assert db.session.get(Device, stock["device"].id).status == DeviceStatus.REFURBISHED
    assert db.session.get(Device, received.id).status == DeviceStatus.RECEIVED


def test_bulk_move_undoes_earlier_moves_when_a_later_one_loses_a_race(db, stock):
    first = stock["device"]
    second = factories.device(point=stock["metz"], status=DeviceStatus.REFURBISHED, model="Raced")
    assert (first.status, second.status) == (DeviceStatus.REFURBISHED,) * 2  # loaded, as a request would have them
    db.session.execute(sa.update(Device).where(Device.id == second.id).values(status=DeviceStatus.WITHDRAWN)
                       .execution_options(synchronize_session=False))  # another request, unseen here
    with pytest.raises(DomainError, match="changed in the meantime"):
        devices.move_many([first, second], DeviceStatus.LISTED, actor="x")
    db.session.expire_all()
    assert db.session.get(Device, first.id).status == DeviceStatus.REFURBISHED


def test_bulk_refuses_reserved_and_sold_as_targets_and_an_empty_selection(client, db, stock):
    factories.signed_in(client, stock["staff"])
    forged = client.post("/staff/stock/bulk", data={"device": [stock["device"].id], "action": "sold"})
    assert forged.status_code == 422
    empty = client.post("/staff/stock/bulk", data={"action": "withdrawn"}, headers=EN)
    assert empty.status_code == 422 and "select at least one device" in empty.text
    db.session.expire_all()
    assert db.session.get(Device, stock["device"].id).status == DeviceStatus.REFURBISHED


# --- Labels and passports -------------------------------------------------------------------------

def test_labels_for_a_selection_with_qr_codes_to_the_passports(client, db, stock, monkeypatch):
    from shop.services import qr

    encoded = []
    real_svg = qr.svg
    monkeypatch.setattr(qr, "svg", lambda data, label: encoded.append(data) or real_svg(data, label))
    second = factories.device(point=stock["metz"], model="Second", price_cents=4500)
    db.session.commit()
    factories.signed_in(client, stock["staff"])
    to_labels = client.post("/staff/stock/bulk", data={"device": [stock["device"].id, second.id], "action": "labels"})
    assert to_labels.status_code == 303
    page = without_bdi(client.get(to_labels.headers["Location"], headers=EN).text)
    assert page.count('<li class="label">') == 2
    for device in (stock["device"], second):
        assert device.serial_number in page and f"QR code: the passport of device {device.serial_number}" in page
    assert "Lenovo Second" in page and "€45.00" in page and "Grade B" in page
    assert page.count('class="qr"') == 2
    assert sorted(encoded) == sorted(f"http://localhost/passport/{d.passport_token}" for d in (stock["device"], second))


def test_passport_shows_the_device_its_steps_and_erasure_but_no_one(client, db, stock):
    device = stock["device"]
    db.session.add_all([
        ErasureRecord(device_id=device.id, method=ErasureMethod.NIST_PURGE, tool="Wiper", performed_on=date(2026, 3, 2),
                      operator="Jeanne Operator", result=ErasureResult.SUCCESS, certificate_reference="CERT-1"),
        ErasureRecord(device_id=device.id, method=ErasureMethod.CRYPTOGRAPHIC, tool="Wiper", performed_on=date(2026, 3, 9),
                      operator="Jeanne Operator", result=ErasureResult.FAILURE),
    ])
    db.session.commit()
    response = client.get(f"/passport/{device.passport_token}", headers=EN)
    assert response.status_code == 200
    text = without_bdi(response.text)
    assert "Lenovo ThinkPad T480" in text and "Laptop" in text and "Grade B" in text and "Intel Core i5-8350U" in text
    assert "NIST SP 800-88 purge" in text and "2 March 2026" in text and "Cryptographic" not in text
    assert text.count("<time ") == 3 and "Received" in text and "Refurbished" in text
    assert "Jeanne" not in text and "test" not in re.sub(r"<[^>]+>", "", text).split("Its life here")[1]
    elsewhere = stock["elsewhere"]
    db.session.execute(sa.delete(ErasureRecord).where(ErasureRecord.device_id == elsewhere.id))
    db.session.commit()
    assert "No data erasure" in client.get(f"/passport/{elsewhere.passport_token}", headers=EN).text


def test_passport_url_needs_the_token_not_the_id(client, stock):
    assert client.get(f"/passport/{stock['device'].id}").status_code == 404
    assert client.get("/passport/not-a-token").status_code == 404
    assert stock["device"].passport_token != stock["elsewhere"].passport_token
    assert len(stock["device"].passport_token) >= 16


def test_passport_is_translated(client, stock):
    page = client.get(f"/passport/{stock['device'].passport_token}", headers={"Accept-Language": "fr"}).text
    assert '<html lang="fr"' in page


# --- Staff of another pickup point ----------------------------------------------------------------

def test_staff_of_another_point_cannot_edit_photograph_move_or_label(client, db, stock):
    factories.signed_in(client, stock["other"])
    device = stock["device"]
    assert client.get(f"/staff/stock/{device.id}/edit").status_code == 404
    assert client.post(f"/staff/stock/{device.id}/edit", data=form_of(device, price="1")).status_code == 404
    assert client.post(f"/staff/stock/{device.id}/photos", data={}).status_code == 404
    assert client.post(f"/staff/stock/{device.id}/photos/1/delete").status_code == 404
    assert client.get(f"/staff/stock/labels?device={device.id}").status_code == 404
    # A selection mixing their own device with one of another point: nothing moves.
    mixed = {"device": [stock["elsewhere"].id, device.id], "action": "withdrawn"}
    assert client.post("/staff/stock/bulk", data=mixed).status_code == 404
    assert client.post("/staff/stock/bulk", data=dict(mixed, action="labels")).status_code == 404
    db.session.expire_all()
    assert db.session.get(Device, device.id).price_cents == 12000
    assert db.session.get(Device, device.id).status == DeviceStatus.REFURBISHED
    assert db.session.get(Device, stock["elsewhere"].id).status == DeviceStatus.REFURBISHED


def test_staff_cannot_move_a_device_to_another_point_by_editing(client, db, stock):
    factories.signed_in(client, stock["staff"])
    response = client.post(f"/staff/stock/{stock['device'].id}/edit",
                           data=form_of(stock["device"], pickup_point=str(stock["woippy"].id)))
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Device, stock["device"].id).pickup_point_id == stock["metz"].id


def test_admin_may_edit_any_point(client, db, stock):
    factories.signed_in(client, factories.user(Role.ADMIN))
    response = client.post(f"/staff/stock/{stock['elsewhere'].id}/edit",
                           data=form_of(stock["elsewhere"], model="Renamed"))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Device, stock["elsewhere"].id).model == "Renamed"


def test_labels_beyond_one_page_say_how_many_were_left_out(client, db, stock, monkeypatch):
    from shop.staff import views

    monkeypatch.setattr(views, "MAX_LABELS", 1)
    second = factories.device(point=stock["metz"], model="Second")
    db.session.commit()
    factories.signed_in(client, stock["staff"])
    page = client.get(f"/staff/stock/labels?device={stock['device'].id}&device={second.id}", headers=EN).text
    assert page.count('<li class="label">') == 1 and "print the 1 other one" in page


def test_blank_looking_optional_choices_count_as_none(client, db, stock):
    """A space in an optional select (found by the fuzzer) used to reach Enum(" ") and crash."""
    device = stock["device"]
    factories.signed_in(client, stock["staff"])
    response = client.post(f"/staff/stock/{device.id}/edit", data=form_of(device, keyboard_layout=" ", batch=" "))
    assert response.status_code == 303
    db.session.expire_all()
    edited = db.session.get(Device, device.id)
    assert edited.keyboard_layout is None and edited.batch_id is None
