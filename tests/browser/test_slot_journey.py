"""Pickup times in a real browser, without JavaScript, on a 360 px phone, in Arabic: the person
reserves, chooses a time from the plain list of buttons, changes it, and the staff of the point
see them on today's board."""

import itertools
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from shop.extensions import db
from shop.models import PickupPoint, PickupSlot, User
from shop.models.types import utcnow
from shop.services import slots
from tests.browser.test_reservation_journey import beneficiary_reserves, issue_laptop_code, sign_in, worker_page  # noqa: F401

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def todays_slots(live_app):
    """Two extra pickup times later today at the staff's point (the demo point with pickup times)."""
    return _extra_times_today(live_app, (20, 40))


def _extra_times_today(live_app, minutes):
    with live_app.test_request_context():
        staff = db.session.scalar(sa.select(User).where(User.email == "staff@example.org"))
        point = db.session.get(PickupPoint, staff.pickup_point_id)
        admin = db.session.scalar(sa.select(User).where(User.email == "admin@example.org"))
        now = utcnow()
        times = [now + timedelta(minutes=m) for m in minutes]
        if any(slots.local_day(t) != slots.local_day(now) for t in times):
            pytest.skip("too close to midnight in Paris for two more pickup times today")
        made = []
        for at in times:
            at = at.replace(second=0, microsecond=0)
            # The point's weekly hours already hold a slot every quarter of an hour: step past them.
            while db.session.scalar(sa.select(PickupSlot.id).where(PickupSlot.pickup_point_id == point.id,
                                                                   PickupSlot.starts_at == at)):
                at += timedelta(minutes=1)
            local = at.astimezone(slots.PARIS)
            made.append(slots.add_extra_slot(point, day=local.date(), start_minute=local.hour * 60 + local.minute,
                                             minutes=15, capacity=1, actor=admin).id)
        point_name = point.name
        db.session.commit()
        db.session.remove()
    return point_name, made


