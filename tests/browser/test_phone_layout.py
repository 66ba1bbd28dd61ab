"""Every page of every audience on a 360 pixel wide phone, in every language the shop speaks.

One browser context per audience (public, a person with a code, a partner admin, staff, admin).
On each page and in each language of `LANGUAGES`: the page never pans sideways, no text is
squeezed into a column narrower than 8 characters, and (in French and Arabic, the two directions)
axe-core finds nothing. A page the shop serves that is neither listed here nor excluded with a
reason makes the coverage test fail, so a new page is checked from the day it is added.
"""

import re
import secrets
from dataclasses import dataclass
from typing import Callable

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from shop.extensions import db
from shop.i18n import LANG_COOKIE
from shop.models import (
    Category, CodeCategory, Device, DeviceStatus, Donor, DonationBatch, EligibilityGround,
    PaymentChannel, PaymentMethod, PickupPoint, ReturnReason, Role, User,
)
from shop.services import accounts, aftersale, catalog, codes, donations, partners, reservations
from tests.browser.test_public_pages import describe_violations
from tests import factories
from tests.browser.test_reservation_journey import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
AXE_LANGUAGES = ("fr", "ar")  # one left-to-right and one right-to-left language: axe on every page
MIN_COLUMN_CHARS = 8

# GET endpoints not visited as pages, and why.
NOT_PAGES = {
    "static": "files", "healthz": "a probe, no page", "readyz": "a probe, no page", "metrics": "Prometheus text", "pages.language": "redirects at once",
    "catalog.photo": "an image", "admin.audit_export": "a CSV file", "partner.export": "a CSV file",
    "staff.import_sample": "a CSV file", "admin.beneficiary_data_file": "a JSON file",
    "partner.beneficiary_data_file": "a JSON file", "auth.second_factor": "seen during every sign-in",
    "auth.enrol": "seen during the first sign-in of staff and admin",
    "reserve.turn": "needs a live waitlist turn: checked at 360 px and by axe-core in Arabic in test_waitlist_journey.py",
    "reserve.sold_out": "needs a sold-out offer", "catalog.sold_out": "needs a sold-out offer",
    "api-docs.openapi_json": "a JSON file",
    **{f"api.{name}": "the API: JSON for programs" for name in (
        "token_info", "pickup_points", "list_batches", "get_batch", "batch_devices", "get_device", "donor_report",
        "codes")},
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
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth <= innerWidth) return {scrollWidth, innerWidth, narrow, culprits: []};
  // What sticks out of the screen (the innermost boxes), to name the culprit of a sideways pan.
  const out = [...document.body.querySelectorAll('*')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > innerWidth + 1 || r.left < -1) && !el.closest('.visually-hidden, .skip');
  });
  const culprits = out.filter(el => !out.some(other => other !== el && el.contains(other)))
    .slice(0, 3).map(el => `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 40)}`);
  return {scrollWidth, innerWidth, narrow, culprits};
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
        # Units of its own to reserve: earlier browser tests take some of the demo's stock.
        for n in range(3):
            factories.device(point=point, model=f"Phone layout {n}", serial_number=f"PL-{secrets.token_hex(4)}")
        db.session.commit()
        offers = catalog.list_offers(catalog.OfferFilters(categories=computers, pickup_point_id=point.id), per_page=50).offers
        assert len(offers) > 1, "too few computers on sale at the staff's pickup point"
        offers.sort(key=lambda o: o.count, reverse=True)
        offer = offers[0].offer_key  # the shown one stays on sale
        # Units to reserve, from the other offers (earlier browser tests may have taken some).
        to_take = [o.offer_key for o in offers[1:] for _ in range(o.count)]
        assert len(to_take) >= 2, "too few computers on sale at the staff's pickup point"

        def person(name):
            data = partners.BeneficiaryData(display_name=name, birth_year=1980, language="ar",
                                            ground=EligibilityGround.RSA)
            return partners.register_beneficiary(data, worker=partner_admin)

        def issued(name):
            return codes.issue(person(name), [CodeCategory.COMPUTER], worker=partner_admin)

        browsing, browsing_clear = issued("Layla")  # a code with nothing reserved yet
        reserved, reserved_clear = issued("Mariam")  # a code with a reservation waiting
        waiting = reservations.reserve(reserved, to_take[0], method=PaymentMethod.COUNTER)
        sold_code, _ = issued("Olena")
        sold = reservations.reserve(sold_code, to_take[1], method=PaymentMethod.COUNTER)
        reservations.hand_over(sold, actor=staff, channel=PaymentChannel.CASH)
        returned_code, _ = issued("Zahra")  # a sale brought back: its after-sale case
        for_return = factories.device(point=point, model="Phone layout return", serial_number=f"PL-{secrets.token_hex(4)}")
        returned = reservations.reserve(returned_code, for_return.offer_key, method=PaymentMethod.COUNTER)
        reservations.hand_over(returned, actor=staff, channel=PaymentChannel.CASH)
        case = aftersale.open_case(aftersale.find_sale(returned.number, [point.id]), reason=ReturnReason.BATTERY,
                                   description="La batterie ne tient pas", actor=staff)
        donor = _first(sa.select(Donor).order_by(Donor.id))
        ids = {
            "offer": offer, "person": reserved.beneficiary_id, "code": browsing.id, "waiting": waiting.number,
            "sold": sold.number, "case": case.id, "organisation": partner_admin.organisation_id, "point": point.id,
            "donor": donor.id, "batch": _first(sa.select(DonationBatch.id).order_by(DonationBatch.id)),
            "device": _first(sa.select(Device.id).where(Device.pickup_point_id == point.id,
                                                        Device.status == DeviceStatus.LISTED).order_by(Device.id)),
            "passport": _first(sa.select(Device.passport_token).order_by(Device.id)),
            "share": donations.create_share_link(donor, actor=admin),
            "reset": accounts.request_password_reset("worker@example.org")[1],
            "invitation": accounts.invite(email=f"new-worker-{secrets.token_hex(4)}@example.org", name="Nouvelle", role=Role.SOCIAL_WORKER,
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
            Page("API documentation", "/api/v1/docs", endpoint="api_docs.page"),
            Page("sign-in", "/login", endpoint="auth.login"),
            Page("forgotten password", "/password/forgot", endpoint="auth.forgot_password"),
            Page("new password", f"/password/reset/{s['reset']}", endpoint="auth.reset_password"),
            Page("invitation", f"/invitation/{s['invitation']}", endpoint="auth.accept_invitation"),
            Page("page not found", "/offer/0000000000000000"),
        ]),
        "beneficiary": Audience([
            Page("my code", "/reserve/me", before=lambda p, _: enter_code(p, s["browsing_clear"]), endpoint="reserve.me"),
            Page("join the queue", f"/reserve/waitlist/join?category=laptop&point={s['point']}",
                 endpoint="reserve.join_waitlist"),
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
        ]),
        "staff": Audience([
            Page("board", "/staff/", endpoint="staff.board"),
            Page("counter", "/staff/counter", endpoint="staff.counter"),
            Page("reservation", f"/staff/reservations/{s['waiting']}", endpoint="staff.reservation"),
            Page("reservation handed over", f"/staff/reservations/{s['sold']}"),
            Page("receipt", f"/staff/reservations/{s['sold']}/receipt", endpoint="staff.receipt"),
            Page("handover form", f"/staff/reservations/{s['sold']}/handover-form", endpoint="staff.handover_form",
                 in_persons_language=True),
            Page("after-sale", "/staff/aftersale", endpoint="staff.aftersale"),
            Page("after-sale, a sale found", f"/staff/aftersale?q={s['sold']}"),
            Page("after-sale case", f"/staff/aftersale/{s['case']}", endpoint="staff.aftersale_case"),
            Page("stock", "/staff/stock", endpoint="staff.stock"),
            Page("new device", "/staff/stock/new", endpoint="staff.new_device"),
            Page("edit device", f"/staff/stock/{s['device']}/edit", endpoint="staff.edit_device"),
            Page("stock import", "/staff/stock/import", endpoint="staff.import_devices"),
            Page("labels", "/staff/stock/labels", endpoint="staff.labels"),
            Page("erasures", "/staff/erasures", endpoint="impact.erasures"),
            Page("erasure import", "/staff/erasures/import", endpoint="impact.import_erasures"),
            Page("waiting lists", "/staff/waitlist", endpoint="staff.waitlist_figures"),
            Page("pickup times", "/staff/slots", endpoint="staff.pickup_slots"),
        ]),
        "admin": Audience([
            Page("structures", "/admin/", endpoint="admin.index"),
            Page("structure", f"/admin/organisations/{s['organisation']}", endpoint="admin.organisation"),
            Page("accounts", "/admin/accounts", endpoint="admin.accounts_page"),
            Page("audit log", "/admin/audit", endpoint="admin.audit_log"),
            Page("pickup points", "/admin/pickup-points", endpoint="admin.pickup_points_page"),
            Page("pickup point", f"/admin/pickup-points/{point}", endpoint="admin.edit_pickup_point"),
            Page("new pickup point", "/admin/pickup-points/new", endpoint="admin.new_pickup_point"),
            Page("pickup times", f"/admin/pickup-points/{point}/slots", endpoint="admin.pickup_slots"),
            Page("price grid", "/admin/prices", endpoint="admin.prices"),
            Page("warranty", "/admin/warranty", endpoint="admin.warranty_periods"),
            Page("API tokens", "/admin/api-tokens", endpoint="admin.api_tokens_page"),
            Page("payment issues", "/admin/payment-issues", endpoint="admin.payment_issues"),
            Page("messages", "/admin/messages", endpoint="admin.messages"),
            Page("system", "/admin/system", endpoint="admin.system_page"),
            Page("donors", "/admin/donors", endpoint="impact.donors"),
            Page("donor", f"/admin/donors/{donor}", endpoint="impact.donor"),
            Page("donor report", f"/admin/donors/{donor}/report", endpoint="impact.donor_report"),
            Page("donor report to print", f"/admin/donors/{donor}/report?format=print"),
            Page("batch", f"/admin/batches/{s['batch']}", endpoint="impact.batch"),
            Page("impact dashboard", "/admin/impact", endpoint="impact.dashboard"),
            Page("person's data", f"/admin/beneficiaries/{person}/data", endpoint="admin.beneficiary_data"),
            Page("erase a person", f"/admin/beneficiaries/{person}/erase", endpoint="admin.erase_beneficiary"),
        ]),
    }


