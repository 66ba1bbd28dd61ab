"""Two-step sign-in, the audit viewer and a person's data page in a real browser: the demo admin
sets up the second factor at first sign-in and signs in again with a code; every page passes
axe-core and the Content-Security-Policy refuses nothing."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_partner_portal import DEMO_PASSWORD, assert_accessible, sign_in as partner_sign_in
from tests.browser.test_public_pages import watch_csp
from tests.browser.twofactor import CODE, SECRETS, SETUP, enrol, type_code

pytestmark = pytest.mark.browser

ADMIN = "admin@example.org"
PHONE = {"width": 360, "height": 740}


def assert_fits(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width}px wide on a 360px screen"


def enter_password(page, email: str) -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login$"))


def _never_enrolled(live_app, email: str) -> None:
    """Other browser tests of the session may have enrolled this demo account already."""
    import sqlalchemy as sa

    from shop.extensions import db
    from shop.models import User
    from shop.services import twofactor

    with live_app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        twofactor._clear(user)
        twofactor.allow_enrolment_at_sign_in(user)  # as the demo data, or an admin's reset, grants
        db.session.commit()
    SECRETS.pop(email, None)


def test_admin_sets_up_two_step_sign_in_then_signs_in_with_a_code(new_axe_context, axe, live_app):
    _never_enrolled(live_app, ADMIN)
    page = new_axe_context(locale="fr-FR", viewport=PHONE).new_page()
    refused = watch_csp(page)
    enter_password(page, ADMIN)
    expect(page).to_have_url(SETUP)
    expect(page.locator("main svg.qr")).to_be_visible()
    expect(page.locator("#totp-secret")).to_have_text(re.compile(r"^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$"))
    assert_accessible(axe, page, "two-step set-up page")
    assert_fits(page, "the set-up page")
    # Until it is set up, the admin pages send back to the set-up.
    page.goto("/admin/")
    expect(page).to_have_url(SETUP)

    codes = enrol(page, ADMIN)
    assert len(set(codes)) == 10
    assert_accessible(axe, page, "recovery codes page")
    assert_fits(page, "the recovery codes page")
    page.locator("main a.button").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    # Another device: the password, then a code.
    other = new_axe_context(locale="ar", viewport=PHONE).new_page()
    other_refused = watch_csp(other)
    enter_password(other, ADMIN)
    expect(other).to_have_url(CODE)
    expect(other.locator("html")).to_have_attribute("dir", "rtl")
    assert_accessible(axe, other, "second step page (ar)")
    assert_fits(other, "the second step page (ar)")
    other.locator("#code").fill("000000")
    other.locator("main form button[type=submit]").click()
    expect(other.locator("#code-error")).to_be_visible()
    assert_accessible(axe, other, "second step page with an error (ar)")
    type_code(other, ADMIN)
    expect(other).to_have_url(re.compile(r"/admin/$"))

    # The audit viewer shows both sign-ins.
    page.locator("nav.subnav a[href='/admin/audit']").click()
    expect(page).to_have_url(re.compile(r"/admin/audit$"))
    expect(page.locator("main table tbody tr").first).to_be_visible()
    assert_accessible(axe, page, "audit viewer")
    assert_fits(page, "the audit viewer")
    page.locator("#actor").fill(ADMIN)
    page.locator("#action").select_option("user.")
    page.locator("main form[role=search] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/audit\?"))
    expect(page.locator("main table tbody tr")).not_to_have_count(0)
    assert_accessible(axe, page, "audit viewer, filtered")
    assert_fits(page, "the filtered audit viewer")
    assert refused == [] and other_refused == []


def test_worker_opens_a_persons_data_and_the_erasure_confirmation(new_axe_context, axe):
    page = new_axe_context(locale="fr-FR", viewport=PHONE).new_page()
    refused = watch_csp(page)
    partner_sign_in(page, "worker@example.org")
    page.locator("main table tbody a").first.click()
    expect(page).to_have_url(re.compile(r"/partner/beneficiaries/\d+$"))
    page.locator("main a[href$='/data']").click()
    expect(page).to_have_url(re.compile(r"/partner/beneficiaries/\d+/data$"))
    expect(page.locator("main dl.facts")).to_be_visible()
    assert_accessible(axe, page, "a person's data page")
    assert_fits(page, "a person's data page")

    with page.expect_download() as download:
        page.locator("main a[href$='/data.json']").click()
    assert download.value.suggested_filename.endswith(".json")

    page.locator("main a[href$='/erase']").click()
    expect(page).to_have_url(re.compile(r"/erase$"))
    assert_accessible(axe, page, "erasure confirmation")
    assert_fits(page, "the erasure confirmation")
    page.locator("main form button[type=submit]").click()  # not ticked: refused, nothing erased
    expect(page.locator("#confirm-error")).to_be_visible()
    assert_accessible(axe, page, "erasure confirmation with an error")
    assert refused == []


def test_admin_sees_payment_issues_in_arabic_on_a_phone(new_axe_context, axe, live_app):
    from shop.extensions import db
    from shop.models import PaymentIssue, PaymentIssueReason, PaymentStatus

    with live_app.app_context():
        db.session.add_all([
            PaymentIssue(stripe_event_id="evt_browser_1", session_id="cs_browser_unknown", payment_reference="pi_browser_1",
                         reason=PaymentIssueReason.UNKNOWN_SESSION, amount_cents=12000, currency="eur",
                         refund_status=PaymentStatus.DONE, refund_reference="re_browser_1"),
            PaymentIssue(stripe_event_id="evt_browser_2", session_id="cs_browser_usd", payment_reference="pi_browser_2",
                         reason=PaymentIssueReason.WRONG_CURRENCY, amount_cents=36000, currency="usd",
                         refund_status=PaymentStatus.PENDING),
        ])
        db.session.commit()
    _never_enrolled(live_app, ADMIN)
    page = new_axe_context(locale="ar", viewport=PHONE).new_page()
    refused = watch_csp(page)
    enter_password(page, ADMIN)
    enrol(page, ADMIN)
    page.goto("/admin/payment-issues")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("main table tbody tr")).to_have_count(2)
    expect(page.locator("main table")).to_contain_text("pi_browser_2")
    assert_accessible(axe, page, "payment issues (ar)")
    assert_fits(page, "the payment issues page (ar)")
    assert refused == []
