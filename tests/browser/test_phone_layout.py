"""Every page of every audience on a 360 pixel wide phone, in every language the shop speaks.

One browser context per audience (public, a person with a code, a partner admin, staff, admin).
On each page and in each language of `LANGUAGES`: the page never pans sideways, no text is
squeezed into a column narrower than 8 characters, and (in French and Arabic, the two directions)
axe-core finds nothing. A page the shop serves that is neither listed here nor excluded with a
reason makes the coverage test fail, so a new page is checked from the day it is added.
"""

import re
from dataclasses import dataclass, field
from typing import Callable

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from shop.extensions import db
from shop.i18n import LANG_COOKIE
from shop.models import (
    Category, CodeCategory, Device, DeviceStatus, Donor, DonationBatch, EligibilityGround, Organisation,
    PaymentChannel, PaymentMethod, PickupPoint, Role, User,
)
from shop.services import accounts, catalog, codes, donations, partners, reservations
from tests.browser.test_public_pages import describe_violations
from tests.browser.test_reservation_journey import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
AXE_LANGUAGES = ("fr", "ar")  # one left-to-right and one right-to-left language: axe on every page
MIN_COLUMN_CHARS = 8

# GET endpoints not visited as pages, and why.
NOT_PAGES = {
    "static": "files", "healthz": "a probe, no page", "pages.language": "redirects at once",
    "catalog.photo": "an image", "admin.audit_export": "a CSV file", "partner.export": "a CSV file",
    "staff.import_sample": "a CSV file", "admin.beneficiary_data_file": "a JSON file",
    "partner.beneficiary_data_file": "a JSON file", "auth.second_factor": "seen during every sign-in",
    "auth.enrol": "seen during the first sign-in of staff and admin",
    "reserve.sold_out": "needs a sold-out offer", "catalog.sold_out": "needs a sold-out offer",
}

# Measured in the page: its width, and every text squeezed into a too narrow column. A text's
# column is its nearest ancestor laid out as a box; a column narrower than 8 average characters
# (half an em each) fails only when the text wraps in it (a grade "B" in a narrow cell is fine).
MEASURE = """minChars => {
  const narrow = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    if (!text) continue;
    let box = node.parentElement;
    if (box.closest('svg, script, style, template, select, .visually-hidden, [hidden]')) continue;
    while (box !== document.body && ['inline', 'contents'].includes(getComputedStyle(box).display)) box = box.parentElement;
    if (seen.has(box)) continue;
    seen.add(box);
    const style = getComputedStyle(box);
    if (style.visibility === 'hidden' || box.getClientRects().length === 0) continue;
    const width = box.clientWidth - parseFloat(style.paddingInlineStart) - parseFloat(style.paddingInlineEnd);
    const chars = width / (parseFloat(style.fontSize) / 2);
    if (chars >= minChars) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
    if (lines > 1) narrow.push(`${box.tagName.toLowerCase()}.${box.className} ${Math.round(width)}px: ${text.slice(0, 40)}`);
  }
  // What sticks out of the screen (the innermost boxes), to name the culprit of a sideways pan.
  const out = [...document.body.querySelectorAll('*')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > innerWidth + 1 || r.left < -1) && !el.closest('.visually-hidden, .skip');
  });
  const culprits = out.filter(el => !out.some(other => other !== el && el.contains(other)))
    .slice(0, 3).map(el => `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 40)}`);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, narrow, culprits};
}"""


@dataclass
class Page:
    name: str
    path: str
    before: Callable | None = None  # before(page, lang): goes there itself (a page shown once, after a form)
    endpoint: str = ""
    in_persons_language: bool = False  # printed for the person: in their language, whatever the page's


@dataclass
class Audience:
    pages: list[Page]
    sign_in: Callable | None = None
    endpoints: set[str] = field(default_factory=set)


def _first(statement):
    found = db.session.scalar(statement)
    assert found is not None, f"the demo data lacks {statement}"
    return found


