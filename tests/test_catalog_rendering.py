"""What the uncached catalog pages keep from one request to the next, and what they must not.

The filter form is kept rendered by language and what it shows; templates build each address
once; templates translate through the request's locale object; WTForms' messages are read once
per language. Each test changes what such a memo depends on and checks the page follows.
"""

import re

import pytest
from babel import support
from flask import render_template_string
from flask_babel import force_locale
from markupsafe import escape
from wtforms.i18n import messages_path

from shop.catalog.views import FILTER_FORMS, FILTER_READINGS
from shop.memo import Memo, memoized_url_for
from shop.models import Category, Role
from tests import factories
from tests.factories import without_bdi


@pytest.fixture
def uncached(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE", False)
    for name in (FILTER_FORMS, FILTER_READINGS):
        app.extensions.pop(name, None)
    yield
    for name in (FILTER_FORMS, FILTER_READINGS):
        app.extensions.pop(name, None)


def _filter_form(html: str) -> str:
    return html[html.index('<details class="filters"'):html.index("</details>")]


def _selected(html: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]* name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option selected value="([^"]*)"', select)


@pytest.mark.parametrize("size", [2, 40])
def test_uncached_public_pages_cost_the_same_few_statements_whatever_the_stock(client, db, count_queries,
                                                                                uncached, size):
    point = factories.pickup_point()
    devices = [factories.device(point=point, model=f"Model {n}", price_cents=5000 + n * 100) for n in range(size)]
    db.session.commit()
    pages = ["/catalog", "/catalog?category=laptop&min_ram=8&sort=price_desc&page=2",
             f"/catalog?point={point.id}&max_price=100", "/catalog?max_price=abc&min_ram=3&point=x",
             "/catalog?page=99", f"/offer/{devices[0].offer_key}", "/", "/pickup-points"]
    counts = []
    for url in pages:
        for _ in range(2):  # the memos empty, then full: the same statements
            with count_queries() as counter:
                assert client.get(url, headers={"Accept-Language": "fr"}).status_code == 200, url
            counts.append((url, counter.count))
    # A catalog page: the catalog's versions (read every time here: PAGE_CACHE_CHECK_SECONDS is 0)
    # and the page of offers; the worker's first one also reads the pickup points, kept until
    # their version moves. The offer page: the versions and the offer; the first time, its point
    # with its hours too (kept the same way). The home page: the versions and the counts; the
    # first time, the open points and their hours (2 statements), kept for the pickup points page
    # too, which then reads only the versions.
    expected = {"/catalog": (3, 2), "/": (4, 2), "/pickup-points": (1, 1), f"/offer/{devices[0].offer_key}": (3, 2)}
    assert counts == [(url, expected.get(url, (2, 2))[n]) for url in pages for n in range(2)]


def test_a_filter_form_kept_rendered_is_the_form_rendered_anew(client, db, app, uncached):
    factories.device()
    db.session.commit()
    urls = ["/catalog", "/catalog?category=laptop&max_price=150", "/catalog?max_price=abc", "/catalog?page=2"]
    first = {url: client.get(url, headers={"Accept-Language": "ar"}).data for url in urls}
    assert len(app.extensions[FILTER_FORMS]) == len(urls)
    assert len(app.extensions[FILTER_READINGS]) == len(urls)
    again = {url: client.get(url, headers={"Accept-Language": "ar"}).data for url in urls}
    app.extensions[FILTER_FORMS].clear()
    app.extensions[FILTER_READINGS].clear()
    anew = {url: client.get(url, headers={"Accept-Language": "ar"}).data for url in urls}
    assert first == again == anew


