"""The waitlist through the pages: sold out → tell me when one is back, the held unit, the partner
portal on the person's behalf, and the staff's queue figures."""

import pytest
import sqlalchemy as sa

from shop.models import DeviceStatus, Reservation, Role, WaitlistEntry, WaitlistStatus
from shop.services import devices, waitlist
from tests import factories

EN = {"Accept-Language": "en"}


@pytest.fixture
def world(db):
    point = factories.pickup_point(name="Espace Borny")
    org = factories.organisation(monthly_quota=100)
    worker = factories.user(org=org)
    person = factories.beneficiary(worker, display_name="Amina", language="ar")
    code, clear = factories.code(person, categories=("computer",), worker=worker)
    db.session.commit()
    return {"point": point, "worker": worker, "person": person, "code": code, "clear": clear}


def join_form(world, **values):
    return {"category": "laptop", "pickup_point": str(world["point"].id), "max_price": "", **values}


def test_a_sold_out_offer_leads_to_the_waitlist_and_back_after_the_code(client, world):
    gone = factories.device(point=world["point"])
    key = gone.offer_key
    devices.move_by_hand(gone, DeviceStatus.WITHDRAWN, actor="test")
    page = client.get(f"/offer/{key}", headers=EN)
    assert page.status_code == 410 and "Tell me when one is back" in page.text
    link = "/reserve/waitlist/join?category=laptop"
    assert link in page.text
    asked = client.get(link, headers=EN)
    assert asked.status_code == 303 and "/reserve?then=" in asked.headers["Location"]
    entered = client.post("/reserve", data={"code": world["clear"], "then": link}, headers=EN)
    assert entered.status_code == 303 and entered.headers["Location"] == link
    form = client.get(link, headers=EN).text
    assert '<option selected value="laptop">' in form


def test_an_outside_address_is_never_a_place_to_go_back_to(client, world):
    entered = client.post("/reserve", data={"code": world["clear"], "then": "//evil.example/reserve/waitlist/join"},
                          headers=EN)
    assert entered.headers["Location"].endswith("/reserve/me")


@pytest.mark.parametrize("values, message", [
    ({"max_price": "-1"}, "Give a price between 0 and 1000 euros"),
    ({"max_price": "1" + "0" * 30}, "Enter a smaller number"),
    ({"pickup_point": "999999"}, "Not a valid choice"),
    ({"pickup_point": "abc"}, "Not a valid choice"),
    ({"category": "smartphone"}, "Not a valid choice"),  # the code allows computers only
])
def test_bad_input_gets_a_message_keeps_what_was_typed_and_stores_nothing(client, db, world, values, message):
    client.post("/reserve", data={"code": world["clear"]}, headers=EN)
    response = client.post("/reserve/waitlist/join", data=join_form(world, any_point_in_town="y", **values),
                           headers=EN)
    assert response.status_code == 422 and message in response.text
    assert 'id="any_point_in_town" name="any_point_in_town" type="checkbox" value="y"' in response.text
    if values.get("max_price") == "-1":
        assert 'value="-1"' in response.text
    assert db.session.scalar(sa.select(sa.func.count(WaitlistEntry.id))) == 0


def test_joining_twice_is_refused_in_the_persons_language(client, world):
    client.set_cookie("lang", "fr")
    client.post("/reserve", data={"code": world["clear"]})
    assert client.post("/reserve/waitlist/join", data=join_form(world)).status_code == 303
    again = client.post("/reserve/waitlist/join", data=join_form(world))
    assert again.status_code == 422 and "déjà dans la file" in again.text


def test_the_person_sees_their_place_and_can_leave(client, db, world):
    other = factories.code(factories.beneficiary(world["worker"]), categories=("computer",), worker=world["worker"])[0]
    waitlist.join(other, "laptop", world["point"].id)
    client.post("/reserve", data={"code": world["clear"]}, headers=EN)
    client.post("/reserve/waitlist/join", data=join_form(world, any_point_in_town="y", max_price="150"), headers=EN)
    page = client.get("/reserve/me", headers=EN).text
    assert "Your place in the queue: <bdi>2</bdi>" in page
    entry = db.session.scalar(sa.select(WaitlistEntry).where(WaitlistEntry.code_id == world["code"].id))
    assert entry.any_point_in_town and entry.max_price_cents == 15000
    left = client.post(f"/reserve/waitlist/{entry.id}/leave", headers=EN)
    assert left.status_code == 303
    db.session.refresh(entry)
    assert entry.status == WaitlistStatus.LEFT
    assert "My places in the queue" not in client.get("/reserve/me", headers=EN).text


def test_someone_else_cannot_leave_my_place(client, db, world):
    entry = waitlist.join(world["code"], "laptop", world["point"].id)
    other_clear = factories.code(factories.beneficiary(world["worker"]), categories=("computer",),
                                 worker=world["worker"])[1]
    client.post("/reserve", data={"code": other_clear}, headers=EN)
    assert client.post(f"/reserve/waitlist/{entry.id}/leave", headers=EN).status_code == 404