@pytest.fixture(scope="module")
def scene(live_app):
    """Ids, tokens and codes for every page, made through the services on the live server's data."""
    with live_app.test_request_context():
        staff = _first(sa.select(User).where(User.email == "staff@example.org"))
        admin = _first(sa.select(User).where(User.email == "admin@example.org"))
        partner_admin = _first(sa.select(User).where(User.email == "partner-admin@example.org"))
        point = db.session.get(PickupPoint, staff.pickup_point_id)
        computers = tuple(CodeCategory.COMPUTER.device_categories)
        offers = catalog.list_offers(catalog.OfferFilters(categories=computers, pickup_point_id=point.id), per_page=50).offers
        assert len(offers) > 1, "too few computers on sale at the staff's pickup point"
        offers.sort(key=lambda o: o.count, reverse=True)
        offer, reserved_offer = offers[0].offer_key, offers[1].offer_key  # the shown one stays on sale

        def person(name):
            data = partners.BeneficiaryData(display_name=name, birth_year=1980, language="ar",
                                            ground=EligibilityGround.RSA)
            return partners.register_beneficiary(data, worker=partner_admin)

        def issued(name):
            return codes.issue(person(name), [CodeCategory.COMPUTER], worker=partner_admin)

        browsing, browsing_clear = issued("Layla")  # a code with nothing reserved yet
        reserved, reserved_clear = issued("Mariam")  # a code with a reservation waiting
        waiting = reservations.reserve(reserved, reserved_offer, method=PaymentMethod.COUNTER)
        sold_code, _ = issued("Olena")
        sold = reservations.reserve(sold_code, reserved_offer, method=PaymentMethod.COUNTER)
        reservations.hand_over(sold, actor=staff, channel=PaymentChannel.CASH)
        donor = _first(sa.select(Donor).order_by(Donor.id))
        ids = {
            "offer": offer, "person": reserved.beneficiary_id, "code": browsing.id, "waiting": waiting.number,
            "sold": sold.number, "organisation": partner_admin.organisation_id, "point": point.id,
            "donor": donor.id, "batch": _first(sa.select(DonationBatch.id).order_by(DonationBatch.id)),
            "device": _first(sa.select(Device.id).where(Device.pickup_point_id == point.id,
                                                        Device.status == DeviceStatus.LISTED).order_by(Device.id)),
            "passport": _first(sa.select(Device.passport_token).order_by(Device.id)),
            "share": donations.create_share_link(donor, actor=admin),
            "reset": accounts.request_password_reset("worker@example.org")[1],
            "invitation": accounts.invite(email="new-worker@example.org", name="Nouvelle", role=Role.SOCIAL_WORKER,
                                          inviter=partner_admin, organisation=partner_admin.organisation)[1],
            "browsing_clear": browsing_clear, "reserved_clear": reserved_clear,
            "laptop_category": Category.LAPTOP.value,
        }
        db.session.commit()
        db.session.remove()
    return ids


def enter_code(page, clear: str) -> None:
    page.goto("/reserve")
    page.locator("#code").fill(clear)
    page.locator("main form.form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/reserve/me$"))


def issue_slip(page, lang: str) -> None:
    """The slip is shown once, right after the code is issued: issue one to a new person who
    speaks `lang` (one computer per person in 12 months)."""
    page.goto("/partner/beneficiaries/new")
    page.locator("#display_name").fill(f"Slip {next(_slips)}")
    page.locator("#birth_year").fill("1990")
    page.locator("#language").select_option(lang)
    page.locator("#ground").select_option("rsa")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/partner/beneficiaries/\d+$"))
    page.locator("main a[href$='/codes/new']").first.click()
    page.locator("input[name=categories][value=computer]").check()
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/partner/codes/\d+/slip$"))


_slips = iter(range(1, 10_000))


