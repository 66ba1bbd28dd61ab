"""Pickup times through the pages: the person chooses and changes, the worker too, staff see today's
board, admins edit hours and closures; missed pickups on the worker's dashboard and the admin's."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from shop.models import Message, PaymentMethod, PickupSlot, Reservation, ReservationStatus, Role, SlotTemplate
from shop.models.types import utcnow
from shop.services import reservations, slots
from tests import factories
from tests.factories import without_bdi

EN = {"Accept-Language": "en"}
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fast_hashing(app, monkeypatch):
    monkeypatch.setitem(app.config, "ARGON2_FAST", True)


@pytest.fixture
def world(db):
    admin = factories.user(Role.ADMIN)
    point = factories.pickup_point(name="Espace Borny")
    slots.set_mode(point, "optional", actor=admin)
    now = utcnow()
    soon = [slots.add_extra_slot(point, day=slots.local_day(at), start_minute=at.astimezone(slots.PARIS).hour * 60
                                 + at.astimezone(slots.PARIS).minute, minutes=15, capacity=1, actor=admin, now=now)
            for at in (now + timedelta(hours=2), now + timedelta(hours=3))]
    worker = factories.user(Role.SOCIAL_WORKER)
    person = factories.beneficiary(worker, display_name="Amina", language="ar")
    code, clear = factories.code(person, categories=("computer",), worker=worker)
    device = factories.device(point=point)
    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    db.session.commit()
    return dict(admin=admin, point=point, soon=soon, worker=worker, person=person, code=code, clear=clear,
                reservation=reservation, staff=staff)


def _as_person(client, world):
    assert client.post("/reserve", data={"code": world["clear"]}, headers=EN).status_code == 303


def _sign_in(client, user):
    assert factories.sign_in(client, user.email, PASSWORD).status_code == 303


def test_the_person_chooses_then_changes_the_pickup_time_with_plain_buttons(client, db, world):
    _as_person(client, world)
    number = world["reservation"].number
    page = client.get(f"/reserve/confirmation/{number}", headers=EN).text
    first, second = world["soon"]
    assert f'name="slot" value="{first.id}"' in page and "Choose a pickup time" in page
    response = client.post(f"/reserve/slot/{number}", data={"slot": first.id}, headers=EN)
    assert response.status_code == 303
    page = without_bdi(client.get(f"/reserve/confirmation/{number}", headers=EN).text)
    assert "The pickup time is saved." in page and "Pickup time:" in page and "Change the pickup time" in page
    client.post(f"/reserve/slot/{number}", data={"slot": second.id}, headers=EN)
    db.session.expire_all()
    assert db.session.get(Reservation, world["reservation"].id).slot_id == second.id
    assert [db.session.get(PickupSlot, s.id).booked for s in world["soon"]] == [0, 1]
    assert "Pickup time:" in without_bdi(client.get("/reserve/me", headers=EN).text)


def test_a_full_slot_or_a_strange_value_is_refused_with_a_message_and_changes_nothing(client, db, world):
    first = world["soon"][0]
    other_code, _ = factories.code(categories=("computer",))
    other = reservations.reserve(other_code, factories.device(point=world["point"], model="B").offer_key,
                                 method=PaymentMethod.COUNTER)
    slots.choose(other, first.id)
    db.session.commit()
    _as_person(client, world)
    number = world["reservation"].number
    for value in (first.id, "abc", 999999):
        client.post(f"/reserve/slot/{number}", data={"slot": value}, headers=EN)
        page = client.get(f"/reserve/confirmation/{number}", headers=EN).text
        assert ("This time is full now" in page) if value == first.id else ("not offered" in page)
    db.session.expire_all()
    assert db.session.get(Reservation, world["reservation"].id).slot_id is None
    assert db.session.get(PickupSlot, first.id).booked == 1


def test_the_social_worker_chooses_on_behalf_and_the_printed_part_shows_it(client, db, world):
    _sign_in(client, world["worker"])
    number = world["reservation"].number
    page = client.get(f"/partner/reservations/{number}", headers=EN).text
    assert f'value="{world["soon"][0].id}"' in page
    assert client.post(f"/partner/reservations/{number}/slot", data={"slot": world["soon"][0].id}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Reservation, world["reservation"].id).slot_id == world["soon"][0].id
    page = client.get(f"/partner/reservations/{number}", headers=EN).text
    assert "وقت الاستلام" in page or "Pickup time" in page  # the part for the person is in Arabic


def test_staff_see_todays_slots_with_who_comes(client, db, world):
    now = utcnow()
    start, _ = slots._day_bounds(slots.local_day(now))
    slot = PickupSlot(pickup_point_id=world["point"].id, starts_at=start + timedelta(minutes=1),
                      ends_at=start + timedelta(minutes=16), capacity=2, booked=0)
    db.session.add(slot)
    db.session.flush()
    slots.choose(world["reservation"], slot.id, now=start)
    db.session.commit()
    _sign_in(client, world["staff"])
    page = client.get("/staff/", headers=EN).text
    assert "Today's pickup times" in page and world["reservation"].number in page
    assert client.get("/staff/slots", headers=EN).status_code == 200


def test_admin_adds_hours_refuses_bad_ones_keeping_the_form_and_closes_a_day(client, db, world):
    _sign_in(client, world["admin"])
    point = world["point"]
    url = f"/admin/pickup-points/{point.id}/slots"
    assert client.get(url, headers=EN).status_code == 200
    bad = client.post(f"{url}/hours", data={"weekday": "1", "start": "09:00", "end": "12:00", "minutes": "15",
                                            "capacity": "0"}, headers=EN)
    assert bad.status_code == 422 and "between 1 and 100" in bad.text and 'value="09:00"' in bad.text
    good = {"weekday": "1", "start": "09:00", "end": "12:00", "minutes": "15", "capacity": "2"}
    assert client.post(f"{url}/hours", data=good, headers=EN).status_code == 303
    overlap = client.post(f"{url}/hours", data={**good, "start": "11:00", "end": "13:00"}, headers=EN)
    assert overlap.status_code == 422 and "overlap" in overlap.text
    assert db.session.scalar(sa.select(sa.func.count(SlotTemplate.id))) == 1
    # The person booked on a day that closes is told and asked to choose again.
    world["person"].email = "amina@example.net"
    slots.choose(db.session.get(Reservation, world["reservation"].id), world["soon"][0].id)
    db.session.commit()
    day = slots.local_day(world["soon"][0].starts_at)
    assert client.post(f"{url}/closures", data={"day": day.isoformat(), "reason": "Holiday"},
                       headers=EN).status_code == 303
    db.session.expire_all()
    assert db.session.get(Reservation, world["reservation"].id).slot_id is None
    assert db.session.scalar(sa.select(Message.template).where(Message.template == "slot_closed")) == "slot_closed"
    assert client.post(f"{url}/mode", data={"mode": "nonsense"}, headers=EN).status_code == 422


def test_a_missed_pickup_shows_on_the_workers_dashboard_and_is_reserved_again_in_one_step(client, db, world):
    reservations.expire_holds(utcnow() + timedelta(days=15))
    db.session.commit()
    _sign_in(client, world["worker"])
    page = client.get("/partner/", headers=EN).text
    assert "Missed pickups" in page
    number = world["reservation"].number
    response = client.post(f"/partner/reservations/{number}/again")
    assert response.status_code == 303
    db.session.expire_all()
    live = reservations.live_reservation(world["code"].id)
    assert live is not None and live.status == ReservationStatus.CONFIRMED
    assert "Missed pickups" not in client.get("/partner/", headers=EN).text
    admin_client = client.application.test_client()
    _sign_in(admin_client, world["admin"])
    assert "Missed pickups" in admin_client.get("/admin/", headers=EN).text


# --- A point that requires a time: chosen with the reservation, on both sides --------------------

@pytest.fixture
def required(db, world):
    slots.set_mode(world["point"], "required", actor=world["admin"])
    code, clear = factories.code(factories.beneficiary(world["worker"], display_name="Oleh", language="uk"),
                                 categories=("computer",), worker=world["worker"])
    device = factories.device(point=world["point"], model="Required 1")
    db.session.commit()
    return dict(code=code, clear=clear, device=device)


def test_the_person_chooses_the_time_on_the_reserve_form_and_cannot_reserve_without_one(client, db, world, required):
    assert client.post("/reserve", data={"code": required["clear"]}, headers=EN).status_code == 303
    url = f"/reserve/offer/{required['device'].offer_key}"
    first = world["soon"][0]
    page = client.get(url, headers=EN).text
    assert f'type="radio" name="slot" id="slot-{first.id}" value="{first.id}"' in page
    assert 'id="slot-none"' not in page  # required: no "no set time"
    refused = client.post(url, data={"method": "counter"}, headers=EN)
    assert refused.status_code == 422 and "Choose a pickup time." in refused.text
    assert reservations.live_reservation(required["code"].id) is None
    db.session.expire_all()
    assert db.session.get(type(required["device"]), required["device"].id).status.value == "listed"
    done = client.post(url, data={"method": "counter", "slot": first.id}, headers=EN)
    assert done.status_code == 303
    live = reservations.live_reservation(required["code"].id)
    assert live.slot_id == first.id
    assert "Pickup time:" in without_bdi(client.get(done.headers["Location"], headers=EN).text)


def test_a_full_time_on_the_reserve_form_keeps_the_choice_and_reserves_nothing(client, db, world, required):
    first, second = world["soon"]
    slots.choose(world["reservation"], first.id)  # the only place of the first time is taken
    db.session.commit()
    assert client.post("/reserve", data={"code": required["clear"]}, headers=EN).status_code == 303
    url = f"/reserve/offer/{required['device'].offer_key}"
    refused = client.post(url, data={"method": "counter", "slot": first.id}, headers=EN)
    assert refused.status_code == 422 and "This time is full now" in refused.text
    assert f'value="{second.id}"' in refused.text and f'value="{first.id}"' not in refused.text
    assert reservations.live_reservation(required["code"].id) is None


def test_an_optional_point_offers_no_set_time_first_and_reserves_without_one(client, db, world):
    code, clear = factories.code(factories.beneficiary(world["worker"]), categories=("computer",),
                                 worker=world["worker"])
    device = factories.device(point=world["point"], model="Optional 1")
    db.session.commit()
    client.post("/reserve", data={"code": clear}, headers=EN)
    page = client.get(f"/reserve/offer/{device.offer_key}", headers=EN).text
    assert 'id="slot-none" value="" checked' in page
    assert client.post(f"/reserve/offer/{device.offer_key}", data={"method": "counter", "slot": ""},
                       headers=EN).status_code == 303
    assert reservations.live_reservation(code.id).slot_id is None


def test_the_worker_is_asked_for_a_time_then_reserves_with_it(client, db, world, required):
    _sign_in(client, world["worker"])
    url = f"/partner/codes/{required['code'].id}/reserve/{required['device'].offer_key}"
    asked = client.post(url, headers=EN)
    assert asked.status_code == 200 and "Choose a pickup time" in asked.text
    assert f'name="slot" value="{world["soon"][0].id}"' in asked.text and f'action="{url}"' in asked.text
    assert reservations.live_reservation(required["code"].id) is None
    done = client.post(url, data={"slot": world["soon"][1].id}, headers=EN)
    assert done.status_code == 303 and "/partner/reservations/" in done.headers["Location"]
    assert reservations.live_reservation(required["code"].id).slot_id == world["soon"][1].id


def test_a_closed_time_shows_on_the_workers_dashboard_until_a_new_one_is_chosen(client, db, world, required):
    reservation = reservations.reserve(required["code"], required["device"].offer_key, method=PaymentMethod.COUNTER,
                                       slot_id=world["soon"][0].id)
    slots.add_closure(world["point"], day=slots.local_day(world["soon"][0].starts_at), reason="Holiday",
                      actor=world["admin"])
    db.session.commit()
    _sign_in(client, world["worker"])
    page = without_bdi(client.get("/partner/", headers=EN).text)
    assert "Pickup times to choose again" in page and "Oleh" in page
    assert f"/partner/reservations/{reservation.number}#slot" in page
    told = db.session.scalars(sa.select(Message.template).where(Message.about_id == reservation.id)).all()
    assert "slot_closed_worker" in told  # Oleh gave no phone and no e-mail: the worker is told


def test_admins_are_warned_when_a_point_requires_times_but_has_none_free(client, db, world):
    _sign_in(client, world["admin"])
    url = f"/admin/pickup-points/{world['point'].id}/slots"
    warning = "none is free in the next 7 days"
    assert warning not in client.get(url, headers=EN).text  # optional
    slots.set_mode(world["point"], "required", actor=world["admin"])
    db.session.commit()
    assert warning not in client.get(url, headers=EN).text  # two free times today
    for s in world["soon"]:
        db.session.get(PickupSlot, s.id).booked = 1
    db.session.commit()
    assert warning in client.get(url, headers=EN).text
