"""Admin: pickup points (address, opening hours, open or closed) and the default price grid."""

from datetime import time

import pytest
import sqlalchemy as sa

from shop.models import (
    AuditEntry, Category, Device, DeviceStatus, Grade, GridPrice, OpeningHours, PaymentMethod, PickupPoint, Reservation,
    Role,
)
from shop.services import devices as device_service
from shop.services import pickup_points
from shop.services.errors import DomainError
from tests import factories

EN = {"Accept-Language": "en"}
POINT = {"name": "Espace Bellecroix", "address": "5 rue de Toul", "postcode": "57070", "town": "Metz",
         "phone": "03 87 11 22 33", "active": "y", "d0_opens1": "09:00", "d0_closes1": "12:00",
         "d0_opens2": "14:00", "d0_closes2": "17:30", "d3_opens1": "10:00", "d3_closes1": "16:00"}


@pytest.fixture
def admin(db):
    user = factories.user(Role.ADMIN)
    db.session.commit()
    return user



def test_admin_creates_a_pickup_point_with_opening_hours_and_the_public_sees_it(client, db, admin):
    factories.signed_in(client, admin)
    assert "Add a pickup point" in client.get("/admin/pickup-points", headers=EN).text
    assert client.get("/admin/pickup-points/new").status_code == 200
    response = client.post("/admin/pickup-points/new", data=POINT)
    assert response.status_code == 303
    point = db.session.scalar(sa.select(PickupPoint).where(PickupPoint.name == "Espace Bellecroix"))
    assert point.slug == "espace-bellecroix" and point.active
    assert [(h.weekday, h.opens, h.closes) for h in point.opening_hours] == [
        (0, time(9), time(12)), (0, time(14), time(17, 30)), (3, time(10), time(16))]
    public = client.get("/pickup-points", headers=EN).text
    assert "Espace Bellecroix" in public and "5 rue de Toul" in public
    edit = client.get(f"/admin/pickup-points/{point.id}", headers=EN).text
    assert 'value="17:30"' in edit and 'value="5 rue de Toul"' in edit


@pytest.mark.parametrize("change, message", [
    ({"d1_opens1": "12:00", "d1_closes1": "09:00"}, "The closing time must be after the opening time."),
    ({"d0_opens2": "11:00"}, "The opening hours of a day must not overlap."),
    ({"d2_opens1": "09:00"}, "Give both the opening and the closing time."),
    ({"postcode": "57"}, "A postcode has 5 digits"),
    ({"name": ""}, "This field is required."),
    ({"d4_opens1": "nine", "d4_closes1": "12:00"}, "Not a valid time value."),
])
def test_bad_pickup_points_are_refused_and_nothing_is_stored(client, db, admin, change, message):
    factories.signed_in(client, admin)
    response = client.post("/admin/pickup-points/new", data={**POINT, **change}, headers=EN)
    assert response.status_code == 422 and message in response.text
    assert 'value="5 rue de Toul"' in response.text  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count(PickupPoint.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(OpeningHours.id))) == 0


def test_closing_a_point_hides_it_and_refuses_new_devices_but_keeps_history(client, db, admin):
    point = factories.pickup_point(name="Woippy relais")
    kept = factories.device(point=point, model="Kept", status=DeviceStatus.SOLD)
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    db.session.commit()
    factories.signed_in(client, admin)
    data = {**POINT, "name": "Woippy relais"}
    del data["active"]  # an unticked box is not sent
    assert client.post(f"/admin/pickup-points/{point.id}", data=data).status_code == 303
    assert "Closed" in client.get("/admin/pickup-points", headers=EN).text
    db.session.expire_all()
    assert db.session.get(PickupPoint, point.id).active is False
    assert db.session.get(Device, kept.id) is not None  # the history stays
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "pickup_point.deactivate"))
    assert "Woippy relais" not in client.get("/pickup-points", headers=EN).text
    with pytest.raises(DomainError):
        factories.device(point=db.session.get(PickupPoint, point.id))
    # Its staff can still see the stock history, but import nothing there.
    client.post("/logout")
    factories.signed_in(client, staff)
    assert client.get(f"/staff/stock?point={point.id}").status_code == 200
    assert client.get("/staff/stock/import").status_code == 404


