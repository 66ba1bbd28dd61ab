"""The stock of a pickup point in a real browser: select devices, print their labels, try a move
that one of them cannot make (nothing changes), edit a device. Every page passes axe-core; the
stock page fits a 360 pixel wide screen."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_public_pages import watch_csp
from tests.browser.test_reservation_journey import assert_accessible, sign_in
from tests.browser.test_staff_counter import PHONE, STAFF, assert_fits

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stock_page(new_axe_context):
    page = new_axe_context(locale="fr-FR").new_page()
    sign_in(page, STAFF, r"/staff/$")
    return page


def test_select_devices_print_labels_refuse_a_bad_move_and_edit(stock_page, axe):
    page = stock_page
    refused = watch_csp(page)
    page.goto("/staff/stock?status=listed")
    rows = page.locator("main table tbody tr")
    expect(rows.first.locator("input[type=checkbox]")).to_be_visible()
    assert_accessible(axe, page, "stock page with bulk selection")

    # Two devices on sale: their labels.
    serials = [rows.nth(i).locator("th").inner_text().split("·")[0].strip() for i in range(2)]
    for i in range(2):
        rows.nth(i).locator("input[type=checkbox]").check()
    page.select_option("#action", "labels")
    page.locator("form#bulk button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/staff/stock/labels\?device=\d+&device=\d+$"))
    expect(page.locator("li.label")).to_have_count(2)
    for serial in serials:
        expect(page.locator("ul.labels")).to_contain_text(serial)
    expect(page.locator("li.label svg.qr")).to_have_count(2)
    expect(page.locator("#print-slip")).to_be_visible()  # shown by print.js; Ctrl+P works without it
    assert_accessible(axe, page, "labels page")

    # A device on sale cannot go back to "data erased": nothing changes, the page says which.
    page.goto("/staff/stock?status=listed")
    rows.nth(0).locator("input[type=checkbox]").check()
    page.select_option("#action", "erased")
    page.locator("form#bulk button[type=submit]").click()
    problems = page.locator("#bulk-problems")
    expect(problems).to_contain_text(serials[0])
    expect(rows.nth(0).locator("input[type=checkbox]")).to_be_checked()
    assert_accessible(axe, page, "stock page refusing a bulk move")

    # Edit the first device: an empty price is refused, then a valid one is saved.
    page.goto("/staff/stock?status=listed")
    rows.nth(0).locator("th a").click()
    expect(page).to_have_url(re.compile(r"/staff/stock/\d+/edit$"))
    expect(page.locator("#serial_number")).to_have_value(serials[0])
    assert_accessible(axe, page, "edit device page")
    page.fill("#price", "-5")  # a price cannot be negative
    page.locator("form.form button[type=submit]").first.click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe, page, "edit device page with errors")
    assert refused == []


def test_stock_page_fits_a_phone(stock_page):
    page = stock_page
    page.set_viewport_size(PHONE)
    try:
        page.goto("/staff/stock")
        assert_fits(page, 360, "the stock page")
    finally:
        page.set_viewport_size({"width": 1280, "height": 720})