def test_the_turn_link_reserves_the_held_unit_with_the_code_in_one_step(client, db, world):
    entry = waitlist.join(world["code"], "laptop", world["point"].id)
    unit = factories.device(point=world["point"], status=DeviceStatus.REFURBISHED)
    devices.move_by_hand(unit, DeviceStatus.LISTED, actor="staff@example.org")
    db.session.commit()
    page = client.get(f"/reserve/turn/{entry.token}", headers=EN)
    assert page.status_code == 200 and "We keep it for you until" in page.text
    wrong = factories.code(factories.beneficiary(world["worker"]), categories=("computer",), worker=world["worker"])[1]
    refused = client.post(f"/reserve/turn/{entry.token}", data={"code": wrong}, headers=EN)
    assert refused.status_code == 422 and "kept for another person" in refused.text
    done = client.post(f"/reserve/turn/{entry.token}", data={"code": world["clear"]}, headers=EN)
    assert done.status_code == 303 and "/reserve/confirmation/" in done.headers["Location"]
    reservation = db.session.scalar(sa.select(Reservation))
    assert reservation.device_id == unit.id and reservation.code_id == world["code"].id
    ended = client.get(f"/reserve/turn/{entry.token}", headers=EN)
    assert "This turn has ended" in ended.text
    assert client.get("/reserve/turn/nothing-like-this", headers=EN).status_code == 404


def test_the_social_worker_puts_a_person_in_line_and_sees_it_on_the_dashboard(client, db, world):
    client.set_cookie("lang", "en")
    factories.sign_in(client, world["worker"].email)
    code_id = world["code"].id
    bad = client.post(f"/partner/codes/{code_id}/waitlist", data=join_form(world, max_price="-1"))
    assert bad.status_code == 422 and "Give a price between 0 and 1000 euros" in bad.text
    ok = client.post(f"/partner/codes/{code_id}/waitlist", data=join_form(world))
    assert ok.status_code == 303
    board = client.get("/partner/").text
    assert "Waiting for a device" in board and "Place <bdi>1</bdi>" in board
    factories.device(point=world["point"], model="X250")
    waitlist.offer_units()
    db.session.commit()
    board = client.get("/partner/").text
    assert "Lenovo X250</bdi> held until" in board
    entry = db.session.scalar(sa.select(WaitlistEntry))
    done = client.post(f"/partner/waitlist/{entry.id}/reserve")
    assert done.status_code == 303 and "/partner/reservations/" in done.headers["Location"]


def test_another_structure_never_sees_nor_touches_a_place(client, db, world):
    entry = waitlist.join(world["code"], "laptop", world["point"].id)
    stranger = factories.user(org=factories.organisation())
    db.session.commit()
    client.set_cookie("lang", "en")
    factories.sign_in(client, stranger.email)
    assert client.post(f"/partner/waitlist/{entry.id}/leave").status_code == 404
    assert client.post(f"/partner/codes/{world['code'].id}/waitlist", data=join_form(world)).status_code == 404
    assert "Amina" not in client.get("/partner/").text


def test_staff_see_each_queues_length_and_median_wait(client, db, world):
    waitlist.join(world["code"], "laptop", world["point"].id)
    staff = factories.user(Role.STAFF, pickup_point_id=world["point"].id)
    db.session.commit()
    client.set_cookie("lang", "en")
    factories.sign_in(client, staff.email)
    page = client.get("/staff/waitlist")
    assert page.status_code == 200
    assert "Espace Borny</bdi>" in page.text and "Laptop" in page.text and "<bdi>1</bdi>" in page.text


def test_a_turn_at_a_point_that_requires_a_time_asks_for_one_on_both_sides(client, db, world):
    from datetime import timedelta

    from shop.models.types import utcnow
    from shop.services import slots

    admin = factories.user(Role.ADMIN)
    slots.set_mode(world["point"], "required", actor=admin)
    at = utcnow() + timedelta(hours=2)
    local = at.astimezone(slots.PARIS)
    slot = slots.add_extra_slot(world["point"], day=local.date(), start_minute=local.hour * 60 + local.minute,
                                minutes=15, capacity=2, actor=admin)
    entry = waitlist.join(world["code"], "laptop", world["point"].id)
    unit = factories.device(point=world["point"], status=DeviceStatus.REFURBISHED)
    devices.move_by_hand(unit, DeviceStatus.LISTED, actor="staff@example.org")
    db.session.commit()
    # The person: the turn's form offers the times; without one, nothing is reserved and the turn holds.
    page = client.get(f"/reserve/turn/{entry.token}", headers=EN).text
    assert f'id="slot-{slot.id}" value="{slot.id}"' in page
    refused = client.post(f"/reserve/turn/{entry.token}", data={"code": world["clear"]}, headers=EN)
    assert refused.status_code == 422 and "Choose a pickup time." in refused.text
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 0
    # The worker: asked for a time first, then the unit held for the turn is reserved with it.
    client.set_cookie("lang", "en")
    factories.sign_in(client, world["worker"].email)
    asked = client.post(f"/partner/waitlist/{entry.id}/reserve")
    assert asked.status_code == 200 and f'name="slot" value="{slot.id}"' in asked.text
    done = client.post(f"/partner/waitlist/{entry.id}/reserve", data={"slot": slot.id})
    assert done.status_code == 303
    reservation = db.session.scalar(sa.select(Reservation))
    assert (reservation.device_id, reservation.slot_id) == (unit.id, slot.id)
