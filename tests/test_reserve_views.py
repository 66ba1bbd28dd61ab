"""The beneficiary's journey through the web pages, and reserving on someone's behalf."""

import re

import pytest
import sqlalchemy as sa

from shop.models import Category, CodeState, Device, DeviceStatus, Reservation, ReservationStatus, Role
from shop.models import PaymentMethod
from shop.services import codes, reservations
from tests import factories
from tests.factories import without_bdi
from tests.stripe_fake import WEBHOOK_SECRET, FakeStripeHTTP

EN = {"Accept-Language": "en"}


@pytest.fixture
def shop_with_code(db):
    point = factories.pickup_point(name="Espace Borny")
    laptop = factories.device(point=point)
    phone = factories.device(point=point, category=Category.SMARTPHONE, model="Pixel 4a", cpu=None, price_cents=7000)
    person = factories.beneficiary(display_name="Amina", language="ar")
    code, clear = factories.code(person, categories=("computer",))
    db.session.commit()
    return {"laptop": laptop, "phone": phone, "code": code, "clear": clear, "person": person}


def enter(client, clear, **extra):
    return client.post("/reserve", data={"code": clear, **extra}, headers=EN)


def test_the_slip_link_moves_the_code_out_of_the_url_and_prefills_it_grouped(client, shop_with_code):
    clear = shop_with_code["clear"]
    response = client.get(f"/reserve?code={clear.lower()}", headers=EN)
    assert response.status_code == 303 and response.headers["Location"] == "/reserve"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    page = client.get("/reserve", headers=EN)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert f'value="{codes.display(clear)}"' in page.text  # grouped as on the slip
    field = re.search(r'<input [^>]*id="code"[^>]*>', page.text).group(0)
    assert 'dir="ltr"' in field and 'autocapitalize="characters"' in field and 'spellcheck="false"' in field
    # Once only: the code does not stay in the session for the next visit.
    assert codes.display(clear) not in client.get("/reserve", headers=EN).text


def test_a_valid_code_opens_a_session_showing_name_rights_and_end_date(client, shop_with_code):
    typed = codes.display(shop_with_code["clear"]).lower().replace(" ", "-")
    response = enter(client, typed)
    assert response.status_code == 303 and response.headers["Location"].endswith("/reserve/me")
    page = without_bdi(client.get("/reserve/me", headers=EN).text)
    assert "Hello Amina" in page
    assert "Computer (laptop or desktop)" in page
    assert "valid until" in page


def test_a_typo_is_caught_by_the_check_symbol_without_counting_as_an_attempt(client, shop_with_code):
    clear = shop_with_code["clear"]
    typo = clear[:3] + ("X" if clear[3] != "X" else "Y") + clear[4:]
    response = enter(client, typo)
    assert response.status_code == 200
    assert "typo" in response.text


def test_an_unknown_code_is_a_counted_failed_attempt(client, shop_with_code):
    other = codes.generate()
    response = enter(client, other)
    assert response.status_code == 422
    assert "We do not know this code" in response.text


@pytest.mark.parametrize("garbage", ["", " ", "x" * 5000, "<script>alert(1)</script>", "'; DROP TABLE devices; --", "١٢٣٤"])
def test_garbage_codes_get_a_message_never_a_500(client, shop_with_code, garbage):
    response = enter(client, garbage)
    assert response.status_code in (200, 400, 422)
    assert "<script>alert(1)</script>" not in response.text


def test_failed_attempts_are_rate_limited_per_address(app, client, shop_with_code):
    if True:
        statuses = [enter(client, codes.generate()).status_code for _ in range(11)]
        # typos do not count: a well-formed but unknown code does
        assert statuses[:10] == [422] * 10
        assert statuses[10] == 429
        fresh = app.test_client()
        assert enter(fresh, codes.generate()).status_code == 429  # same address, new session
        page = client.post("/reserve", data={"code": "x"}, headers={"Accept-Language": "fr"})
        assert page.status_code == 429 and 'lang="fr"' in page.text