def test_a_point_with_devices_on_sale_or_waiting_reservations_is_not_closed(client, db, admin):
    """Else its devices would stay reservable, to be picked up where nobody is any more."""
    from shop.services import reservations

    point = factories.pickup_point(name="Woippy relais")
    on_sale = factories.device(point=point, model="On sale")
    waiting = factories.device(point=point, model="Waiting")
    reservation = reservations.reserve(factories.code()[0], waiting.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    factories.signed_in(client, admin)
    page = client.get(f"/admin/pickup-points/{point.id}", headers=EN).text
    assert "devices on sale here: 1; reservations waiting for pickup here: 1" in page
    data = {**POINT, "name": "Woippy relais", "address": "2 place Neuve"}
    del data["active"]
    refused = client.post(f"/admin/pickup-points/{point.id}", data=data, headers=EN)
    assert refused.status_code == 422
    assert "This point cannot be closed yet. Devices on sale here: 1. Reservations waiting for pickup here: 1." in refused.text
    assert 'value="2 place Neuve"' in refused.text  # what was typed is kept
    db.session.expire_all()
    assert db.session.get(PickupPoint, point.id).active is True
    assert db.session.get(PickupPoint, point.id).address != "2 place Neuve"  # nothing of it was saved
    assert not db.session.scalar(sa.select(AuditEntry.id).where(AuditEntry.action == "pickup_point.deactivate"))
    # Once the reservation is cancelled (its device is back on sale) and the devices are moved,
    # the point closes.
    reservations.cancel(db.session.get(Reservation, reservation.id), reason="point closing")
    other = factories.pickup_point(name="Metz centre")
    for device_id in (on_sale.id, waiting.id):
        device_service.edit_device(db.session.get(Device, device_id), {"pickup_point_id": other.id}, actor=admin)
    db.session.commit()
    assert client.post(f"/admin/pickup-points/{point.id}", data=data).status_code == 303
    db.session.expire_all()
    assert db.session.get(PickupPoint, point.id).active is False


def test_overlapping_slots_are_refused_by_the_service(db):
    with pytest.raises(DomainError) as refused:
        pickup_points.check_hours([(2, 1, time(9), time(13)), (2, 2, time(12), time(15))])
    assert refused.value.details["weekday"] == 2


# --- The price grid --------------------------------------------------------------------------------

def test_admin_sets_the_grid_and_staff_get_its_price_by_default(client, db, admin):
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    db.session.commit()
    factories.signed_in(client, admin)
    page = client.get("/admin/prices", headers=EN).text
    assert "price_laptop_A" in page and "€180.00" in page
    response = client.post("/admin/prices", data={"price_laptop_B": "120", "price_smartphone_A": "95,50"})
    assert response.status_code == 303
    db.session.expire_all()
    assert {(g.category, g.grade): g.price_cents for g in db.session.scalars(sa.select(GridPrice))} == {
        (Category.LAPTOP, Grade.B): 12000, (Category.SMARTPHONE, Grade.A): 9550}
    assert 'value="95.50"' in client.get("/admin/prices").text
    client.post("/logout")
    factories.signed_in(client, staff)
    form = {"category": "laptop", "brand": "Dell", "model": "Latitude 5490", "serial_number": "GRID-1", "grade": "B",
            "price": "", "batch": "", "keyboard_layout": "", "pickup_point": str(point.id)}
    assert client.post("/staff/stock/new", data=form).status_code == 303
    assert db.session.scalar(sa.select(Device.price_cents).where(Device.serial_number == "GRID-1")) == 12000
    refused = client.post("/staff/stock/new", data={**form, "serial_number": "GRID-2", "grade": "C"}, headers=EN)
    assert refused.status_code == 422 and "The price grid has no price" in refused.text


@pytest.mark.parametrize("cell, value, message", [
    ("price_laptop_A", "180,01", "legal cap"),
    ("price_screen_C", "31", "legal cap"),
    ("price_tablet_B", "-1", "A price cannot be negative."),
    ("price_tablet_B", "cheap", "is not a price in euros"),
])
def test_grid_prices_above_the_cap_or_malformed_are_refused_and_nothing_changes(client, db, admin, cell, value,
                                                                                message):
    db.session.add(GridPrice(category=Category.LAPTOP, grade=Grade.B, price_cents=10000))
    db.session.commit()
    factories.signed_in(client, admin)
    response = client.post("/admin/prices", data={"price_laptop_B": "110", cell: value}, headers=EN)
    assert response.status_code == 422 and message in response.text
    assert f'value="{value}"' in response.text
    db.session.expire_all()
    assert db.session.scalar(sa.select(GridPrice.price_cents)) == 10000
    assert db.session.scalar(sa.select(sa.func.count(GridPrice.id))) == 1


def test_the_grid_accepts_the_cap_itself_and_accessories_have_none(client, db, admin):
    factories.signed_in(client, admin)
    assert client.post("/admin/prices", data={"price_laptop_A": "180", "price_accessory_A": "500"}).status_code == 303


@pytest.mark.parametrize("role", [Role.STAFF, Role.SOCIAL_WORKER, Role.PARTNER_ADMIN])
def test_only_admins_reach_points_and_prices(client, db, role):
    factories.signed_in(client, factories.user(role))
    for url in ("/admin/prices", "/admin/pickup-points", "/admin/pickup-points/new"):
        assert client.get(url).status_code == 403
    assert client.post("/admin/prices", data={"price_laptop_A": "1"}).status_code == 403