def test_the_filter_form_follows_the_language(client, db, uncached):
    factories.device()
    db.session.commit()
    for _ in range(2):
        en = _filter_form(client.get("/catalog?category=laptop", headers={"Accept-Language": "en"}).text)
        fr = _filter_form(client.get("/catalog?category=laptop", headers={"Accept-Language": "fr"}).text)
        assert "Kind of device" in en and "Filter and sort" in en
        assert "Kind of device" not in fr and "Filter and sort" not in fr
        with force_locale("fr"):
            assert str(Category.SMARTPHONE.label) in fr
        assert _selected(en, "category") == _selected(fr, "category") == ["laptop"]


def test_the_filter_form_shows_each_request_its_own_choices_and_errors(client, db, uncached):
    factories.device()
    db.session.commit()
    get = lambda url: _filter_form(client.get(url, headers={"Accept-Language": "en"}).text)  # noqa: E731
    assert _selected(get("/catalog?category=laptop"), "category") == ["laptop"]
    assert _selected(get("/catalog?category=smartphone"), "category") == ["smartphone"]
    assert _selected(get("/catalog?sort=price_desc"), "sort") == ["price_desc"]
    assert _selected(get("/catalog"), "sort") == ["price_asc"]
    wrong, right = get("/catalog?max_price=abc"), get("/catalog?max_price=100")
    assert 'aria-invalid="true"' in wrong and 'value="abc"' in wrong
    assert 'aria-invalid="true"' not in right and 'value="100"' in right
    # The page number is not a field of the form, but its error is announced there.
    assert "Some filters were not understood" in get("/catalog?page=abc")
    assert "Some filters were not understood" not in get("/catalog?page=2")
    assert "<details class=\"filters\" open>" in get("/catalog?page=2")
    assert "<details class=\"filters\" >" in get("/catalog")


def test_the_filter_form_follows_the_pickup_points(client, db, uncached):
    point = factories.pickup_point(name="Espace Borny", town="Metz")
    other = factories.pickup_point(name="Point relais", town="Woippy")
    factories.device(point=point)
    db.session.commit()
    url = f"/catalog?point={other.id}"
    text = without_bdi(client.get(url, headers={"Accept-Language": "en"}).text)
    assert "Espace Borny (Metz)" in text and _selected(text, "point") == [str(other.id)]
    point.name = "Espace Borny-Bellecroix"
    db.session.commit()
    text = without_bdi(client.get(url, headers={"Accept-Language": "en"}).text)
    assert "Espace Borny-Bellecroix (Metz)" in text and "Espace Borny (Metz)" not in text
    other.active = False
    db.session.commit()
    text = without_bdi(client.get(url, headers={"Accept-Language": "en"}).text)
    assert "Espace Borny-Bellecroix (Metz)" in text and "Point relais (Woippy)" not in text
    assert _selected(text, "point") == []
    assert "Some filters were not understood" in text  # the point is no longer a choice


def test_a_pickup_point_card_kept_rendered_follows_the_point_and_the_language(client, db, uncached):
    from datetime import time

    from shop.models import OpeningHours

    point = factories.pickup_point(name="Espace Borny", town="Metz")
    device = factories.device(point=point)
    db.session.commit()
    url = f"/offer/{device.offer_key}"

    def card(lang):
        text = without_bdi(client.get(url, headers={"Accept-Language": lang}).text)
        return text[text.index('<article class="card point"'):text.index("</article>")]

    first = card("en")
    assert "Espace Borny" in first and card("en") == first  # the second time from the memo
    french = card("fr")
    assert "Horaires d’ouverture" in french and "mercredi" in french.lower()  # each language its own
    point.name, point.phone = "Espace Borny-Bellecroix", "03 87 00 00 00"
    db.session.add(OpeningHours(pickup_point_id=point.id, weekday=5, opens=time(9), closes=time(11, 30)))
    db.session.commit()
    changed = card("en")
    assert "Espace Borny-Bellecroix" in changed and "03 87 00 00 00" in changed
    assert "Saturday: 09:00 to 11:30" in changed and "Saturday" not in first


