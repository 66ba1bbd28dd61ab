"""The waitlist in a real browser, JavaScript off: nothing on sale at a pickup point → "Tell me when
one is back" → the code → join the queue → staff put a laptop on sale → a text in Arabic reaches
the person (the development SMS backend's file) → they open its link and reserve with the code."""

import re
import time as clock
from datetime import time
from pathlib import Path

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


def _text_with(folder: Path, needle: str, seen: set, timeout: float = 10) -> str:
    """The first new text in the SMS folder that contains `needle` (delivered after the commit)."""
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        for path in sorted(folder.glob("*.txt")):
            if path not in seen and needle in (text := path.read_text(encoding="utf-8")):
                return text
        clock.sleep(0.1)
    raise AssertionError(f"no text containing {needle!r} in {folder}")


def test_sold_out_join_the_queue_a_unit_is_listed_and_the_person_reserves_it(browser, base_url, new_axe_context,
                                                                               axe, empty_point, live_app):
    folder = Path(live_app.config["SMS_FOLDER"])
    worker = browser.new_context(base_url=base_url, locale="fr-FR").new_page()
    sign_in(worker, WORKER, r"/partner/$")
    code = issue_laptop_code(worker, "Nadia", language="ar", texts_to="06 12 34 56 78")
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

    seen = set(folder.glob("*.txt"))
    staff = browser.new_context(base_url=base_url, locale="fr-FR").new_page()
    sign_in(staff, STAFF, r"/staff/")
    staff.goto("/staff/stock")
    staff.locator(f"form[action='/staff/stock/{empty_point['unit']}/move/listed'] button").click()
    expect(staff.locator("main")).to_contain_text("ThinkPad T14")
    staff.context.close()

    # The turn reaches the person's phone in their language, with the link to reserve.
    text = _text_with(folder, "/reserve/turn/", seen)
    assert text.startswith("To: +33612345678")
    assert re.search(r"[\u0600-\u06ff]", text), text  # Arabic, the person's language
    link = re.search(r"https?://[^/\s]+(/reserve/turn/[A-Za-z0-9_-]+)", text).group(1)
    person.goto("/reserve/me")
    expect(person.locator(f"main .waitlist-entry a[href='{link}']")).to_be_visible()
    person.goto(link)
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