CHECKED: dict[str, int] = {}
SIGN_IN = {
    "partner": lambda p: sign_in(p, "partner-admin@example.org", r"/partner/$"),
    "staff": lambda p: sign_in(p, "staff@example.org", r"/staff/$"),
    "admin": lambda p: sign_in(p, "admin@example.org", r"/admin/$"),
}


@pytest.fixture(scope="module")
def page_as(new_axe_context, base_url):
    """`page_as(role, lang)`: the one page of that audience (signed in once per module), at 360
    px, in that language."""
    pages = {}

    def get(role: str, lang: str = "fr", *, viewport=PHONE):
        if role not in pages:
            pages[role] = new_axe_context(locale="fr-FR", viewport=PHONE).new_page()
            if role in SIGN_IN:
                SIGN_IN[role](pages[role])
        page = pages[role]
        page.set_viewport_size(viewport)
        page.context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": base_url}])
        return page

    return get


def test_every_page_the_shop_serves_is_checked(live_app, scene):
    listed = {page.endpoint for audience in audiences(scene).values() for page in audience.pages}
    served = {rule.endpoint for rule in live_app.url_map.iter_rules() if "GET" in rule.methods}
    missing = served - listed - set(NOT_PAGES)
    assert not missing, f"pages nobody checks on a phone: {sorted(missing)} (add them to audiences())"