@pytest.mark.parametrize("state, message", [
    ("expired", "This code has expired"), ("revoked", "This code was cancelled"),
])
def test_expired_and_revoked_codes_say_what_to_do(client, db, shop_with_code, state, message):
    code = shop_with_code["code"]
    if state == "expired":
        code.expires_at = code.issued_at + (code.expires_at - code.issued_at) / 1000
        db.session.execute(sa.update(type(code)).where(type(code).id == code.id).values(
            issued_at=code.issued_at.replace(year=code.issued_at.year - 1),
            expires_at=code.issued_at.replace(year=code.issued_at.year - 1) + (code.expires_at - code.issued_at)))
    else:
        db.session.execute(sa.update(type(code)).where(type(code).id == code.id).values(status=CodeState.REVOKED))
    db.session.commit()
    response = enter(client, shop_with_code["clear"])
    assert message in response.text and "social worker" in response.text


def test_whole_journey_pay_at_the_counter(client, db, shop_with_code):
    laptop = shop_with_code["laptop"]
    offer_page = client.get(f"/offer/{laptop.offer_key}", headers=EN).text
    reserve_url = f"/reserve/offer/{laptop.offer_key}"
    assert reserve_url in offer_page
    # Without a code, the reserve button leads to the code form, then back to the offer.
    response = client.get(reserve_url, headers=EN)
    assert response.status_code == 303 and f"offer={laptop.offer_key}" in response.headers["Location"]
    response = enter(client, shop_with_code["clear"], offer=laptop.offer_key)
    assert response.headers["Location"].endswith(reserve_url)
    confirm = client.get(reserve_url, headers=EN).text
    assert "Confirm your reservation" in confirm and 'aria-current="step"' in confirm
    assert "Online by card" not in confirm and "online by bank card" not in confirm  # Stripe not configured
    response = client.post(reserve_url, data={"method": "counter"}, headers=EN)
    assert response.status_code == 303
    page = client.get(response.headers["Location"], headers=EN).text
    reservation = db.session.scalar(sa.select(Reservation))
    assert reservation.status == ReservationStatus.CONFIRMED
    assert reservation.pickup_code in page and reservation.number in page
    assert "<svg" in page and "An identity document" in page and "Espace Borny" in page
    assert "€120.00" in page
    # Double submit / back-button replay: still one reservation, and a plain message.
    again = client.post(reserve_url, data={"method": "counter"}, headers=EN, follow_redirects=True)
    assert again.status_code in (200, 410)
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 1


def test_a_code_for_another_category_is_refused_kindly(client, db, shop_with_code):
    enter(client, shop_with_code["clear"])
    url = f"/reserve/offer/{shop_with_code['phone'].offer_key}"
    assert "does not allow this kind of device" in client.get(url, headers=EN).text
    response = client.post(url, data={"method": "counter"}, headers=EN, follow_redirects=True)
    assert "does not allow this kind of device" in response.text
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 0


def test_an_offer_sold_out_meanwhile_proposes_alternatives(client, db, shop_with_code):
    laptop = shop_with_code["laptop"]
    similar = factories.device(model="ThinkPad T490", price_cents=13000)
    enter(client, shop_with_code["clear"])
    db.session.execute(sa.update(Device).where(Device.id == laptop.id).values(status=DeviceStatus.WITHDRAWN))
    db.session.commit()
    response = client.post(f"/reserve/offer/{laptop.offer_key}", data={"method": "counter"}, headers=EN)
    assert response.status_code == 410
    assert "ThinkPad T490" in response.text
    assert similar.offer_key in response.text


def test_cancel_from_my_page_frees_the_device(client, db, shop_with_code):
    laptop = shop_with_code["laptop"]
    enter(client, shop_with_code["clear"])
    client.post(f"/reserve/offer/{laptop.offer_key}", data={"method": "counter"})
    number = db.session.scalar(sa.select(Reservation.number))
    response = client.post(f"/reserve/cancel/{number}", headers=EN, follow_redirects=True)
    assert "Your reservation is cancelled" in response.text
    assert db.session.get(Device, laptop.id).status == DeviceStatus.LISTED


