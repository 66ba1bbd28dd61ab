"""The partner portal in a real browser: a social worker registers an Arabic-speaking person,
issues a code and opens the slip, right to left with its QR code; every page passes axe-core."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_public_pages import describe_violations, watch_csp
from tests.browser.twofactor import pass_second_step

pytestmark = pytest.mark.browser

DEMO_PASSWORD = "solidarity-demo"


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login$"))
    pass_second_step(page, email)  # social workers may have turned it on
    expect(page).to_have_url(re.compile(r"/partner/$"))


def assert_accessible(axe, page, name: str) -> None:
    violations = axe(page)
    assert violations == [], f"axe-core on {name}:\n{describe_violations(violations)}"


@pytest.fixture(scope="module")
def worker_page(new_axe_context):
    """One signed-in social worker (French browser), shared by the tests of this module."""
    page = new_axe_context(locale="fr-FR").new_page()
    sign_in(page, "worker@example.org")
    return page


def test_worker_registers_an_arabic_speaker_issues_a_code_and_prints_a_right_to_left_slip(worker_page, axe):
    page = worker_page
    refused = watch_csp(page)
    page.goto("/partner/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert_accessible(axe, page, "dashboard")

    page.locator(".partner-nav a[href='/partner/beneficiaries/new']").click()
    page.locator("#display_name").fill("Layla")
    page.locator("#birth_year").fill("1890")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#birth_year")).to_have_value("1890")
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#language")).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page, "new beneficiary with errors")

    page.locator("#birth_year").fill("1990")
    page.locator("#language").select_option("ar")
    page.locator("#ground").select_option("asylum_refugee")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/partner/beneficiaries/\d+$"))
    expect(page.locator("h1")).to_have_text("Layla")
    assert_accessible(axe, page, "beneficiary page")
    person_url = page.url

    page.locator(f"a[href$='{person_url.rsplit('/partner', 1)[1]}/codes/new']").first.click()
    expect(page).to_have_url(re.compile(r"/codes/new$"))
    assert_accessible(axe, page, "issue code")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#categories-error")).to_be_visible()
    assert_accessible(axe, page, "issue code with errors")

    page.locator("input[name=categories][value=computer]").check()
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/partner/codes/\d+/slip$"))

    # The worker's page stays in French; the slip itself is in Arabic, right to left.
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("article.slip")).to_have_attribute("dir", "rtl")
    expect(page.locator("article.slip")).to_have_attribute("lang", "ar")
    expect(page.locator(".slip-code")).to_have_attribute("dir", "ltr")
    expect(page.locator(".slip-code")).to_have_text(re.compile(r"^\S{4} \S{4} \S{4} \S{2}$"))
    qr_code = page.locator(".slip-qr svg[role=img]")
    expect(qr_code).to_be_visible()
    assert qr_code.locator("path").count() == 1
    expect(page.locator(".site-header")).to_contain_text("Se déconnecter")
    expect(page.locator("#print-slip")).to_be_visible()
    expect(page.locator(".slip article.point").first).to_be_visible()
    assert_accessible(axe, page, "slip (Arabic)")

    page.reload()
    expect(page.locator(".slip-code")).to_have_count(0)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert_accessible(axe, page, "slip already shown")
    assert refused == []


def test_the_printed_slip_fits_a_receipt_printer(worker_page):
    page = worker_page
    page.goto("/partner/")
    page.locator("tbody a", has_text="Amina").click()
    reissue = page.locator("details.code-action-reissue").first
    reissue.locator("summary").click()
    reissue.locator("input[name$='-reason']").fill("Ticket perdu")
    reissue.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/slip$"))

    page.emulate_media(media="print")
    page.set_viewport_size({"width": 300, "height": 1200})  # about 80 mm

    expect(page.locator(".slip-tools")).to_be_hidden()
    expect(page.locator(".slip-code")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 300
    page.emulate_media(media="screen")


def test_edit_page_has_no_wcag_violation(worker_page, axe):
    page = worker_page
    page.goto("/partner/")
    page.locator("tbody a", has_text="Oleksandr").click()
    expect(page).to_have_url(re.compile(r"/partner/beneficiaries/\d+$"))
    assert_accessible(axe, page, "beneficiary page with codes")
    page.locator("a[href$='/edit']").click()
    expect(page.locator("#display_name")).to_have_value("Oleksandr")
    assert_accessible(axe, page, "edit beneficiary")


def test_partner_admin_sees_the_quota_and_the_team_page_without_wcag_violation(new_axe_context, axe):
    page = new_axe_context().new_page()
    sign_in(page, "partner-admin@example.org")
    expect(page.locator("#quota-title")).to_be_visible()
    assert_accessible(axe, page, "dashboard (partner admin)")

    page.locator(".partner-nav a[href='/partner/team']").click()
    # The structure's two demo members, and nobody of another structure. (Other browser modules
    # may invite more people into this structure on the shared live server: order is not fixed.)
    rows = page.locator("tbody tr")
    expect(rows.filter(has_text="partner-admin@example.org")).to_have_count(1)
    expect(rows.filter(has_text="worker@example.org")).to_have_count(1)
    expect(rows.filter(has_text="worker2@example.org")).to_have_count(0)
    page.locator("#email").fill("not-an-address")
    page.locator("#name").fill("Nour")
    page.locator("form[action='/partner/team'] button[type=submit]").click()
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#name")).to_have_value("Nour")
    assert_accessible(axe, page, "team page with errors")