def test_the_points_a_worker_keeps_follow_every_change_of_the_points(client, db, uncached):
    """The home page, the pickup points page and the offer page show points kept by the worker:
    a rename, new hours, a closed point and a new one show at once (the triggers move "*")."""
    from datetime import time

    from shop.models import OpeningHours, PickupPoint

    point = factories.pickup_point(name="Espace Borny", town="Metz")
    device = factories.device(point=point)
    db.session.commit()
    pages = ["/", "/pickup-points", f"/offer/{device.offer_key}"]

    def texts():
        return [without_bdi(client.get(url, headers={"Accept-Language": "en"}).text) for url in pages]

    assert all("Espace Borny" in text for text in texts())
    point.name = "Espace Bellecroix"
    db.session.add(OpeningHours(pickup_point_id=point.id, weekday=5, opens=time(9), closes=time(11, 30)))
    db.session.commit()
    assert all("Espace Bellecroix" in text and "Saturday: 09:00 to 11:30" in text for text in texts())
    db.session.add(PickupPoint(slug="woippy-new", name="Relais Woippy", address="1 rue A", postcode="57140",
                               town="Woippy"))
    point.active = False
    db.session.commit()
    home, points, offer = texts()
    assert "Relais Woippy" in home and "Relais Woippy" in points
    assert "Espace Bellecroix" not in home and "Espace Bellecroix" not in points
    assert "Espace Bellecroix" in offer  # a unit still on sale there shows where it is


def test_addresses_in_pages_follow_the_script_root(client, db, uncached):
    device = factories.device()
    db.session.commit()
    for _ in range(2):
        under = client.get("/catalog", base_url="http://localhost/shop").text
        plain = client.get("/catalog").text
        assert f'href="/shop/offer/{device.offer_key}"' in under and 'href="/shop/catalog"' in under
        assert f'href="/offer/{device.offer_key}"' in plain and "/shop/" not in plain


def test_memoized_url_for_builds_what_flask_builds(app):
    url_for = memoized_url_for(app, size=3)
    with app.test_request_context("/catalog?page=2"):
        for _ in range(2):
            assert url_for("catalog.index", page=1) == "/catalog?page=1"
            assert url_for("catalog.index", page=True) == "/catalog?page=True"  # equal keys, other types
            assert url_for("catalog.index", _anchor="top") == "/catalog#top"
            assert url_for("catalog.index", category=["laptop", "tablet"]) == app.url_for(
                "catalog.index", category=["laptop", "tablet"])
            assert url_for("pages.language", code="ar", next="/catalog?a=1&b=2") == app.url_for(
                "pages.language", code="ar", next="/catalog?a=1&b=2")
    with app.test_request_context("/catalog", base_url="http://localhost/under"):
        assert url_for("catalog.index", page=1) == "/under/catalog?page=1"


def test_a_memo_keeps_its_most_recent_values_up_to_its_size():
    memo, made = Memo(2), []
    make = lambda key: lambda: made.append(key) or key.upper()  # noqa: E731
    assert [memo.get(k, make(k)) for k in ("a", "b", "a", "c", "a", "b")] == ["A", "B", "A", "C", "A", "B"]
    assert made == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came
    assert len(memo) == 2


def test_templates_translate_in_the_locale_of_the_moment(app):
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        page = '{{ _("Devices") }}|{{ ngettext("%(num)d offer", "%(num)d offers", 2) }}'
        french = render_template_string(page)
        with force_locale("en"):
            english = render_template_string(page)
        assert english == "Devices|2 offers"
        assert french != english and render_template_string(page) == french
        with force_locale("uk"):
            assert render_template_string(page) not in (french, english)


def test_wtforms_messages_come_in_the_page_language(client, db, uncached):
    factories.device()
    db.session.commit()
    for language in ("fr", "en", "fr", "uk"):
        expected = support.Translations.load(messages_path(), [language], domain="wtforms").ugettext("Not a valid choice.")
        text = client.get("/catalog?category=spaceship", headers={"Accept-Language": language}).text
        assert str(escape(expected)) in text, language


