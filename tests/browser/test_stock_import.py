"""Importing devices from a file in a real browser, with and without the progress script, and
the admin's price grid and pickup-point form: every page passes axe-core."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_public_pages import watch_csp
from tests.browser.test_reservation_journey import assert_accessible, sign_in
from tests.browser.test_staff_counter import PHONE, assert_fits

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sample-devices.csv"
HEADER = "numero_serie;categorie;marque;modele;etat;prix;lot"


def csv_file(name: str, *lines: str) -> dict:
    return {"name": name, "mimeType": "text/csv", "buffer": ("\r\n".join(lines) + "\r\n").encode()}


@pytest.fixture(scope="module")
def staff_page(new_axe_context):
    page = new_axe_context(locale="fr-FR").new_page()
    sign_in(page, "staff@example.org", r"/staff/$")
    return page


@pytest.fixture(scope="module")
def admin_page(new_axe_context):
    page = new_axe_context(locale="en-GB").new_page()
    sign_in(page, "admin@example.org", r"/admin/$")
    return page


def test_import_a_file_with_errors_then_the_sample(staff_page, axe):
    page = staff_page
    refused = watch_csp(page)
    page.goto("/staff/stock")
    page.locator("main a[href='/staff/stock/import']").click()
    expect(page).to_have_url(re.compile(r"/staff/stock/import$"))
    expect(page.locator("main table")).to_contain_text("numero_serie")
    assert_accessible(axe, page, "import page")

    # A file with problems: the preview lists them by line and column; nothing to import.
    page.locator("#file").set_input_files(csv_file("lot.csv", HEADER, "BR-IMP-1;frigo;Dell;X;B;50;",
                                                   "BR-IMP-2;laptop;Dell;X;B;-3;"))
    page.locator("form.import-form button[type=submit]").click()
    problems = page.locator("table.problems tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("categorie")
    expect(problems.nth(1)).to_contain_text("prix")
    expect(page.locator("main form[action='/staff/stock/import/confirm']")).to_have_count(0)
    assert_accessible(axe, page, "import preview with problems")

    # The sample file, as shipped: ready to import, then imported.
    page.goto("/staff/stock/import")
    page.locator("#file").set_input_files(str(SAMPLE))
    page.locator("form.import-form button[type=submit]").click()
    confirm = page.locator("main form[action='/staff/stock/import/confirm'] button[type=submit]")
    expect(confirm).to_contain_text("20")
    assert_accessible(axe, page, "import preview ready")
    page.set_viewport_size(PHONE)
    try:
        assert_fits(page, 360, "the import preview")
    finally:
        page.set_viewport_size({"width": 1280, "height": 720})
    confirm.click()
    expect(page).to_have_url(re.compile(r"/staff/stock\?point=\d+$"))
    expect(page.locator(".flashes")).to_contain_text("20")
    expect(page.locator("main table")).to_contain_text("PF1SAMPLE01")
    assert refused == []


def test_import_without_javascript(browser, base_url):
    context = browser.new_context(base_url=base_url, java_script_enabled=False, locale="fr-FR")
    try:
        page = context.new_page()
        sign_in(page, "staff@example.org", r"/staff/$")
        page.goto("/staff/stock/import")
        page.locator("#file").set_input_files(csv_file("nojs.csv", HEADER, "BR-NOJS-1;tablet;Apple;iPad;B;60;"))
        page.locator("form.import-form button[type=submit]").click()
        page.locator("main form[action='/staff/stock/import/confirm'] button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/staff/stock\?point=\d+$"))
        expect(page.locator("main table")).to_contain_text("BR-NOJS-1")
    finally:
        context.close()


def test_price_grid_and_pickup_point_form(admin_page, axe):
    page = admin_page
    page.goto("/admin/")
    page.locator("nav.subnav a[href='/admin/prices']").click()
    expect(page.locator("h1")).to_have_text("Price grid")
    assert_accessible(axe, page, "price grid")
    page.locator("#price_laptop_A").fill("199")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main .error").first).to_contain_text("legal cap")
    assert_accessible(axe, page, "price grid with a refused price")

    page.locator("nav.subnav a[href='/admin/pickup-points']").click()
    expect(page.locator("main table")).to_contain_text("Emmaüs Connect Metz")
    assert_accessible(axe, page, "pickup points")
    page.locator("main a[href='/admin/pickup-points/new']").click()
    expect(page).to_have_url(re.compile(r"/admin/pickup-points/new$"))
    assert_accessible(axe, page, "new pickup point")
    page.fill("#name", "Point test navigateur")
    page.fill("#address", "2 rue des Tests")
    page.fill("#postcode", "57000")
    page.fill("#town", "Metz")
    page.fill("#d1_opens1", "14:00")
    page.fill("#d1_closes1", "10:00")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#d1_closes1-error")).to_be_visible()
    assert_accessible(axe, page, "pickup point form with errors")
    page.fill("#d1_closes1", "18:00")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/pickup-points$"))
    expect(page.locator("main table")).to_contain_text("Point test navigateur")
