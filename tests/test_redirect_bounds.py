"""Every redirect built from a form or query value takes only known values: never the raw text
(a megabyte of it became a megabyte-long Location header), never another site."""

import pytest
import sqlalchemy as sa

from shop.models import Device, DeviceStatus, Role
from tests import factories

LONG = "x" * 20_000


@pytest.fixture
def staff(db, client):
    point = factories.pickup_point()
    user = factories.user(Role.STAFF, pickup_point_id=point.id)
    db.session.commit()
    assert factories.sign_in(client, user.email).status_code == 303
    return point


def test_move_device_goes_back_to_a_known_status_filter_only(db, client, staff):
    device = factories.device(point=staff)
    db.session.commit()
    response = client.post(f"/staff/stock/{device.id}/move/withdrawn", data={"back_status": LONG})
    assert response.status_code == 303
    assert len(response.headers["Location"]) < 100 and "xxx" not in response.headers["Location"]
    db.session.commit()
    assert db.session.get(Device, device.id).status == DeviceStatus.WITHDRAWN  # the move itself is done
    kept = client.post(f"/staff/stock/{device.id}/move/listed", data={"back_status": "withdrawn"})
    assert kept.headers["Location"].endswith(f"/staff/stock?point={staff.id}&status=withdrawn")


def test_bulk_move_goes_back_to_known_values_only(db, client, staff):
    device = factories.device(point=staff)
    db.session.commit()
    response = client.post("/staff/stock/bulk", data={"device": [device.id], "action": "withdrawn",
                                                      "point": "9" * 4000, "status": LONG})
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/stock"
    other_point, second = factories.pickup_point(), factories.device(point=staff)
    db.session.commit()
    response = client.post("/staff/stock/bulk", data={"device": [second.id], "action": "withdrawn",
                                                      "point": other_point.id, "status": "listed"})
    assert response.headers["Location"] == "/staff/stock?status=listed"  # not a point of theirs


@pytest.mark.parametrize("target", [
    "/catalog" + "?q=" + LONG,     # too long for any link of the shop
    "/no-such-page",               # not a page of the shop
    "//evil.example/",             # another site
    "https://evil.example/",
    "/staff/stock/1/move/sold",    # not a page one goes to (a form's target)
    "/catalog\r\nSet-Cookie: x=1",
], ids=["too long", "unknown page", "other site", "other site by scheme", "a form target", "header injection"])
def test_language_switch_goes_back_only_to_a_page_of_the_shop(client, target):
    response = client.get("/language/en", query_string={"next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_language_switch_goes_back_to_the_page_it_came_from(client):
    response = client.get("/language/en", query_string={"next": "/catalog?category=laptop"})
    assert response.headers["Location"] == "/catalog?category=laptop"


def test_sign_in_goes_on_only_to_a_page_of_the_shop(db, client):
    user = factories.user(Role.SOCIAL_WORKER)
    db.session.commit()
    response = client.post("/login?next=/no-such-page" + LONG, data={"email": user.email,
                                                                     "password": factories.PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/partner/"
    client.post("/logout")
    response = client.post("/login?next=/partner/beneficiaries/new", data={"email": user.email, "password": factories.PASSWORD})
    assert response.headers["Location"] == "/partner/beneficiaries/new"


def test_an_offer_address_that_is_no_offer_key_is_not_carried_to_the_code_page(client):
    response = client.get("/reserve/offer/" + "a" * 5000)
    assert response.status_code == 303 and response.headers["Location"] == "/reserve"
    key = "0123456789abcdef"
    assert client.get(f"/reserve/offer/{key}").headers["Location"] == f"/reserve?offer={key}"


def test_the_sign_in_link_of_a_protected_page_never_carries_an_overlong_address(client):
    assert client.get("/partner/").headers["Location"] == "/login?next=%2Fpartner%2F"
    response = client.get("/partner/", query_string={"q": LONG})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
