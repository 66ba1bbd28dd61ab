"""The public pages in a real browser: browsing, languages, small screens, no JavaScript, WCAG."""

import re
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LANGUAGES = ("fr", "en", "ar", "uk", "fa", "ps", "tr", "ro", "ru")
RIGHT_TO_LEFT = {"ar", "fa", "ps"}

OFFER = "<offer>"  # replaced by the path of a real offer from the seeded data
PUBLIC_PAGES = {
    "home": ("/", 200),
    "catalog": ("/catalog", 200),
    "catalog-invalid-filter": ("/catalog?max_price=-5", 200),
    "offer": (OFFER, 200),
    "how-it-works": ("/how-it-works", 200),
    "pickup-points": ("/pickup-points", 200),
    "privacy": ("/privacy", 200),
    "accessibility": ("/accessibility", 200),
    "not-found": ("/no-such-page", 404),
}


def euros(text: str) -> float:
    """The amount of a price shown in French ("90,00 €")."""
    return float(re.sub(r"[^\d,]", "", text).replace(",", "."))


def watch_csp(page) -> list[str]:
    """Collect what the Content-Security-Policy refused on this page (it should be nothing)."""
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    return refused


def describe_violations(violations: list[dict]) -> str:
    """One line per rule broken, then one per element that breaks it."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {', '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


def offer_prices(page) -> list[float]:
    return [euros(text) for text in page.locator(".offers .offer .price").all_inner_texts()]


def offer_total(page) -> int:
    """The number of offers matching the filters, from the result line ("8 offres")."""
    return int(re.search(r"\d+", page.locator(".result-count").inner_text()).group())


def submit_filters(page, **expected_query) -> None:
    page.locator("form.filter-form button[type=submit]").click()
    for name, value in expected_query.items():
        expect(page).to_have_url(re.compile(rf"[?&]{name}={value}(&|$)"))
    page.wait_for_load_state()


def test_browse_a_category_filter_by_price_and_open_an_offer(page):
    refused = watch_csp(page)
    page.goto("/")
    page.locator("a.category[href$='category=laptop']").click()

    expect(page).to_have_url(re.compile(r"/catalog\?category=laptop$"))
    expect(page.locator(".offers .offer").first).to_be_visible()
    all_laptops = offer_total(page)

    filters = page.locator("details.filters")
    if filters.get_attribute("open") is None:
        filters.locator("summary").click()
    expect(page.locator("#max_price")).to_be_visible()
    page.locator("#max_price").fill("100")
    submit_filters(page, category="laptop", max_price="100")

    prices = offer_prices(page)
    assert prices, "no laptop at 100 euros or less in the demo data"
    assert all(price <= 100 for price in prices)
    assert 0 < offer_total(page) < all_laptops

    first = page.locator(".offers .offer").first
    title = first.locator(".offer-title a").inner_text()
    listed_price = first.locator(".price").inner_text()
    pickup_line = first.locator(".meta").last.inner_text()
    first.locator(".offer-title a").click()

    expect(page).to_have_url(re.compile(r"/offer/[0-9a-f]{16}$"))
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".price.big")).to_have_text(listed_price)
    point_name = page.locator("article.point h3")
    expect(point_name).to_be_visible()
    assert point_name.inner_text() in pickup_line
    expect(page.locator("article.point .address")).to_be_visible()
    assert refused == []


def test_arabic_is_right_to_left_and_the_choice_is_remembered(page):
    page.goto("/catalog")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")

    page.get_by_role("link", name="العربية", exact=True).click()

    expect(page).to_have_url(re.compile(r"/catalog$"))
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("link", name="العربية", exact=True)).to_have_attribute("aria-current", "true")

    page.locator("header nav a[href='/how-it-works']").click()
    expect(page).to_have_url(re.compile(r"/how-it-works$"))
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")


@pytest.fixture(scope="session")
def language_page(new_axe_context):
    """`language_page(lang)`: one open page per language, shared by the axe tests in it."""
    pages = {}

    def get(lang):
        if lang not in pages:
            page = new_axe_context().new_page()
            page.goto(f"/language/{lang}?next=/")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            pages[lang] = page
        return pages[lang]

    return get


# Every public page in every language, each its own test id: ar-offer, uk-not-found…
@pytest.mark.parametrize(
    "lang,name", [pytest.param(lang, name, id=f"{lang}-{name}") for lang in LANGUAGES for name in PUBLIC_PAGES]
)
def test_public_page_has_no_wcag_violation(language_page, axe, offer_path, lang, name):
    page = language_page(lang)
    path, status = PUBLIC_PAGES[name]
    response = page.goto(offer_path if path == OFFER else path)
    assert response.status == status
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang in RIGHT_TO_LEFT else "ltr")
    if name == "catalog-invalid-filter":
        expect(page.locator("#max_price")).to_have_attribute("aria-invalid", "true")

    violations = axe(page)

    assert violations == [], f"axe-core on {name} ({lang}):\n{describe_violations(violations)}"


@pytest.mark.parametrize("lang", ["fr", "ar", "ps"])
@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/catalog", id="catalog"),
        pytest.param("/catalog?max_price=-5", id="catalog-invalid-filter"),
        pytest.param(OFFER, id="offer"),
    ],
)
def test_no_horizontal_scrolling_on_a_360_pixel_screen(new_context, base_url, offer_path, lang, path):
    context = new_context(viewport={"width": 360, "height": 740})
    context.add_cookies([{"name": "lang", "value": lang, "url": base_url}])
    page = context.new_page()
    refused = watch_csp(page)
    page.goto(offer_path if path == OFFER else path)
    expect(page.locator("html")).to_have_attribute("lang", lang)

    scroll_width = page.evaluate("document.documentElement.scrollWidth")

    assert scroll_width <= 360, f"{path} in {lang} is {scroll_width}px wide on a 360px screen"
    assert refused == []


def test_filters_and_language_work_without_javascript(new_context):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto("/catalog")
    expect(page.locator("#max_price")).to_be_hidden()

    page.locator("details.filters > summary").click()
    page.locator("#category").select_option("smartphone")
    page.locator("#max_price").fill("70")
    submit_filters(page, category="smartphone", max_price="70")

    prices = offer_prices(page)
    assert prices and all(price <= 70 for price in prices)
    page.locator(".offers .offer-title a").first.click()
    expect(page).to_have_url(re.compile(r"/offer/[0-9a-f]{16}$"))
    expect(page.locator(".breadcrumb a")).to_have_attribute("href", "/catalog?category=smartphone")

    page.get_by_role("link", name="Українська", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    page.goto("/catalog")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    page.get_by_role("link", name="English", exact=True).click()
    expect(page).to_have_url(re.compile(r"/catalog$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_axe_and_the_csp_watch_do_catch_a_fault(new_axe_context, new_context, axe):
    """Guards the two checks above against passing because they silently check nothing."""
    page = new_axe_context().new_page()
    page.goto("/")
    page.evaluate("document.querySelector('main').append(Object.assign(new Image(1, 1), {src: '/x.png'}))")
    assert "image-alt" in [violation["id"] for violation in axe(page)]

    page = new_context().new_page()
    refused = watch_csp(page)
    page.goto("/")
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_timeout(100)
    assert refused, "the Content-Security-Policy did not report an inline style"
