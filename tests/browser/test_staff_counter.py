"""The counter of a pickup point in a real browser: a person reserves with their code, then the
staff find the reservation by its pickup code, take the payment in cash and hand the device
over, and print the receipt. Every staff page passes axe-core; the pages used on a phone fit a
360 pixel wide screen."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_reservation_journey import (  # noqa: F401 (worker_page is a fixture)
    assert_accessible, beneficiary_reserves, issue_laptop_code, sign_in, worker_page,
)
from tests.browser.test_public_pages import watch_csp

pytestmark = pytest.mark.browser

STAFF = "staff@example.org"
STAFF_POINT = "Emmaüs Connect Metz"  # the pickup point of the demo staff account
PHONE = {"width": 360, "height": 740}


def assert_fits(page, width: int, name: str) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} is {scroll_width}px wide on a {width}px screen"


@pytest.fixture(scope="module")
def staff_page(new_axe_context):
    page = new_axe_context(locale="fr-FR").new_page()
    sign_in(page, STAFF, r"/staff/$")
    return page


def test_staff_find_a_reservation_by_pickup_code_take_cash_and_hand_over(worker_page, new_axe_context, staff_page, axe):
    # A person reserves on their phone, in Arabic, a laptop to pick up where the staff work.
    code = issue_laptop_code(worker_page, "Samia", language="ar")
    phone = new_axe_context(locale="ar", viewport=PHONE).new_page()
    refused = watch_csp(phone)
    number, pickup_code = beneficiary_reserves(phone, code, "Samia", "ar", at_point=STAFF_POINT)
    expect(phone.locator("main")).to_contain_text(STAFF_POINT)
    assert_fits(phone, 360, "the confirmation page (ar)")
    phone.locator("header nav.languages a[hreflang=fr]").click()
    expect(phone).to_have_url(re.compile(rf"/reserve/confirmation/{number}$"))
    expect(phone.locator("html")).to_have_attribute("dir", "ltr")
    assert_fits(phone, 360, "the confirmation page (fr)")

    # At the counter.
    page = staff_page
    staff_refused = watch_csp(page)
    page.goto("/staff/")
    expect(page.locator("h1")).to_contain_text(STAFF_POINT)
    expect(page.locator(f"main table a[href='/staff/reservations/{number}']").first).to_be_visible()
    assert_accessible(axe, page, "staff board")

    page.locator("nav.subnav a[href='/staff/counter']").click()
    expect(page).to_have_url(re.compile(r"/staff/counter$"))
    expect(page.locator("main [role=alert]")).to_have_count(0)
    assert_accessible(axe, page, "counter")

    wrong = "000000" if pickup_code != "000000" else "999999"
    page.locator("#q").fill(wrong)
    page.locator("form.find-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/staff/counter\?q={wrong}$"))
    expect(page.locator("main p.error[role=alert]")).to_be_visible()
    expect(page.locator("#q")).to_have_value(wrong)
    assert_accessible(axe, page, "counter, nothing found")

    page.locator("#q").fill(pickup_code)
    page.locator("form.find-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/staff/reservations/{number}$"))
    expect(page.locator("h1")).to_contain_text(number)
    expect(page.locator(".big-name")).to_contain_text("Samia")
    expect(page.locator("main .state-confirmed")).to_be_visible()
    assert_accessible(axe, page, "staff reservation page")

    page.set_viewport_size(PHONE)
    try:
        assert_fits(page, 360, "the staff reservation page")
    finally:
        page.set_viewport_size({"width": 1280, "height": 720})

    hand_over = page.locator(f"form[action='/staff/reservations/{number}/hand-over']")
    hand_over.locator("#channel").select_option("cash")
    hand_over.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/staff/reservations/{number}/receipt$"))
    receipt = page.locator("article.receipt")
    expect(receipt).to_contain_text(number)
    expect(receipt).to_contain_text(STAFF_POINT)
    expect(receipt.locator("tbody tr").first).to_contain_text("Espèces")
    assert_accessible(axe, page, "receipt")

    # The person's confirmation now says the device was picked up, and the counter no longer
    # offers to hand it over a second time.
    phone.reload()
    expect(phone.locator("main .state-picked_up")).to_be_visible()
    page.goto(f"/staff/reservations/{number}")
    expect(page.locator(f"form[action='/staff/reservations/{number}/hand-over']")).to_have_count(0)
    expect(page.locator(f"main a[href='/staff/reservations/{number}/receipt']")).to_be_visible()
    assert refused == [] and staff_refused == []


def test_a_reservation_made_on_behalf_is_marked_ready_then_handed_over(worker_page, staff_page, axe):
    """The social worker reserves for the person at the partner portal; at the counter the staff
    mark it ready from the board, then hand it over paid by card terminal."""
    issue_laptop_code(worker_page, "Ilyes", language="fr")
    code_id = re.search(r"/partner/codes/(\d+)/slip$", worker_page.url).group(1)
    worker_page.goto(f"/partner/codes/{code_id}/reserve")
    offer = worker_page.locator(".offers .offer", has_text=STAFF_POINT).first
    offer.locator("button[type=submit]").click()
    expect(worker_page).to_have_url(re.compile(r"/partner/reservations/[^/]+$"))
    number = worker_page.url.rsplit("/", 1)[1]
    pickup_code = worker_page.locator(".pickup-code").first.inner_text().strip()
    assert re.fullmatch(r"\d{6}", pickup_code), pickup_code

    page = staff_page
    page.goto("/staff/")
    row = page.locator("main table tr", has=page.locator(f"a[href='/staff/reservations/{number}']"))
    row.locator(f"form[action='/staff/reservations/{number}/ready'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/staff/\?point=\d+$"))
    expect(page.locator(".flashes .flash-success")).to_contain_text(number)
    assert_accessible(axe, page, "staff board after marking ready")

    page.locator("#q").fill(number)
    page.locator("form.find-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/staff/reservations/{number}$"))
    expect(page.locator("main .state-ready")).to_be_visible()
    hand_over = page.locator(f"form[action='/staff/reservations/{number}/hand-over']")
    hand_over.locator("#channel").select_option("card_terminal")
    hand_over.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/staff/reservations/{number}/receipt$"))
    expect(page.locator("article.receipt tbody tr").first).to_contain_text("TPE")


@pytest.mark.browser
def test_staff_add_a_device_and_put_it_on_sale(staff_page, axe):
    page = staff_page
    page.goto("/staff/stock")
    assert_accessible(axe, page, "stock page")
    page.goto("/staff/stock/new")
    page.locator("button[type=submit].button").last.click()  # nothing filled in: errors, nothing stored
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe, page, "new device form with errors")
    page.select_option("#category", "tablet")
    page.fill("#brand", "Apple")
    page.fill("#model", "iPad (7th generation)")
    page.fill("#serial_number", "BROWSER-TABLET-1")
    page.fill("#price", "70")
    page.locator("button[type=submit].button").last.click()
    expect(page.locator("main")).to_contain_text("BROWSER-TABLET-1")
    for step in ("erased", "refurbished", "listed"):
        if step == "listed":  # on sale only with a proof of erasure
            stock_url = page.url
            page.goto("/staff/erasures?serial=BROWSER-TABLET-1")
            page.fill("#tool", "Blancco Mobile Diagnostics & Erasure")
            page.fill("#performed_on", "2026-01-20")
            page.fill("#operator", "Valor'Emm")
            page.locator("form.form button[type=submit]").click()
            expect(page.locator(".flash")).to_contain_text("BROWSER-TABLET-1")
            page.goto(stock_url)
        row = page.locator("tr", has_text="BROWSER-TABLET-1")
        row.locator(f"form[action$='/move/{step}'] button").click()
        expect(page.locator(".flash")).to_contain_text("BROWSER-TABLET-1")
    page.goto("/catalog?category=tablet")
    expect(page.locator("main")).to_contain_text("iPad (7th generation)")
    assert_fits(page, 1280, "catalog")


# A browser that reads QR codes (BarcodeDetector) with a camera that sees the pickup QR code.
FAKE_CAMERA = """
(() => {
  const seen = %s;
  window.BarcodeDetector = class {
    detect() { return Promise.resolve([{ rawValue: seen, format: "qr_code" }]); }
  };
  navigator.mediaDevices.getUserMedia = () => {
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 48;
    canvas.getContext("2d").fillRect(0, 0, 64, 48);
    return Promise.resolve(canvas.captureStream(5));
  };
})();
"""


def test_staff_scan_the_pickup_qr_code_with_the_camera(worker_page, new_axe_context, axe):
    code = issue_laptop_code(worker_page, "Nadia", language="fr")
    phone = new_axe_context(locale="fr-FR", viewport=PHONE).new_page()
    number, pickup_code = beneficiary_reserves(phone, code, "Nadia", "fr", at_point=STAFF_POINT)

    context = new_axe_context(locale="fr-FR", viewport=PHONE)
    context.add_init_script(FAKE_CAMERA % json.dumps(pickup_code))
    page = context.new_page()
    refused = watch_csp(page)
    sign_in(page, STAFF, r"/staff/$")
    page.goto("/staff/counter")
    scan = page.locator("#scan button")
    expect(scan).to_be_visible()
    assert_accessible(axe, page, "counter with the QR scanner")
    assert_fits(page, 360, "the counter with the QR scanner")
    scan.click()
    expect(page).to_have_url(re.compile(rf"/staff/reservations/{number}$"))
    expect(page.locator("main")).to_contain_text("Nadia")
    assert refused == []