def audiences(s) -> dict[str, Audience]:
    person, point, donor = s["person"], s["point"], s["donor"]
    return {
        "public": Audience([
            Page("home", "/", endpoint="catalog.home"),
            Page("catalog", f"/catalog?category={s['laptop_category']}", endpoint="catalog.index"),
            Page("offer", f"/offer/{s['offer']}", endpoint="catalog.offer"),
            Page("passport", f"/passport/{s['passport']}", endpoint="catalog.passport"),
            Page("how it works", "/how-it-works", endpoint="pages.how_it_works"),
            Page("pickup points", "/pickup-points", endpoint="pages.pickup_points"),
            Page("where to get a code", "/where-to-get-a-code", endpoint="pages.where_to_get_a_code"),
            Page("privacy", "/privacy", endpoint="pages.privacy"),
            Page("accessibility", "/accessibility", endpoint="pages.accessibility"),
            Page("impact", "/impact", endpoint="impact.public"),
            Page("donor report shared", f"/donor-report/{s['share']}", endpoint="impact.shared_report"),
            Page("code entry", "/reserve", endpoint="reserve.enter_code"),
            Page("sign-in", "/login", endpoint="auth.login"),
            Page("forgotten password", "/password/forgot", endpoint="auth.forgot_password"),
            Page("new password", f"/password/reset/{s['reset']}", endpoint="auth.reset_password"),
            Page("invitation", f"/invitation/{s['invitation']}", endpoint="auth.accept_invitation"),
            Page("page not found", "/offer/0000000000000000"),
        ]),
        "beneficiary": Audience([
            Page("my code", "/reserve/me", before=lambda p, _: enter_code(p, s["browsing_clear"]), endpoint="reserve.me"),
            Page("confirm", f"/reserve/offer/{s['offer']}", endpoint="reserve.confirm"),
            Page("my code, reserved", "/reserve/me", before=lambda p, _: enter_code(p, s["reserved_clear"])),
            Page("confirmation", f"/reserve/confirmation/{s['waiting']}", endpoint="reserve.confirmation"),
            Page("payment return", "/reserve/payment/return", endpoint="reserve.payment_return"),
        ]),
        "partner": Audience([
            Page("dashboard", "/partner/", endpoint="partner.dashboard"),
            Page("new person", "/partner/beneficiaries/new", endpoint="partner.new_beneficiary"),
            Page("person", f"/partner/beneficiaries/{person}", endpoint="partner.beneficiary"),
            Page("edit person", f"/partner/beneficiaries/{person}/edit", endpoint="partner.edit_beneficiary"),
            Page("issue a code", f"/partner/beneficiaries/{person}/codes/new", endpoint="partner.issue_code"),
            Page("slip", "", before=issue_slip, endpoint="partner.slip", in_persons_language=True),
            Page("slip shown already", f"/partner/codes/{s['code']}/slip"),
            Page("reserve for", f"/partner/codes/{s['code']}/reserve", endpoint="partner.reserve_for"),
            Page("reserved on behalf", f"/partner/reservations/{s['waiting']}", endpoint="partner.reservation",
                 in_persons_language=True),
            Page("person's data", f"/partner/beneficiaries/{person}/data", endpoint="partner.beneficiary_data"),
            Page("erase a person", f"/partner/beneficiaries/{person}/erase", endpoint="partner.erase_beneficiary"),
            Page("team", "/partner/team", endpoint="partner.team"),
            Page("my account", "/account/two-factor", endpoint="auth.two_factor"),
            Page("change password", "/account/password", endpoint="auth.change_password"),
        ], sign_in=lambda p: sign_in(p, "partner-admin@example.org", r"/partner/$")),
        "staff": Audience([
            Page("board", "/staff/", endpoint="staff.board"),
            Page("counter", "/staff/counter", endpoint="staff.counter"),
            Page("reservation", f"/staff/reservations/{s['waiting']}", endpoint="staff.reservation"),
            Page("reservation handed over", f"/staff/reservations/{s['sold']}"),
            Page("receipt", f"/staff/reservations/{s['sold']}/receipt", endpoint="staff.receipt"),
            Page("stock", "/staff/stock", endpoint="staff.stock"),
            Page("new device", "/staff/stock/new", endpoint="staff.new_device"),
            Page("edit device", f"/staff/stock/{s['device']}/edit", endpoint="staff.edit_device"),
            Page("stock import", "/staff/stock/import", endpoint="staff.import_devices"),
            Page("labels", "/staff/stock/labels", endpoint="staff.labels"),
            Page("erasures", "/staff/erasures", endpoint="impact.erasures"),
            Page("erasure import", "/staff/erasures/import", endpoint="impact.import_erasures"),
        ], sign_in=lambda p: sign_in(p, "staff@example.org", r"/staff/$")),
        "admin": Audience([
            Page("structures", "/admin/", endpoint="admin.index"),
            Page("structure", f"/admin/organisations/{s['organisation']}", endpoint="admin.organisation"),
            Page("accounts", "/admin/accounts", endpoint="admin.accounts_page"),
            Page("audit log", "/admin/audit", endpoint="admin.audit_log"),
            Page("pickup points", "/admin/pickup-points", endpoint="admin.pickup_points_page"),
            Page("pickup point", f"/admin/pickup-points/{point}", endpoint="admin.edit_pickup_point"),
            Page("new pickup point", "/admin/pickup-points/new", endpoint="admin.new_pickup_point"),
            Page("price grid", "/admin/prices", endpoint="admin.prices"),
            Page("donors", "/admin/donors", endpoint="impact.donors"),
            Page("donor", f"/admin/donors/{donor}", endpoint="impact.donor"),
            Page("donor report", f"/admin/donors/{donor}/report", endpoint="impact.donor_report"),
            Page("batch", f"/admin/batches/{s['batch']}", endpoint="impact.batch"),
            Page("impact dashboard", "/admin/impact", endpoint="impact.dashboard"),
            Page("person's data", f"/admin/beneficiaries/{person}/data", endpoint="admin.beneficiary_data"),
            Page("erase a person", f"/admin/beneficiaries/{person}/erase", endpoint="admin.erase_beneficiary"),
        ], sign_in=lambda p: sign_in(p, "admin@example.org", r"/admin/$")),
    }


