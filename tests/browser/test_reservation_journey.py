"""The beneficiary's journey in a real browser: a social worker issues a code through the portal,
the person enters it (typed carelessly), picks a laptop, reserves it and lands on the pickup
confirmation with its QR code — in French and in Arabic, without JavaScript, and up to the
Stripe Checkout redirect with a faked Stripe. Every page of the flow passes axe-core."""

import contextlib
import itertools
import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.twofactor import pass_second_step

from tests.browser.test_partner_portal import DEMO_PASSWORD
from tests.browser.test_public_pages import describe_violations, watch_csp
from tests.stripe_fake import FakeStripeHTTP, param

pytestmark = pytest.mark.browser

WORKER = "worker@example.org"
PICKUP_CODE = re.compile(r"^\d{6}$")
_people = itertools.count(1)
RESERVE_WITH_MY_CODE = {"fr": "Réserver avec mon code", "ar": "الحجز باستخدام رمزي", "en": "Reserve with my code"}


# --- Helpers shared with test_staff_counter.py -------------------------------------------------

def sign_in(page, email: str, lands_on: str) -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login$"))
    pass_second_step(page, email)
    expect(page).to_have_url(re.compile(lands_on))


def issue_laptop_code(worker_page, name: str, language: str = "fr", *, texts_to: str | None = None) -> str:
    """Register a new person and issue them a code for a computer, through the partner portal.

    Returns the clear code read from the slip (spaces removed). A new person each time: the
    limit of one computer per person in 12 months would refuse a second code to the same one.
    """
    page = worker_page
    page.goto("/partner/beneficiaries/new")
    page.locator("#display_name").fill(name)
    page.locator("#birth_year").fill(str(1960 + next(_people) % 40))
    page.locator("#language").select_option(language)
    page.locator("#ground").select_option("rsa")
    if texts_to:  # the person agrees to texts on this number
        page.locator("#texts_allowed").check()
        page.locator("#sms_phone").fill(texts_to)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/partner/beneficiaries/\d+$"))

    page.locator("main a[href$='/codes/new']").first.click()
    expect(page).to_have_url(re.compile(r"/codes/new$"))
    page.locator("input[name=categories][value=computer]").check()
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/partner/codes/\d+/slip$"))
    shown = page.locator(".slip-code").inner_text()
    clear = re.sub(r"\s", "", shown)
    assert re.fullmatch(r"[0-9A-Z]{14}", clear), f"unexpected code on the slip: {shown!r}"
    return clear


def typed_carelessly(clear: str) -> str:
    """The code as a person may type it: small letters, dashes between the groups."""
    return "-".join(clear[i:i + 4] for i in range(0, len(clear), 4)).lower()


def assert_accessible(axe, page, name: str) -> None:
    violations = axe(page)
    assert violations == [], f"axe-core on {name}:\n{describe_violations(violations)}"


