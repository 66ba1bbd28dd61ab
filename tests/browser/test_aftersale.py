"""The handover form in a real browser, without JavaScript, on a 360 px phone: staff hand a
laptop over to a person who reads Arabic, then print the form, which reads right to left in
Arabic while the staff's page around it stays in the staff's language."""

import re
import secrets

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from shop.extensions import db
from shop.models import CodeCategory, EligibilityGround, PaymentMethod, PickupPoint, User
from shop.services import codes, partners, reservations
from tests import factories
from tests.browser.test_reservation_journey import assert_accessible, sign_in

pytestmark = pytest.mark.browser

STAFF = "staff@example.org"
PHONE = {"width": 360, "height": 740}


def _reservation_for_an_arabic_speaker(live_app) -> str:
    with live_app.test_request_context():
        staff = db.session.scalar(sa.select(User).where(User.email == STAFF))
        worker = db.session.scalar(sa.select(User).where(User.email == "partner-admin@example.org"))
        point = db.session.get(PickupPoint, staff.pickup_point_id)
        device = factories.device(point=point, brand="Dell", model="Latitude 5490",
                                  serial_number=f"HF-{secrets.token_hex(4)}")
        person = partners.register_beneficiary(partners.BeneficiaryData(
            display_name="Nour", birth_year=1979, language="ar", ground=EligibilityGround.RSA), worker=worker)
        code, _ = codes.issue(person, [CodeCategory.COMPUTER], worker=worker)
        number = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER).number
        db.session.commit()
        return number


def test_staff_hand_over_then_print_the_handover_form_right_to_left(browser, base_url, live_app, new_axe_context, axe):
    number = _reservation_for_an_arabic_speaker(live_app)
    context = browser.new_context(base_url=base_url, java_script_enabled=False, viewport=PHONE, locale="fr-FR")
    page = context.new_page()
    sign_in(page, STAFF, r"/staff/$")
    page.goto(f"/staff/reservations/{number}")
    hand_over = page.locator(f"form[action='/staff/reservations/{number}/hand-over']")
    hand_over.locator("#channel").select_option("cash")
    hand_over.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/staff/reservations/{number}/receipt$"))
    expect(page.locator("article.receipt")).to_contain_text("Garantie jusqu’au")
    page.locator(f"a[href='/staff/reservations/{number}/handover-form']").click()
    expect(page).to_have_url(re.compile(rf"/staff/reservations/{number}/handover-form$"))

    # The staff's page is in French, left to right; the form is the person's: Arabic, right to left.
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    form = page.locator("article.handover")
    expect(form).to_have_attribute("lang", "ar")
    expect(form).to_have_attribute("dir", "rtl")
    expect(form.locator("h1")).to_have_text("استمارة التسليم")
    expect(form).to_contain_text("Latitude 5490")
    expect(form).to_contain_text("الضمان حتى")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Right to left: the text of each label and of the title starts at the form's right edge
    # (the text's own box, not the element's, which spans the whole line either way).
    edges = form.evaluate("""form => {
        const right = form.getBoundingClientRect().right;
        return [...form.querySelectorAll("h1, dt")].map(el => {
            const range = document.createRange();
            range.selectNodeContents(el);
            const text = range.getBoundingClientRect();
            return [right - text.right, text.left - form.getBoundingClientRect().left];
        });
    }""")
    assert edges and all(gap_right < 2 and gap_left > 20 for gap_right, gap_left in edges), edges
    # The serial number stays left to right inside the Arabic text.
    expect(form.locator("dd bdi[dir=ltr]").first).to_contain_text("HF-")

    # Printed: only the form, with both signature boxes; the print button needs JavaScript.
    expect(page.locator("#print-slip")).to_be_hidden()
    page.emulate_media(media="print")
    expect(page.locator(".slip-tools")).to_be_hidden()
    expect(page.locator(".site-header nav").first).to_be_hidden()
    signatures = form.locator(".signature")
    expect(signatures).to_have_count(2)
    for n in range(2):
        expect(signatures.nth(n)).to_be_visible()
    page.emulate_media(media="screen")

    # axe-core needs a script of its own: the same page, same session, in a context that runs it.
    checker = new_axe_context(viewport=PHONE, locale="fr-FR")
    checker.add_cookies(context.cookies())
    checked = checker.new_page()
    checked.goto(f"/staff/reservations/{number}/handover-form")
    expect(checked.locator("article.handover")).to_have_attribute("dir", "rtl")
    assert_accessible(axe, checked, "the handover form (ar) on a phone")
    context.close()