def test_a_person_chooses_and_changes_a_pickup_time_and_staff_see_it_today(
        browser, base_url, worker_page, todays_slots):
    point_name, (first, second) = todays_slots
    code = issue_laptop_code(worker_page, "Samira", language="ar")
    context = browser.new_context(base_url=base_url, locale="fr-FR", java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    number, _ = beneficiary_reserves(page, code, "Samira", "ar", at_point=point_name)

    choice = page.locator("#slot")
    expect(choice.locator("h2")).to_have_text("اختر وقت الاستلام")
    choice.locator(f"button[name=slot][value='{first}']").click()
    expect(page).to_have_url(re.compile(rf"/reserve/confirmation/{number}#slot$"))
    expect(page.locator("main")).to_contain_text("تم حفظ وقت الاستلام.")
    expect(page.locator("main .callout", has_text="وقت الاستلام:")).to_be_visible()
    expect(page.locator("#slot h2")).to_have_text("تغيير وقت الاستلام")
    assert page.locator("html").get_attribute("dir") == "rtl"

    page.locator(f"#slot button[name=slot][value='{second}']").click()
    expect(page.locator("main")).to_contain_text("تم حفظ وقت الاستلام.")
    # The first time is free again; the second one is full (one place), so it is no longer offered.
    expect(page.locator(f"#slot button[name=slot][value='{first}']")).to_have_count(1)
    expect(page.locator(f"#slot button[name=slot][value='{second}']")).to_have_count(0)
    page.goto("/reserve/me")
    expect(page.locator("main .callout", has_text="وقت الاستلام:")).to_be_visible()
    context.close()

    staff_context = browser.new_context(base_url=base_url, locale="fr-FR", viewport=PHONE)
    staff = staff_context.new_page()
    sign_in(staff, "staff@example.org", r"/staff/$")
    staff.goto("/")
    staff.locator("header nav.languages a[hreflang=ar]").click()
    staff.goto("/staff/")
    today = staff.locator("table:has(#today-caption)")
    row = today.locator("tr", has_text=number)
    expect(row).to_have_count(1)
    assert staff.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    staff_context.close()


_required_uses = itertools.count()


@pytest.fixture
def required_times(live_app):
    """The staff's point requires a pickup time for the length of one test (then optional again)."""
    def set_mode(value):
        with live_app.test_request_context():
            staff = db.session.scalar(sa.select(User).where(User.email == "staff@example.org"))
            slots.set_mode(db.session.get(PickupPoint, staff.pickup_point_id), value, actor=None)
            db.session.commit()
            db.session.remove()

    start = 50 + 25 * next(_required_uses)  # never another test's times (each is unique per point)
    made = _extra_times_today(live_app, (start, start + 10))
    set_mode("required")
    yield made
    set_mode("optional")


def _to_reserve_form(page, code, point_name) -> None:
    """In Arabic: enter the code, open a laptop at the point, then its reserve form."""
    page.goto("/")
    page.locator("header nav.languages a[hreflang=ar]").click()
    page.goto("/reserve")
    page.locator("#code").fill(code)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/reserve/me$"))
    page.goto("/catalog?category=laptop")
    point_id = page.locator("#point option", has_text=point_name).get_attribute("value")
    page.goto(f"/catalog?category=laptop&point={point_id}")
    page.locator(".offers .offer .offer-title a").first.click()
    page.goto(f"/reserve/offer/{page.url.rsplit('/', 1)[1]}")


def test_at_a_point_that_requires_a_time_the_person_chooses_it_on_the_reserve_form(
        browser, base_url, worker_page, required_times, new_axe_context, axe):
    point_name, (first, _) = required_times
    # With scripts on (axe needs them): the form, then the refusal without a time, are accessible.
    checked = new_axe_context(locale="fr-FR", viewport=PHONE).new_page()
    _to_reserve_form(checked, issue_laptop_code(worker_page, "Nour", language="ar"), point_name)
    choice = checked.locator("fieldset#slot")
    expect(choice.locator("legend")).to_have_text("وقت الاستلام")
    expect(choice.locator("#slot-none")).to_have_count(0)  # required: no "no set time"
    assert axe(checked) == []
    checked.locator("main form button[type=submit]").click()  # no time chosen
    expect(checked.locator("#slot-error")).to_have_text("اختر وقت الاستلام.")
    assert axe(checked) == []
    assert checked.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Without JavaScript, on a 360 px phone: choose a time and reserve with it, in one form.
    context = browser.new_context(base_url=base_url, locale="fr-FR", java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    _to_reserve_form(page, issue_laptop_code(worker_page, "Rania", language="ar"), point_name)
    page.locator(f"label[for=slot-{first}]").click()
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/reserve/confirmation/[^/?#]+$"))
    expect(page.locator("main .callout", has_text="وقت الاستلام:")).to_be_visible()
    assert page.locator("html").get_attribute("dir") == "rtl"
    context.close()


def test_the_worker_chooses_the_required_time_before_the_reservation_is_made(
        live_app, required_times, new_axe_context, axe):
    point_name, (first, _) = required_times
    page = new_axe_context(locale="fr-FR", viewport=PHONE).new_page()
    sign_in(page, "worker@example.org", r"/partner/$")
    issue_laptop_code(page, "Karim", language="ar")
    code_id = re.search(r"/partner/codes/(\d+)/slip$", page.url).group(1)
    with live_app.test_request_context():
        point_id = db.session.scalar(sa.select(PickupPoint.id).where(PickupPoint.name == point_name))
        db.session.remove()
    page.goto(f"/partner/codes/{code_id}/reserve?point={point_id}")
    page.locator("ul.offers form button[type=submit]").first.click()
    expect(page.locator("h1")).to_have_text("Choisissez une heure de retrait")  # the worker's language
    assert axe(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator(f"main button[name=slot][value='{first}']").click()
    expect(page).to_have_url(re.compile(r"/partner/reservations/[^/?#]+$"))
    expect(page.locator(".for-person .callout", has_text="وقت الاستلام:")).to_be_visible()  # the person's part