CHECKED: dict[str, int] = {}


def test_every_page_the_shop_serves_is_checked(live_app, scene):
    listed = {page.endpoint for audience in audiences(scene).values() for page in audience.pages}
    served = {rule.endpoint for rule in live_app.url_map.iter_rules() if "GET" in rule.methods}
    missing = served - listed - set(NOT_PAGES)
    assert not missing, f"pages nobody checks on a phone: {sorted(missing)} (add them to audiences())"


@pytest.mark.parametrize("role", ["public", "beneficiary", "partner", "staff", "admin"])
def test_every_page_fits_a_phone_in_every_language(live_app, scene, new_axe_context, axe, base_url, role):
    audience = audiences(scene)[role]
    page = new_axe_context(locale="fr-FR", viewport=PHONE).new_page()
    if audience.sign_in:
        audience.sign_in(page)
    problems = []
    for lang in live_app.config["LANGUAGES"]:
        page.context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": base_url}])
        for shown in audience.pages:
            where = f"{role} {shown.name} ({lang})"
            if shown.before:
                shown.before(page, lang)
            if shown.path:
                response = page.goto(shown.path)
                assert response.status < 500, f"{where}: HTTP {response.status}"
            if not shown.in_persons_language:
                expect(page.locator("html")).to_have_attribute("lang", re.compile(rf"^{lang}"))
            measured = page.evaluate(MEASURE, MIN_COLUMN_CHARS)
            if measured["scrollWidth"] > measured["innerWidth"]:
                problems.append(f"{where}: {measured['scrollWidth']}px wide on a {measured['innerWidth']}px screen "
                                f"({'; '.join(measured['culprits'])})")
            narrow = sorted(set(measured["narrow"]))
            problems += [f"{where}: squeezed text {item}" for item in narrow[:5]]
            if lang in AXE_LANGUAGES:
                violations = axe(page)
                if violations:
                    problems.append(f"{where}: axe-core\n{describe_violations(violations)}")
            CHECKED[role] = CHECKED.get(role, 0) + 1
    print(f"\n{role}: {CHECKED[role]} page views checked "
          f"({len(audience.pages)} pages × {len(live_app.config['LANGUAGES'])} languages)")
    assert not problems, "\n".join(problems)