def test_someone_elses_reservation_is_not_found(client, db, shop_with_code):
    other_code, other_clear = factories.code(categories=("computer",))
    enter(client, other_clear)
    client.post(f"/reserve/offer/{shop_with_code['laptop'].offer_key}", data={"method": "counter"})
    number = db.session.scalar(sa.select(Reservation.number))
    stranger = client.application.test_client()
    enter(stranger, shop_with_code["clear"])
    assert stranger.get(f"/reserve/confirmation/{number}").status_code == 404
    assert stranger.post(f"/reserve/cancel/{number}").status_code == 404
    nobody = client.application.test_client()  # no code entered in this browser at all
    assert nobody.get(f"/reserve/confirmation/{number}").status_code == 404
    assert client.get(f"/reserve/confirmation/{number}").status_code == 200


def test_online_card_path_goes_to_stripe_and_waits_for_the_webhook(app, client, db, shop_with_code):
    fake = FakeStripeHTTP()
    app.extensions["stripe_http_client"] = fake
    app.config.update(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    try:
        enter(client, shop_with_code["clear"])
        url = f"/reserve/offer/{shop_with_code['laptop'].offer_key}"
        assert "online by bank card" in client.get(url, headers=EN).text
        response = client.post(url, data={"method": "card_online"}, headers=EN)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("https://checkout.stripe.test/")
        success_url = [v for k, v in fake.requests[0]["params"].items() if k == "success_url"][0][0]
        assert "/reserve/payment/return" in success_url
        page = client.get("/reserve/payment/return", headers=EN).text
        assert "We are checking your payment" in page
        assert db.session.scalar(sa.select(Reservation.status)) == ReservationStatus.PENDING_PAYMENT
    finally:
        app.config.update(STRIPE_SECRET_KEY="", STRIPE_WEBHOOK_SECRET="")
        app.extensions.pop("stripe_http_client", None)


def test_a_social_worker_reserves_on_behalf_of_a_person(client, db, shop_with_code):
    code = shop_with_code["code"]
    worker = db.session.get(type(factories.user()), code.issued_by_id)
    client.post("/login", data={"email": worker.email, "password": "correct horse battery staple"})
    page = client.get(f"/partner/codes/{code.id}/reserve", headers=EN).text
    laptop = shop_with_code["laptop"]
    assert laptop.offer_key in page and shop_with_code["phone"].offer_key not in page
    response = client.post(f"/partner/codes/{code.id}/reserve/{laptop.offer_key}")
    assert response.status_code == 303
    reservation = db.session.scalar(sa.select(Reservation))
    assert reservation.created_by_id == worker.id
    confirmation = client.get(response.headers["Location"], headers=EN).text
    # The worker's page is in the worker's language (English here), the flash message and the
    # button to cancel too; the confirmation to hand over is in the person's (Arabic).
    assert '<html lang="en" dir="ltr">' in confirmation and "Cancel this reservation" in confirmation
    assert "Sign out" in confirmation
    # The reservation was posted in French (no language asked): its message says which it is in.
    assert '<p class="flash flash-success" lang="fr" dir="ltr">L’appareil est réservé pour' in confirmation
    for_person = confirmation.split('<section class="for-person" lang="ar" dir="rtl">', 1)[1]
    assert "Cancel this reservation" not in for_person and "Status:" not in for_person
    assert reservation.pickup_code in confirmation
    person_page = client.get(f"/partner/beneficiaries/{code.beneficiary_id}", headers=EN).text
    assert reservation.number in person_page


def test_a_worker_of_another_structure_cannot_reserve_with_this_code(client, db, shop_with_code):
    stranger = factories.user(Role.SOCIAL_WORKER)
    client.post("/login", data={"email": stranger.email, "password": "correct horse battery staple"})
    code = shop_with_code["code"]
    assert client.get(f"/partner/codes/{code.id}/reserve").status_code == 404
    assert client.post(f"/partner/codes/{code.id}/reserve/{shop_with_code['laptop'].offer_key}").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 0


def test_pages_of_the_flow_have_no_inline_script_or_style(client, db, shop_with_code):
    enter(client, shop_with_code["clear"])
    for url in ("/reserve", "/reserve/me", f"/reserve/offer/{shop_with_code['laptop'].offer_key}"):
        html = client.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "style=" not in html, url


def test_a_second_reserve_by_the_holder_points_to_their_reservation(client, db, shop_with_code):
    laptop = shop_with_code["laptop"]
    enter(client, shop_with_code["clear"])
    client.post(f"/reserve/offer/{laptop.offer_key}", data={"method": "counter"})
    again = client.get(f"/reserve/offer/{laptop.offer_key}", headers=EN, follow_redirects=True)
    assert "You already have a reservation with this code" in again.text


def test_the_csp_lets_the_browser_follow_the_redirect_to_stripe_checkout(client):
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "form-action 'self' https://checkout.stripe.com" in csp


def test_reserving_through_the_page_costs_a_fixed_small_number_of_statements(client, db, count_queries,
                                                                             shop_with_code):
    """The code with its holder and its running reservation (1), the offer (1), the reservation
    itself (6 + taking the unit, see test_reservations; the person was active today; the offer row
    and the catalog's version follow by trigger); no user, no pickup point for a person without an e-mail address."""
    from shop.services import catalog

    url = f"/reserve/offer/{shop_with_code['laptop'].offer_key}"
    enter(client, shop_with_code["clear"])
    catalog._category_of_key.clear()  # a new process: the offer's category is looked up once
    with count_queries() as counter:
        response = client.post(url, data={"method": "counter"})
    assert response.status_code == 303 and "/reserve/confirmation/" in response.headers["Location"]
    take = 1 if db.engine.dialect.name == "postgresql" else 2
    assert counter.count == 2 + 6 + take, "\n".join(counter.statements)


def test_the_confirmation_page_reads_the_reservation_with_its_device_and_the_point(client, db, count_queries,
                                                                                  shop_with_code):
    """The reservation joined with its device, and the catalog's versions (read on every request
    here, PAGE_CACHE_CHECK_SECONDS being 0; at most once a second by a worker otherwise). The
    pickup point with its hours is read by the worker's first view only, then kept until the
    points' version moves. The code is not read: the reservation says which code made it."""
    from shop.models import PickupPoint

    enter(client, shop_with_code["clear"])
    location = client.post(f"/reserve/offer/{shop_with_code['laptop'].offer_key}", data={"method": "counter"}).location
    client.application.extensions["page_cache"].clear()  # a worker that has not shown the point yet
    counts = []
    for _ in range(2):
        with count_queries() as counter:
            page = client.get(location, headers=EN)
        assert page.status_code == 200 and "Lenovo ThinkPad T480" in page.text
        assert shop_with_code["laptop"].pickup_point.name in page.text
        counts.append(counter.count)
        points_read = [s for s in counter.statements if "FROM pickup_points" in s]
    assert counts == [3, 2] and not points_read, counts
    # Renamed: the trigger moves the version, and the next view reads the point again.
    point = db.session.get(PickupPoint, shop_with_code["laptop"].pickup_point_id)
    point.name = "Espace renamed"
    db.session.commit()
    assert "Espace renamed" in client.get(location, headers=EN).text


# --- The list of offers when reserving on someone's behalf ------------------------------------------

@pytest.fixture
def two_towns(db):
    """A person of a Metz structure; laptops in Metz and in Thionville, cheaper in Thionville."""
    metz = factories.pickup_point(name="Espace Metz", town="Metz")
    thionville = factories.pickup_point(name="Espace Thionville", town="Thionville")
    for n in range(12):
        factories.device(point=thionville, model=f"Far {n}", price_cents=3000 + n * 100)
    for n in range(3):
        factories.device(point=metz, model=f"Near {n}", price_cents=9000 + n * 100)
    factories.device(point=metz, category=Category.SMARTPHONE, model="Pixel 4a", cpu=None, price_cents=7000)
    worker = factories.user(Role.SOCIAL_WORKER, org=factories.organisation(town="Metz"))
    code, _ = factories.code(factories.beneficiary(worker), categories=("computer",), worker=worker)
    db.session.commit()
    return {"metz": metz, "thionville": thionville, "code": code,
            "login": {"email": worker.email, "password": factories.PASSWORD}}


def test_offers_at_the_pickup_point_of_the_persons_town_come_first(db, two_towns):
    from shop.services import catalog

    filters = catalog.OfferFilters(categories=(Category.LAPTOP,), first_point_id=two_towns["metz"].id)
    page = catalog.list_offers(filters, per_page=5)
    assert [o.pickup_point_id for o in page.offers] == [two_towns["metz"].id] * 3 + [two_towns["thionville"].id] * 2
    assert [o.price_cents for o in page.offers[:3]] == [9000, 9100, 9200]  # then by price, as asked
    assert page.total == 15
    assert catalog.pickup_point_in("metz").id == two_towns["metz"].id
    assert catalog.pickup_point_in("Nancy") is None


def test_the_on_behalf_list_is_paged_filtered_and_starts_at_the_persons_pickup_point(client, db, two_towns):
    client.post("/login", data=two_towns["login"])
    url = f"/partner/codes/{two_towns['code'].id}/reserve"

    first_html = client.get(url, headers=EN).text
    first = without_bdi(first_html)
    assert first.count('class="card offer"') == 10
    titles = re.findall(r'<h2 class="offer-title">([^<]*)</h2>', first)
    assert all("Near" in t for t in titles[:3]) and "Far" in titles[3]
    assert "Pixel 4a" not in first  # the code allows computers only
    assert "15 offers" in first and "Page 1 of 2" in first
    assert "<bdi>Espace Metz</bdi>" in first_html  # says why these come first
    assert f'href="{url}?page=2"' in first

    second = without_bdi(client.get(f"{url}?page=2", headers=EN).text)
    assert second.count('class="card offer"') == 5

    # The catalog's filters: a pickup point, a price; the category list offers only what the code allows.
    filtered = without_bdi(client.get(f"{url}?point={two_towns['thionville'].id}&max_price=32", headers=EN).text)
    assert re.findall(r'<h2 class="offer-title">([^<]*)</h2>', filtered) == [
        "Lenovo Far 0", "Lenovo Far 1", "Lenovo Far 2"]
    assert 'value="smartphone"' not in filtered and 'value="laptop"' in filtered
    assert f'href="{url}?point={two_towns["thionville"].id}&amp;max_price=32&amp;page=2"' not in filtered

    # A filter that is not understood is ignored and said so, never a 500.
    odd = client.get(f"{url}?category=smartphone&max_price=abc&page=99", headers=EN)
    assert odd.status_code == 200
    assert "Some filters were not understood" in odd.text and "This page does not exist." in odd.text


def test_an_offer_sold_out_while_the_code_is_typed_says_so_with_similar_ones(client, db, shop_with_code):
    laptop = shop_with_code["laptop"]
    other = factories.code(categories=("computer",))[0]
    reservations.reserve(other, laptop.offer_key, method=PaymentMethod.COUNTER)  # the last one goes
    db.session.commit()
    response = enter(client, shop_with_code["clear"], offer=laptop.offer_key)
    assert response.headers["Location"].endswith(f"/reserve/offer/{laptop.offer_key}")
    sold_out = client.get(response.headers["Location"], headers=EN)
    assert sold_out.status_code == 410
    # A key that never existed, or anything else, leads to "My code" as before.
    for offer in ("0" * 16, "not a key"):
        assert enter(client, shop_with_code["clear"], offer=offer).headers["Location"].endswith("/reserve/me")