def expect_language(page, lang: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")


def expect_step(page, number: int) -> None:
    expect(page.locator("ol.steps-bar li[aria-current=step] .step-number")).to_have_text(str(number))


def submit_main_form(page) -> None:
    page.locator("main form.form button[type=submit]").click()


def enter_code(page, typed: str) -> None:
    page.locator("#code").fill(typed)
    submit_main_form(page)


def open_first_laptop(page, at_point: str | None = None) -> str:
    """From the catalog of laptops, open the first offer (one still on sale), if asked at the
    pickup point named `at_point` (through the catalog's filter); return the offer's key."""
    if at_point is not None:
        point_id = page.locator("#point option", has_text=at_point).get_attribute("value")
        page.goto(f"/catalog?category=laptop&point={point_id}")
        expect(page.locator(".offers .offer .meta", has_text=at_point).first).to_be_visible()
    page.locator(".offers .offer .offer-title a").first.click()
    expect(page).to_have_url(re.compile(r"/offer/[0-9a-f]{16}$"))
    return page.url.rsplit("/", 1)[1]


def reserve_at_counter(page, offer_key: str) -> tuple[str, str]:
    """On the confirm page: pay at the pickup point, confirm; return (number, pickup code)."""
    expect(page).to_have_url(re.compile(rf"/reserve/offer/{offer_key}$"))
    page.locator("input[name=method][value=counter]").check()
    submit_main_form(page)
    expect(page).to_have_url(re.compile(r"/reserve/confirmation/[^/?#]+$"))
    number = page.url.rsplit("/", 1)[1]
    pickup_code = page.locator(".ticket .pickup-code").inner_text().strip()
    assert PICKUP_CODE.match(pickup_code), f"pickup code {pickup_code!r} is not 6 digits"
    return number, pickup_code


def beneficiary_reserves(page, code: str, name: str, lang: str, check=lambda name: None,
                         at_point: str | None = None) -> tuple[str, str]:
    """The whole journey of a person with a code, starting from the home page in French.

    `check(name)` runs on every page of the flow (axe-core in the accessibility tests);
    `at_point`: reserve a laptop at this pickup point. Returns (reservation number, pickup code).
    """
    page.goto("/")
    page.locator(f"header nav.languages a[hreflang={lang}]").click()
    expect_language(page, lang)

    page.locator("main a[href='/reserve']").first.click()
    expect(page).to_have_url(re.compile(r"/reserve$"))
    expect_language(page, lang)
    expect_step(page, 1)
    check("code entry")

    enter_code(page, "zzzz-zzzz-zzzz-z")
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#code-error")).to_be_visible()
    expect(page.locator("#code")).to_have_value("zzzz-zzzz-zzzz-z")
    expect_language(page, lang)
    check("code entry with an error")

    enter_code(page, typed_carelessly(code))
    expect(page).to_have_url(re.compile(r"/reserve/me$"))
    expect(page.locator("h1")).to_contain_text(name)
    expect_language(page, lang)
    check("my code")

    page.locator("main a[href='/catalog?category=laptop']").click()
    offer_key = open_first_laptop(page, at_point)
    reserve = page.get_by_role("link", name=RESERVE_WITH_MY_CODE[lang], exact=True)
    expect(reserve).to_have_attribute("href", f"/reserve/offer/{offer_key}")
    reserve.click()
    expect(page.locator("input[name=method][value=counter]")).to_be_checked()
    expect_step(page, 2)
    expect_language(page, lang)
    check("confirm")

    number, pickup_code = reserve_at_counter(page, offer_key)
    expect_language(page, lang)
    expect(page.locator(".ticket .qr svg")).to_be_visible()
    expect_step(page, 3)
    expect(page.locator(".ticket")).to_contain_text(number)
    expect(page.locator("main article.point, main .point").first).to_be_visible()
    check("confirmation")
    return number, pickup_code


@pytest.fixture(scope="module")
def worker_page(browser, base_url):
    """One signed-in social worker, who issues the codes of this module's tests."""
    context = browser.new_context(base_url=base_url, locale="fr-FR")
    page = context.new_page()
    sign_in(page, WORKER, r"/partner/$")
    yield page
    context.close()


# --- Tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,name", [("fr", "Lucie"), ("ar", "Yasmine")])
def test_a_person_with_a_code_reserves_a_laptop_and_pays_at_the_counter(worker_page, new_axe_context, axe, lang, name):
    code = issue_laptop_code(worker_page, name, language=lang)
    page = new_axe_context(locale="fr-FR").new_page()
    refused = watch_csp(page)

    number, pickup_code = beneficiary_reserves(
        page, code, name, lang, check=lambda page_name: assert_accessible(axe, page, f"{page_name} ({lang})")
    )

    # The person's code page now shows the reservation, and no more devices to choose.
    page.goto("/reserve/me")
    expect(page.locator("main")).to_contain_text(number)
    expect(page.locator(f"main a[href='/reserve/confirmation/{number}']")).to_be_visible()
    expect(page.locator("main a[href='/catalog?category=laptop']")).to_have_count(0)
    assert_accessible(axe, page, f"my code with a reservation ({lang})")
    assert refused == []


def test_the_journey_works_without_javascript_starting_from_an_offer(worker_page, new_context):
    """No JavaScript, and the other way in: offer first, then the code (the offer is kept)."""
    code = issue_laptop_code(worker_page, "Karim", language="fr")
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/catalog?category=laptop")
    expect_language(page, "fr")
    offer_key = open_first_laptop(page)

    page.locator(f"main a[href='/reserve/offer/{offer_key}']").click()
    expect(page).to_have_url(re.compile(rf"/reserve\?offer={offer_key}$"))
    expect(page.locator("input[name=offer]")).to_have_value(offer_key)
    enter_code(page, "0000 0000 0000 0")
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=offer]")).to_have_value(offer_key)
    enter_code(page, typed_carelessly(code))

    number, pickup_code = reserve_at_counter(page, offer_key)
    expect(page.locator(".ticket .qr svg")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")

    page.goto("/reserve/me")
    expect(page.locator("h1")).to_contain_text("Karim")
    expect(page.locator("main")).to_contain_text(number)


# --- Online payment with a faked Stripe -----------------------------------------------------

_stripe_ids = itertools.count(1)


class FakeStripe(FakeStripeHTTP):
    """tests.stripe_fake's offline Stripe, with session ids unique in the whole test session
    (each FakeStripeHTTP counts from 1, and the live server's database outlives one fake), and
    optionally the checkout URLs of the real Stripe (to test what the browser allows)."""

    def __init__(self, checkout_origin: str = "https://checkout.stripe.test"):
        super().__init__()
        self._n = next(_stripe_ids) * 1000
        self.checkout_origin = checkout_origin

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        body, status, response_headers = super().request(method, url, headers, post_data, _usage=_usage)
        if status == 200 and url.endswith("/v1/checkout/sessions"):
            data = json.loads(body)
            data["url"] = data["url"].replace("https://checkout.stripe.test", self.checkout_origin)
            body = json.dumps(data)
        return body, status, response_headers


@contextlib.contextmanager
def stripe_switched_on(app, fake):
    """Online payment on for the live server, through the offline fake; restored after."""
    missing = object()
    saved_key = app.config.get("STRIPE_SECRET_KEY")
    saved_client = app.extensions.get("stripe_http_client", missing)
    app.config["STRIPE_SECRET_KEY"] = "sk_test_fake"
    app.extensions["stripe_http_client"] = fake
    try:
        yield fake
    finally:
        app.config["STRIPE_SECRET_KEY"] = saved_key
        if saved_client is missing:
            app.extensions.pop("stripe_http_client", None)
        else:
            app.extensions["stripe_http_client"] = saved_client


def fake_checkout_page(page, origin: str) -> list[str]:
    """Answer every request to the (fake) Stripe Checkout with a tiny page: no network."""
    visited: list[str] = []

    def answer(route):
        visited.append(route.request.url)
        route.fulfill(status=200, content_type="text/html; charset=utf-8",
                      body="<!doctype html><html lang=en><title>Checkout</title><h1>Fake Stripe Checkout</h1></html>")

    page.route(f"{origin}/**", answer)
    return visited


def go_to_confirm_in_english(page, code: str) -> str:
    page.goto("/language/en?next=/reserve")
    expect_language(page, "en")
    enter_code(page, typed_carelessly(code))
    expect(page).to_have_url(re.compile(r"/reserve/me$"))
    page.goto("/catalog?category=laptop")
    offer_key = open_first_laptop(page)
    page.locator(f"main a[href='/reserve/offer/{offer_key}']").click()
    expect(page).to_have_url(re.compile(rf"/reserve/offer/{offer_key}$"))
    return offer_key


def test_paying_online_goes_to_stripe_checkout_and_waits_for_the_webhook(worker_page, new_axe_context, axe, live_app):
    """Up to the redirect to (a fake) Stripe Checkout, then back on the return page.

    The page's context bypasses the Content-Security-Policy (to inject axe); what the real
    policy does to this redirect is the subject of the next test.
    """
    code = issue_laptop_code(worker_page, "Eve", language="en")
    page = new_axe_context().new_page()
    visited = fake_checkout_page(page, "https://checkout.stripe.test")
    with stripe_switched_on(live_app, FakeStripe()) as fake:
        offer_key = go_to_confirm_in_english(page, code)
        online = page.locator("input[name=method][value=card_online]")
        expect(online).to_be_visible()
        expect(page.get_by_label("Now, online by bank card")).to_have_count(1)
        expect(page.locator("input[name=method][value=counter]")).to_be_checked()
        assert_accessible(axe, page, "confirm with online payment (en)")

        online.check()
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(f"/reserve/offer/{offer_key}")) as posted:
            submit_main_form(page)
        response = posted.value
        expect(page.locator("h1")).to_have_text("Fake Stripe Checkout")

    assert response.status == 303
    location = response.headers.get("location", "")
    assert re.fullmatch(r"https://checkout\.stripe\.test/pay/cs_test_\d+", location), location
    assert visited == [location]
    assert page.url == location

    sessions = [r for r in fake.requests if r["url"].endswith("/v1/checkout/sessions")]
    assert len(sessions) == 1
    created = sessions[0]
    assert param(created, "mode") == "payment"
    assert param(created, "locale") == "en"
    assert param(created, "metadata[reservation_id]")
    assert param(created, "success_url").endswith("/reserve/payment/return?session_id={CHECKOUT_SESSION_ID}")
    assert param(created, "cancel_url").endswith("/reserve/me")
    lifetime = int(param(created, "expires_at")) - time.time()
    assert 30 * 60 < lifetime <= 31 * 60, f"the checkout expires in {lifetime:.0f} s (Stripe wants 30 min at least)"
    assert any(name.lower() == "idempotency-key" for name in created["headers"])

    # Back from Stripe: the success page confirms nothing by itself; it waits for the webhook.
    session_id = location.rsplit("/", 1)[1]
    page.goto(f"/reserve/payment/return?session_id={session_id}")
    expect(page.locator("h1")).to_have_text("We are checking your payment")
    expect(page.locator("main [role=status]")).to_be_visible()
    expect(page.locator("head meta[http-equiv=refresh]")).to_have_count(0)
    expect(page.locator("main a[href='/reserve/payment/return']")).to_be_visible()
    expect_step(page, 3)
    assert_accessible(axe, page, "payment return, payment pending (en)")

    page.goto("/reserve/me")
    expect(page.locator("main")).to_contain_text(param(created, "metadata[reservation_number]"))
    expect(page.locator("main .state-pending_payment")).to_be_visible()


class BlockedByCSP(AssertionError):
    """The browser refused to follow the redirect to Stripe because of the shop's own CSP."""


def test_the_shop_s_own_csp_lets_the_browser_go_to_stripe_checkout(worker_page, new_context, live_app):
    code = issue_laptop_code(worker_page, "Noor", language="en")
    page = new_context().new_page()  # the real Content-Security-Policy applies here
    refused = watch_csp(page)
    visited = fake_checkout_page(page, "https://checkout.stripe.com")
    with stripe_switched_on(live_app, FakeStripe(checkout_origin="https://checkout.stripe.com")):
        go_to_confirm_in_english(page, code)
        page.locator("input[name=method][value=card_online]").check()
        submit_main_form(page)
        for _ in range(100):  # until the browser goes to Checkout, or the policy refuses it
            if visited or refused:
                break
            page.wait_for_timeout(50)
        if any("form-action" in message for message in refused):
            raise BlockedByCSP("\n".join(refused))
        expect(page.locator("h1")).to_have_text("Fake Stripe Checkout")
    assert visited and visited[0].startswith("https://checkout.stripe.com/pay/cs_test_")
    assert refused == []
