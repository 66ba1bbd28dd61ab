"""The waitlist in a real browser, JavaScript off: nothing on sale at a pickup point → "Tell me when
one is back" → the code → join the queue → staff put a laptop on sale → the person sees it held
for them on /reserve/me → reserves it with the code."""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from shop.extensions import db
from shop.models import DeviceStatus, OpeningHours, PickupPoint, Role
from tests import factories
from tests.browser.test_partner_portal import DEMO_PASSWORD
from tests.browser.test_public_pages import watch_csp
from tests.browser.test_reservation_journey import (
    WORKER, assert_accessible, enter_code, expect_language, issue_laptop_code, sign_in, typed_carelessly,
)
from tests.browser.test_staff_counter import PHONE, assert_fits

pytestmark = pytest.mark.browser
STAFF = "staff.thionville@example.org"


@pytest.fixture(scope="module")
def empty_point(live_app):
    """A pickup point of its own with nothing on sale, its staff account, and one laptop ready to list."""
    from shop.services import accounts, twofactor

    with live_app.app_context():
        point = PickupPoint(slug="thionville-test", name="Espace Thionville", address="2 place de la Gare",
                            postcode="57100", town="Thionville",
                            opening_hours=[OpeningHours(weekday=1, opens=time(9), closes=time(17))])
        db.session.add(point)
        db.session.flush()
        staff = accounts.create_user(email=STAFF, name="Staff Thionville", role=Role.STAFF, password=DEMO_PASSWORD,
                                     pickup_point_id=point.id, check_policy=False)
        twofactor.allow_enrolment_at_sign_in(staff)
        unit = factories.device(point=point, status=DeviceStatus.REFURBISHED, model="ThinkPad T14")
        second = factories.device(point=point, status=DeviceStatus.REFURBISHED, model="Latitude 5490",
                                  brand="Dell")
        ids = {"point": point.id, "unit": unit.id, "second": second.id}
        db.session.commit()
        db.session.remove()
    return ids


def test_sold_out_join_the_queue_a_unit_is_listed_and_the_person_reserves_it(browser, base_url, new_axe_context,
                                                                               axe, empty_point):
    worker = browser.new_context(base_url=base_url, locale="fr-FR").new_page()
    sign_in(worker, WORKER, r"/partner/$")
    code = issue_laptop_code(worker, "Nadia", language="fr")
    worker.context.close()

    person = browser.new_context(base_url=base_url, locale="fr-FR", java_script_enabled=False).new_page()
    refused = watch_csp(person)
    person.goto(f"/catalog?category=laptop&point={empty_point['point']}")
    person.locator("main .empty a[href^='/reserve/waitlist/join']").click()
    expect(person).to_have_url(re.compile(r"/reserve\?then="))
    enter_code(person, typed_carelessly(code))
    expect(person).to_have_url(re.compile(r"/reserve/waitlist/join\?category=laptop"))
    expect(person.locator("#category")).to_have_value("laptop")
    expect(person.locator("#pickup_point")).to_have_value(str(empty_point["point"]))
    person.locator("#max_price").fill("-1")
    person.locator("main form.form button[type=submit]").click()
    expect(person.locator("#max_price")).to_have_attribute("aria-invalid", "true")
    person.locator("#max_price").fill("")
    person.locator("main form.form button[type=submit]").click()
    expect(person).to_have_url(re.compile(r"/reserve/me$"))
    expect(person.locator("main .waitlist-entry")).to_contain_text("1")

    staff = browser.new_context(base_url=base_url, locale="fr-FR").new_page()
    sign_in(staff, STAFF, r"/staff/")
    staff.goto("/staff/stock")
    staff.locator(f"form[action='/staff/stock/{empty_point['unit']}/move/listed'] button").click()
    expect(staff.locator("main")).to_contain_text("ThinkPad T14")
    staff.context.close()

    person.goto("/reserve/me")
    turn = person.locator("main .waitlist-entry a[href^='/reserve/turn/']")
    expect(turn).to_be_visible()
    turn.click()
    expect(person.locator("main h2").first).to_contain_text("ThinkPad T14")
    person.locator("main form.form button[type=submit]").click()
    expect(person).to_have_url(re.compile(r"/reserve/confirmation/[^/?#]+$"))
    assert refused == []


def test_the_waitlist_pages_pass_axe_in_arabic_and_fit_a_phone(browser, base_url, new_axe_context, axe, empty_point):
    """The same pages with JavaScript on (axe-core needs it), right to left, and the social
    worker's dashboard and the staff's queue figures."""
    worker = new_axe_context(locale="fr-FR").new_page()
    sign_in(worker, WORKER, r"/partner/$")
    code = issue_laptop_code(worker, "Yasmine", language="ar")

    person = new_axe_context(locale="ar").new_page()
    refused = watch_csp(person)
    person.goto("/reserve")
    enter_code(person, typed_carelessly(code))
    person.goto(f"/reserve/waitlist/join?category=laptop&point={empty_point['point']}")
    expect_language(person, "ar")
    person.locator("#max_price").fill("1" + "0" * 30)
    person.locator("main form.form button[type=submit]").click()
    expect(person.locator("#max_price")).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, person, "the waitlist form with an error (ar)")
    person.set_viewport_size(PHONE)
    assert_fits(person, 360, "the waitlist form")
    person.locator("#max_price").fill("200")
    person.locator("main form.form button[type=submit]").click()
    expect(person).to_have_url(re.compile(r"/reserve/me$"))
    expect(person.locator("main .waitlist-entry")).to_be_visible()
    assert_accessible(axe, person, "my code, waiting in line (ar)")
    assert_fits(person, 360, "my code, waiting in line")

    worker.goto("/partner/")
    expect(worker.locator("main")).to_contain_text("Yasmine")
    assert_accessible(axe, worker, "the dashboard with people waiting")

    staff = new_axe_context(locale="fr-FR").new_page()
    sign_in(staff, STAFF, r"/staff/")
    staff.goto("/staff/waitlist")
    expect(staff.locator("main table")).to_contain_text("Espace Thionville")
    assert_accessible(axe, staff, "the queue figures")
    staff.goto("/staff/stock")
    staff.locator(f"form[action='/staff/stock/{empty_point['second']}/move/listed'] button").click()
    expect(staff.locator("main")).to_contain_text("Latitude 5490")

    person.goto("/reserve/me")
    person.locator("main .waitlist-entry a[href^='/reserve/turn/']").click()
    expect(person.locator("main h2").first).to_contain_text("Latitude 5490")
    assert_accessible(axe, person, "the unit held for a turn (ar)")
    assert_fits(person, 360, "the unit held for a turn")
    worker.goto("/partner/")
    expect(worker.locator("main table").first).to_contain_text("Latitude 5490")
    assert_accessible(axe, worker, "the dashboard with a unit held")
    assert refused == []