def test_an_offer_card_follows_the_offer_price_and_count(client, db, uncached):
    point = factories.pickup_point()
    device = factories.device(point=point, price_cents=9000)
    db.session.commit()
    assert "90,00\u00a0€" in client.get("/catalog", headers={"Accept-Language": "fr"}).text
    device.price_cents = 8500
    twin = factories.device(point=point, price_cents=8500)
    db.session.commit()
    assert device.offer_key == twin.offer_key
    text = without_bdi(client.get("/catalog", headers={"Accept-Language": "fr"}).text)
    assert "85,00\u00a0€" in text and "90,00\u00a0€" not in text and "2 disponibles" in text
    english = without_bdi(client.get("/catalog", headers={"Accept-Language": "en"}).text)
    assert "€85.00" in english and "2 available" in english


def test_the_kept_menus_follow_the_page_and_the_visitor(client, db, uncached):
    staff = factories.user(Role.STAFF)
    db.session.commit()
    for _ in range(2):
        catalog = client.get("/catalog?category=laptop").text
        assert '<a href="/catalog" aria-current="page">' in catalog
        assert 'href="/language/ar?next=/catalog?category%3Dlaptop"' in catalog
        how = client.get("/how-it-works").text
        assert '<a href="/how-it-works" aria-current="page">' in how and 'aria-current="page">Devices' not in how
        assert 'href="/language/ar?next=/how-it-works"' in how
        assert 'href="/login"' in how and "Sign out" not in how
    factories.signed_in(client, staff, lang="en")
    signed_in = client.get("/catalog?category=laptop").text
    assert "Sign out" in signed_in and 'name="csrf_token"' in signed_in
    assert "Sign in (professionals)" not in signed_in  # the footer too
    client.post("/logout")
    assert "Sign out" not in client.get("/catalog?category=laptop").text


def test_long_addresses_are_served_in_full_but_never_kept(client, db, app):
    """Memos and the page cache count entries, not bytes: a crawler's thousands of distinct 4 KB
    query strings must not each leave a header, a filter form and a page in the worker's memory."""
    point = factories.pickup_point()
    device = factories.device(point=point)
    db.session.commit()
    stores = {
        "parts": app.jinja_env.globals["kept"].parts.keys,
        "addresses": lambda: list(app.jinja_env.globals["url_for"].built),
        "readings": lambda: app.extensions[FILTER_READINGS].keys() if FILTER_READINGS in app.extensions else [],
        "forms": lambda: app.extensions[FILTER_FORMS].keys() if FILTER_FORMS in app.extensions else [],
        "pages": app.extensions["page_cache"].keys,
    }


    def kept() -> dict:
        return {name: keys() for name, keys in stores.items()}

    short = ["/catalog?category=laptop&sort=price_desc", "/how-it-works", f"/offer/{device.offer_key}"]
    for url in short:
        assert client.get(url).status_code == 200
    before = {name: len(keys) for name, keys in kept().items()}
    assert before["parts"] and before["addresses"] and before["readings"] and before["pages"]  # short ones are kept
    for n in range(30):
        filler = f"hostile{n}" + "x" * 600
        catalog = client.get(f"/catalog?category=laptop&max_price=abc&z={filler}")
        assert catalog.status_code == 200 and filler in catalog.text  # its language links carry it back
        assert 'aria-invalid="true"' in catalog.text and 'value="abc"' in catalog.text  # the form says what is wrong
        assert client.get(f"/how-it-works?{filler}=1").status_code == 200
        assert client.get(f"/offer/{device.offer_key}?q={filler}").status_code == 200
    for name, keys in kept().items():
        assert not [key for key in keys if "hostile" in repr(key)], name
        assert len(keys) <= before[name] + 1, name  # the menus without `next` are kept once more at most
