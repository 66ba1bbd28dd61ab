"""Donor reports, the impact dashboard and the public impact page in a real browser: axe-core
finds nothing, the SVG charts have a text alternative and their data as a table, the printable
report prints without the site's navigation, and a donor's secret link opens its report."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_public_pages import watch_csp
from tests.browser.test_reservation_journey import assert_accessible, sign_in

pytestmark = pytest.mark.browser

ADMIN = "admin@example.org"
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def admin_page(new_axe_context):
    page = new_axe_context(locale="fr-FR").new_page()
    sign_in(page, ADMIN, r"/admin/$")
    return page


def assert_fits(page, width: int, name: str) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} is {scroll_width}px wide on a {width}px screen"


def test_donor_report_page_printable_view_and_share_link(admin_page, new_axe_context, axe):
    page = admin_page
    refused = watch_csp(page)
    page.locator("nav.subnav a[href='/admin/donors']").click()
    expect(page.locator("h1")).to_be_visible()
    assert_accessible(axe, page, "donors")
    page.locator("main table th a", has_text="Eurométropole de Metz").click()
    expect(page.locator("h1")).to_contain_text("Eurométropole de Metz")
    assert_accessible(axe, page, "donor page")
    page.locator("main table a", has_text="EMM-2025-01").click()
    expect(page.locator("h1")).to_contain_text("EMM-2025-01")
    assert_accessible(axe, page, "batch page")

    page.goto(page.url.split("/admin/")[0] + "/admin/donors")
    page.locator("main table a[href$='/report']").first.click()
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("table.certificates tbody tr").first).to_contain_text("VALOR-")
    assert_accessible(axe, page, "donor report")

    page.locator("main a[href*='format=print']").click()
    expect(page).to_have_url(re.compile(r"format=print"))
    expect(page.locator("#print-slip")).to_be_visible()  # the button appears when JavaScript runs
    assert_accessible(axe, page, "printable report")
    page.emulate_media(media="print")
    try:
        expect(page.locator(".site-header nav").first).to_be_hidden()
        expect(page.locator(".report-tools")).to_be_hidden()
        expect(page.locator("table.certificates")).to_be_visible()
    finally:
        page.emulate_media(media="screen")

    # A secret link for the donor: opened without an account, it shows the report, read-only.
    page.goto(page.url.split("/admin/")[0] + "/admin/donors")
    page.locator("main table th a", has_text="Eurométropole de Metz").click()
    page.locator("form[action$='/share-link'] button").click()
    link = page.locator(".share-link a").get_attribute("href")
    donor = new_axe_context(locale="fr-FR", viewport=PHONE).new_page()
    donor.goto(link)
    expect(donor.locator("h1")).to_contain_text("Eurométropole de Metz")
    expect(donor.locator("nav.subnav")).to_have_count(0)
    assert_accessible(axe, donor, "report through the share link")
    assert_fits(donor, 360, "the shared report")
    page.locator("form[action$='/share-link/revoke'] button").click()
    donor.goto(link)
    expect(donor.locator("h1")).to_have_text("Page introuvable")
    assert refused == []


def test_dashboard_charts_are_accessible_svg_with_tables(admin_page, axe):
    page = admin_page
    refused = watch_csp(page)
    page.goto(page.url.split("/admin/")[0] + "/admin/")
    page.locator("nav.subnav a[href='/admin/impact']").click()
    expect(page.locator("h1")).to_be_visible()
    charts = page.locator("svg.chart-svg[role=img]")
    expect(charts).to_have_count(5)
    for i in range(5):
        chart = charts.nth(i)
        labelled = chart.get_attribute("aria-labelledby").split()
        for ident in labelled:
            expect(page.locator(f"#{ident}")).to_have_count(1)
        assert chart.locator("title").text_content().strip()
        assert chart.locator("desc").text_content().strip()
        section = page.locator("section").filter(has=page.locator("svg.chart-svg")).nth(i)  # a chart and its table
        expect(section.locator("table")).to_have_count(1)
    assert page.locator("[style]").count() == 0
    assert_accessible(axe, page, "impact dashboard")
    page.locator("#start").fill("2026-05-01")
    page.locator("#end").fill("2026-04-01")
    page.locator("form.filter-form button[type=submit]").click()
    expect(page.locator("main .error-summary")).to_be_visible()
    expect(page.locator("#end")).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page, "impact dashboard with an invalid range")
    assert refused == []


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_public_impact_page(new_axe_context, axe, lang):
    page = new_axe_context(locale=lang).new_page()
    page.goto(f"/language/{lang}?next=/")
    page.locator("footer a[href='/impact']").click()
    expect(page).to_have_url(re.compile(r"/impact$"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator(".impact-figures li").first).to_be_visible()
    assert_accessible(axe, page, f"/impact ({lang})")
    page.set_viewport_size(PHONE)
    assert_fits(page, 360, f"/impact ({lang})")


def test_staff_erasure_pages(new_axe_context, axe):
    page = new_axe_context(locale="fr-FR").new_page()
    sign_in(page, "staff@example.org", r"/staff/$")
    page.locator("nav.subnav a[href='/staff/erasures']").click()
    expect(page).to_have_url(re.compile(r"/staff/erasures$"))
    assert_accessible(axe, page, "erasure form")
    page.locator("form.form button[type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe, page, "erasure form with errors")
    page.locator("main a[href='/staff/erasures/import']").click()
    page.set_input_files("#file", files=[{"name": "e.csv", "mimeType": "text/csv",
                                          "buffer": b"serial_number;method\nNOPE;magic\n"}])
    page.locator("form[enctype] button[type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe, page, "erasure import with problems")