@pytest.mark.parametrize("role", ["public", "beneficiary", "partner", "staff", "admin"])
def test_every_page_fits_a_phone_in_every_language(live_app, scene, page_as, axe, role):
    audience = audiences(scene)[role]
    problems = []
    for lang in live_app.config["LANGUAGES"]:
        page = page_as(role, lang)
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


# --- Focused checks, one per fix ---------------------------------------------------------------

WIDE = {"width": 1280, "height": 900}

# Every word of the texts under `selector` that the layout cut over two lines.
BROKEN_WORDS = """selector => {
  const broken = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (node.parentElement.closest('.visually-hidden')) continue;
      // A break after a hyphen ("MFC-/L2710DW") is ordinary typography; inside a word it is not.
      for (const match of node.textContent.matchAll(/[^\\s-]+-?/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""

# How many lines each element matching `selector` takes (its text, measured on its line boxes).
LINES = """selector => [...document.querySelectorAll(selector)].map(el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return [el.textContent.trim(), new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size];
})"""


def broken_words(page, selector: str) -> list[str]:
    return page.evaluate(BROKEN_WORDS, selector)


def wrapped(page, selector: str) -> list[str]:
    found = page.evaluate(LINES, selector)
    assert found, f"nothing matches {selector} on {page.url}"
    return [text for text, lines in found if lines > 1]


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_staff_reservation_facts_get_a_readable_column_on_a_phone(scene, page_as, lang):
    page = page_as("staff", lang)
    page.goto(f"/staff/reservations/{scene['waiting']}")
    widths = page.eval_on_selector_all("main .facts dd", "els => els.map(el => el.getBoundingClientRect().width)")
    assert len(widths) >= 4
    assert min(widths) >= 0.75 * PHONE["width"], f"facts values squeezed into {widths} px"
    assert broken_words(page, "main .facts") == []


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["360px", "1280px"])
def test_staff_tables_never_cut_a_word(scene, page_as, viewport):
    page = page_as("staff", "fr", viewport=viewport)
    for path in ("/staff/", "/staff/stock"):
        page.goto(path)
        expect(page.locator("main .table tbody tr").first).to_be_visible()
        assert broken_words(page, "main .table") == [], f"{path} at {viewport['width']}px"
    page = page_as("admin", "fr", viewport=viewport)
    for path in ("/admin/prices", "/admin/accounts"):
        page.goto(path)
        assert broken_words(page, "main .table") == [], f"{path} at {viewport['width']}px"


def test_prices_dates_and_statuses_stay_on_one_line_and_statuses_are_tags(page_as):
    page = page_as("staff", "uk")
    page.goto("/staff/stock")
    rows = page.locator("main .table tbody tr")
    expect(rows.first).to_be_visible()
    assert page.locator("main .table tbody tr .tag").count() == rows.count()
    assert wrapped(page, "main .table .tag") == []
    assert wrapped(page, "main .table td.nowrap") == []
    page.goto("/staff/")
    assert wrapped(page, "main .table td.nowrap") == []


def test_table_regions_are_labelled_and_reachable_by_keyboard(page_as, axe):
    page = page_as("staff", "fr")
    for path in ("/staff/stock/import", "/staff/", "/staff/stock"):
        page.goto(path)
        regions = page.locator("main .table-wrap")
        assert regions.count() > 0
        for region in regions.all():
            expect(region).to_have_attribute("role", "region")
            expect(region).to_have_attribute("tabindex", "0")
            label = region.get_attribute("aria-labelledby")
            assert label and page.locator(f"#{label}").inner_text().strip(), f"an unnamed table region on {path}"
    page.goto("/staff/stock/import")
    assert [v["id"] for v in axe(page)] == []


@pytest.mark.parametrize("lang", ["fr", "uk"])
@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["360px", "1280px"])
def test_category_tiles_hold_long_names_and_their_counts(page_as, lang, viewport):
    page = page_as("public", lang, viewport=viewport)
    page.goto("/")
    tiles = page.locator("main .categories .category")
    expect(tiles.first).to_be_visible()
    outside = page.evaluate("""() => [...document.querySelectorAll('main .category')].filter(tile => {
        const box = tile.getBoundingClientRect();
        return tile.scrollWidth > tile.clientWidth || [...tile.children].some(child => {
          const r = child.getBoundingClientRect();
          return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5;
        });
      }).map(tile => tile.textContent.trim().replace(/\\s+/g, ' '))""")
    assert outside == [], f"tiles whose name or count spills out at {viewport['width']}px ({lang})"
    assert broken_words(page, "main .category-name") == []


def test_price_caps_and_the_erasure_csv_header_fit_a_phone(page_as):
    page = page_as("public", "fr")
    page.goto("/how-it-works")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert wrapped(page, "main .table td.nowrap") == []
    page = page_as("staff", "fr")
    page.goto("/staff/erasures/import")
    header = page.locator("main .csv-header")
    box = header.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert header.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert broken_words(page, "main .csv-header") == []  # it wraps after a ";", never inside a name


def test_the_slip_code_wraps_by_group_left_to_right_in_arabic(page_as):
    page = page_as("partner", "ar")
    issue_slip(page, "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    groups = page.eval_on_selector_all(".slip-code .group", """els => els.map(el => {
        const r = el.getBoundingClientRect(); return {text: el.textContent, left: r.left, right: r.right, top: Math.round(r.top)};
      })""")
    assert len(groups) >= 3, "the code is not shown in groups"
    assert all(0 <= g["left"] and g["right"] <= PHONE["width"] for g in groups), groups
    assert wrapped(page, ".slip-code .group") == []
    # Reading order is left to right, line after line, as the code is dictated.
    order = sorted(groups, key=lambda g: (g["top"], g["left"]))
    assert [g["text"] for g in order] == [g["text"] for g in groups]


def test_controls_that_need_javascript_stay_hidden_without_it(browser, base_url, scene, page_as):
    """Without JavaScript nothing that needs it shows: print buttons, the QR scanner, the upload
    progress. With it, the print button appears (so the check can see a shown one)."""
    pages = {
        "partner": [None],  # the slip, reached by issuing a code
        "staff": ["/staff/stock/labels", "/staff/counter", "/staff/stock/import"],
        "admin": [f"/admin/donors/{scene['donor']}/report?format=print"],
    }
    for role, paths in pages.items():
        signed_in = page_as(role, "fr").context
        context = browser.new_context(base_url=base_url, java_script_enabled=False, viewport=PHONE)
        context.add_cookies(signed_in.cookies())
        page = context.new_page()
        try:
            for path in paths:
                if path is None:
                    issue_slip(page, "fr")
                else:
                    page.goto(path)
                shown = page.evaluate("() => [...document.querySelectorAll('[hidden]')]"
                                      ".filter(el => el.getClientRects().length).map(el => el.outerHTML.slice(0, 80))")
                assert page.locator("[hidden]").count() > 0, f"no JavaScript-only control on {page.url}"
                assert shown == [], f"shown without JavaScript on {page.url}"
        finally:
            context.close()
    page = page_as("staff", "fr")
    page.goto("/staff/stock/labels")
    expect(page.locator("#print-slip")).to_be_visible()
