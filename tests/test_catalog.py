import gzip
import re

import pytest
import sqlalchemy as sa

from shop.models import Category, Device, DeviceStatus, Grade
from shop.services import catalog
from shop.services.catalog import OfferFilters
from tests import factories
from tests.factories import without_bdi


def offer_keys(html: str) -> list[str]:
    return re.findall(r'href="/offer/([0-9a-f]{16})"', html)


def test_identical_units_are_one_offer_with_a_count(db):
    point = factories.pickup_point()
    for _ in range(3):
        factories.device(point=point)
    factories.device(point=point, grade=Grade.A, price_cents=14000)
    page = catalog.list_offers(OfferFilters())
    assert page.total == 2
    counts = sorted(o.count for o in page.offers)
    assert counts == [1, 3]


def test_only_listed_units_are_shown(db):
    point = factories.pickup_point()
    factories.device(point=point, status=DeviceStatus.REFURBISHED)
    factories.device(point=point, status=DeviceStatus.RESERVED)
    factories.device(point=point, status=DeviceStatus.SOLD)
    assert catalog.list_offers(OfferFilters()).total == 0
    factories.device(point=point)
    assert catalog.list_offers(OfferFilters()).total == 1


def test_filters_and_sort(db):
    metz, woippy = factories.pickup_point(town="Metz"), factories.pickup_point(town="Woippy")
    factories.device(point=metz, price_cents=6000, ram_gb=4, storage_gb=128)
    factories.device(point=metz, price_cents=15000, ram_gb=16, storage_gb=512, model="EliteBook")
    factories.device(point=woippy, category=Category.SMARTPHONE, price_cents=8000, ram_gb=4, storage_gb=64,
                     model="Pixel 4a", cpu=None)
    assert catalog.list_offers(OfferFilters(category=Category.SMARTPHONE)).total == 1
    assert catalog.list_offers(OfferFilters(pickup_point_id=woippy.id)).total == 1
    assert catalog.list_offers(OfferFilters(max_price_cents=8000)).total == 2
    assert catalog.list_offers(OfferFilters(min_ram_gb=8)).total == 1
    assert catalog.list_offers(OfferFilters(min_storage_gb=256)).total == 1
    prices = [o.price_cents for o in catalog.list_offers(OfferFilters(sort="price_desc")).offers]
    assert prices == [15000, 8000, 6000]


def test_pagination_splits_offers(db):
    point = factories.pickup_point()
    for n in range(5):
        factories.device(point=point, model=f"Model {n}", price_cents=5000 + n * 100)
    first = catalog.list_offers(OfferFilters(), page=1, per_page=2)
    third = catalog.list_offers(OfferFilters(), page=3, per_page=2)
    assert (first.total, first.pages, len(first.offers), len(third.offers)) == (5, 3, 2, 1)
    assert first.has_next and not third.has_next


def test_catalog_page_lists_offers_with_locale_prices(client, db):
    factories.device(price_cents=12050)
    db.session.commit()
    fr = client.get("/catalog", headers={"Accept-Language": "fr"}).text
    en = client.get("/catalog", headers={"Accept-Language": "en"}).text
    assert "120,50\u00a0€" in fr
    assert "€120.50" in en


def test_empty_catalog_says_so_kindly(client, db):
    response = client.get("/catalog?category=printer", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "No device matches these filters" in response.text


@pytest.mark.parametrize(
    "query",
    [
        "max_price=-5", "max_price=99999999999999999999", "max_price=abc", "page=abc", "page=-1",
        "page=0", "page=99999999999999999999", "category=spaceship", "point=abc", "point=99999",
        "min_ram=3", "min_storage=%00", "sort=evil", "category=%3Cscript%3E",
    ],
)
def test_bad_filter_values_get_a_message_never_a_500(client, db, query):
    factories.device()
    db.session.commit()
    response = client.get(f"/catalog?{query}", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "Some filters were not understood and were ignored." in response.text
    assert "<script>" not in response.text
    assert offer_keys(response.text)  # the catalog still shows what exists


def test_a_page_beyond_the_last_explains_and_links_back(client, db):
    factories.device()
    db.session.commit()
    response = client.get("/catalog?page=40", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "This page does not exist." in response.text


def test_offer_page_explains_specs_grade_price_and_pickup(client, db):
    point = factories.pickup_point(name="Espace Borny", address="3 boulevard de Provence")
    device = factories.device(point=point, ram_gb=8)
    db.session.commit()
    response = client.get(f"/offer/{device.offer_key}", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    text = without_bdi(response.text)
    assert "Good for video calls, school work and office programs." in text
    assert "Good: light signs of use." in text
    assert "€120.00" in text
    assert "3 boulevard de Provence" in text
    assert "Wednesday: 09:00 to 12:00" in text  # 24-hour clock, English as in Britain
    assert "To reserve, you need a code." in text
    assert "/static/img/laptop.svg" in text


@pytest.mark.parametrize("key", ["0000000000000000", "nothex", "x" * 300, "%3Cscript%3E"])
def test_unknown_offer_is_a_translated_404(client, db, key):
    response = client.get(f"/offer/{key}", headers={"Accept-Language": "fr"})
    assert response.status_code == 404
    assert 'lang="fr"' in response.text


def test_sold_out_offer_says_so_and_points_to_similar(client, db):
    device = factories.device(status=DeviceStatus.SOLD)
    db.session.commit()
    response = client.get(f"/offer/{device.offer_key}", headers={"Accept-Language": "en"})
    assert response.status_code == 410
    assert "no longer available" in response.text
    assert "/catalog?category=laptop" in response.text


def test_home_shows_category_counts_and_pickup_points(client, db):
    point = factories.pickup_point(name="Point relais de Woippy")
    factories.device(point=point)
    factories.device(point=point, category=Category.SMARTPHONE, model="Pixel", price_cents=7000)
    db.session.commit()
    text = client.get("/", headers={"Accept-Language": "en"}).text
    assert "Smartphone" in text and "Point relais de Woippy" in text
    assert "You need a code. A social worker gives it to you." in text


def _bulk_devices(db, count: int) -> None:
    """Insert many listed devices quickly, spread over many different offers."""
    point = factories.pickup_point()
    rows = []
    for n in range(count):
        device = Device(
            serial_number=f"BULK-{n:06d}", category=Category.LAPTOP if n % 3 else Category.SMARTPHONE,
            brand="Dell", model=f"Model {n % 400}", ram_gb=(4, 8, 16)[n % 3], storage_gb=256,
            grade=(Grade.A, Grade.B, Grade.C)[n % 3], price_cents=5000 + (n % 50) * 100,
            pickup_point_id=point.id, status=DeviceStatus.LISTED,
        )
        values = {c.key: getattr(device, c.key) for c in Device.__table__.columns if c.key not in ("id", "offer_key", "created_at", "updated_at")}
        values["offer_key"] = device.compute_offer_key()
        rows.append(values)
    db.session.execute(sa.insert(Device), rows)
    db.session.commit()


@pytest.mark.parametrize("size", [10, 300])
def test_every_public_page_costs_the_same_few_statements_whatever_the_stock(client, db, count_queries, size):
    _bulk_devices(db, size)
    key = offer_keys(client.get("/catalog").text)[0]
    sold_out = factories.device(status=DeviceStatus.SOLD)
    db.session.commit()
    app = client.application
    app.extensions["page_cache"].clear()
    cold, warm = {}, {}
    pages = {
        "/catalog": 200, "/catalog?category=laptop&min_ram=8&sort=price_desc&page=2": 200,
        f"/offer/{key}": 200, "/": 200,
        # Bad input: the same clear pages, at the same cost.
        "/catalog?category=printer&max_price=1": 200, "/catalog?page=99": 200, "/catalog?page=99999999999": 200,
        "/catalog?max_price=abc&min_ram=3&point=x": 200, f"/offer/{sold_out.offer_key}": 410,
        "/offer/0000000000000000": 404, "/offer/not-a-key": 404,
    }
    for url, status in pages.items():
        for counts in (cold, warm):
            with count_queries() as counter:
                assert client.get(url).status_code == status, url
            counts[url] = counter.count
    # Rendered: the catalog's versions (with the next hold expiry) and the page's own statements:
    # one statement for the offers, their counts, points and covers (the pickup points of the
    # filter are read by the first catalog page only, then kept while their version stays); the
    # offer's point with its hours (one joined statement). Cached: the versions only.
    assert cold == {
        "/catalog": 3, "/catalog?category=laptop&min_ram=8&sort=price_desc&page=2": 2,
        f"/offer/{key}": 3, "/": 4,
        "/catalog?category=printer&max_price=1": 2, "/catalog?page=99": 2, "/catalog?page=99999999999": 2,
        "/catalog?max_price=abc&min_ram=3&point=x": 2, f"/offer/{sold_out.offer_key}": 3,
        "/offer/0000000000000000": 3, "/offer/not-a-key": 1,
    }
    assert warm == dict.fromkeys(pages, 1)


def test_catalog_page_html_and_css_fit_in_8_kb_gzipped_whatever_the_stock(client, db, app):
    _bulk_devices(db, 200)
    html = client.get("/catalog", headers={"Accept-Encoding": "gzip"})
    assert html.headers["Content-Encoding"] == "gzip"
    css = client.get("/static/style.css", headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in css.headers["Vary"]
    total = len(html.data) + len(css.data)
    css.close()
    assert total <= 8 * 1024, (len(html.data), len(css.data))


def test_static_css_and_svg_are_served_compressed_with_their_own_tag(client):
    plain = client.get("/static/style.css")
    packed = client.get("/static/style.css", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert packed.headers["Cache-Control"] == plain.headers["Cache-Control"]
    again = client.get("/static/style.css", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
    svg = client.get("/static/img/laptop.svg", headers={"Accept-Encoding": "gzip"})
    assert svg.headers["Content-Encoding"] == "gzip" and svg.mimetype == "image/svg+xml"
    for response in (plain, packed, again, svg):
        response.close()

def test_cached_catalog_changes_as_soon_as_a_unit_is_reserved_or_comes_back(client, db):

    from shop.models import PaymentMethod
    from shop.models.types import utcnow
    from shop.services import reservations

    device = factories.device()
    code, _ = factories.code()
    db.session.commit()
    assert device.offer_key in client.get("/catalog").text
    assert device.offer_key in client.get("/catalog").text  # served from the cache
    start = utcnow()
    reservations.reserve(code, device.offer_key, method=PaymentMethod.CARD_ONLINE, now=start)
    db.session.commit()
    assert device.offer_key not in client.get("/catalog").text
    assert client.get(f"/offer/{device.offer_key}").status_code == 410
    cached = next(iter(client.application.extensions["page_cache"]._entries.values()))
    assert cached.valid_until == start + reservations.HOLD_FOR_PAYMENT  # the page expires with the hold


def test_a_cached_page_is_dropped_when_the_version_changes_or_a_hold_runs_out():
    from datetime import timedelta

    from shop.models.types import utcnow
    from shop.pagecache import Entry, PageCache
    from shop.services.catalog import Versions

    one, two = Versions.of([("*", 1)]), Versions.of([("*", 2)])
    cache, now = PageCache(size=2), utcnow()
    cache.put(("a",), Entry(version=1, valid_until=now + timedelta(minutes=5), status=200, body=b"a"))
    assert cache.get(("a",), one, now) is not None
    assert cache.get(("a",), one, now + timedelta(minutes=6)) is None
    cache.put(("b",), Entry(version=1, valid_until=None, status=200, body=b"b"))
    assert cache.get(("b",), two, now) is None
    for key in "cde":
        cache.put((key,), Entry(version=1, valid_until=None, status=200, body=b""))
    assert len(cache._entries) == 2


def test_cached_pages_follow_the_language_and_skip_signed_in_users(client, db):
    factories.device()
    db.session.commit()
    fr = client.get("/catalog", headers={"Accept-Language": "fr"}).text
    ar = client.get("/catalog", headers={"Accept-Language": "ar"}).text
    assert 'lang="fr"' in fr and 'lang="ar"' in ar


def test_a_remembered_or_signed_in_visitor_never_gets_the_anonymous_cached_page(client, db):
    from shop.models import Role

    factories.device()
    staff = factories.user(Role.STAFF)
    db.session.commit()
    anonymous = client.get("/catalog", headers={"Accept-Language": "en"}).text  # now cached
    assert "Sign in" in anonymous
    # A remember-me cookie goes past the early hook to Flask-Login, which finds no such user here.
    client.set_cookie("remember_token", "whatever")
    assert client.get("/catalog", headers={"Accept-Language": "en"}).text == anonymous
    client.delete_cookie("remember_token")
    factories.sign_in(client, staff.email)
    signed_in = client.get("/catalog", headers={"Accept-Language": "en"}).text
    assert signed_in != anonymous


def test_reserving_a_laptop_keeps_the_smartphone_pages_and_other_points_cached(client, db):
    from datetime import timedelta

    from shop.models.types import utcnow
    from shop.services import devices

    here, there = factories.pickup_point(), factories.pickup_point()
    laptop = factories.device(point=here)
    factories.device(point=here, category=Category.SMARTPHONE, model="Phone", price_cents=9000)
    factories.device(point=there)
    db.session.commit()
    pages = ["/catalog?category=smartphone", f"/catalog?point={there.id}", f"/catalog?category=laptop&point={here.id}", "/"]
    for url in pages:
        client.get(url)
    devices.take_unit(laptop.offer_key, held_until=utcnow() + timedelta(days=14), now=utcnow())
    db.session.commit()
    entries = client.application.extensions["page_cache"]._entries
    from shop.services.catalog import versions

    now_versions = versions()
    still = {key[0] for key, entry in entries.items() if entry.version == now_versions.of_page(*entry.shows)}
    assert still == {"/catalog?category=smartphone", f"/catalog?point={there.id}"}
    assert laptop.offer_key not in client.get(f"/catalog?category=laptop&point={here.id}").text


def test_a_hold_running_out_drops_only_the_pages_of_its_category_and_point(client, db):
    from datetime import timedelta

    from shop.models.types import utcnow
    from shop.services import devices
    from shop.services.catalog import versions

    here, there = factories.pickup_point(), factories.pickup_point()
    laptop = factories.device(point=here)
    factories.device(point=here)  # another laptop stays on sale: the page lists the offer
    factories.device(point=here, category=Category.SMARTPHONE, model="Phone", price_cents=9000)
    factories.device(point=there)
    db.session.commit()
    ends = utcnow() + timedelta(hours=2)
    devices.take_unit(laptop.offer_key, held_until=ends, now=utcnow())
    db.session.commit()
    now_versions = versions()
    assert now_versions.next_change_of("laptop", here.id) == ends == now_versions.next_change
    assert now_versions.next_change_of("laptop") == ends and now_versions.next_change_of(None, here.id) == ends
    assert now_versions.next_change_of("smartphone") is None and now_versions.next_change_of(None, there.id) is None
    pages = ["/catalog?category=smartphone", f"/catalog?point={there.id}", f"/catalog?category=laptop&point={here.id}", "/"]
    for url in pages:
        client.get(url)
    entries = {key[0]: entry for key, entry in client.application.extensions["page_cache"]._entries.items()}
    assert entries["/catalog?category=smartphone"].valid_until is None
    assert entries[f"/catalog?point={there.id}"].valid_until is None
    assert entries[f"/catalog?category=laptop&point={here.id}"].valid_until == ends
    assert entries["/?"].valid_until == ends  # the home counts every scope


def test_version_counters_are_created_by_the_first_change_of_their_scope(db):
    from shop.models import CatalogVersion
    from shop.services import catalog

    db.session.execute(sa.delete(CatalogVersion))
    db.session.commit()
    for _ in range(3):
        catalog.stock_changed()
        db.session.commit()
    assert catalog.versions().by_scope == {catalog.EVERYTHING: 3}


def test_any_change_of_a_pickup_point_or_its_hours_moves_what_every_page_shows(db):
    """By trigger, whatever writes it: a worker keeps the points it read while this version stays."""
    from datetime import time

    from shop.models import CatalogVersion, OpeningHours
    from shop.services import catalog

    point = factories.pickup_point(name="Espace Borny")
    db.session.commit()
    db.session.execute(sa.delete(CatalogVersion))
    db.session.commit()

    seen = [0]

    def moved() -> bool:
        now = catalog.versions().by_scope.get(catalog.EVERYTHING, 0)
        moved, seen[0] = now > seen[0], now
        return moved

    point.name = "Espace Borny-Bellecroix"
    db.session.commit()
    assert moved()
    db.session.add(OpeningHours(pickup_point_id=point.id, weekday=5, opens=time(9), closes=time(12)))
    db.session.commit()
    assert moved()
    db.session.execute(sa.delete(OpeningHours).where(OpeningHours.pickup_point_id == point.id))
    db.session.commit()
    assert moved()
    factories.pickup_point(name="Point relais")
    db.session.commit()
    assert moved()
    db.session.commit()
    assert not moved()  # nothing written, nothing moved
    assert set(catalog.versions().by_scope) == {catalog.EVERYTHING}  # no unit's scope moved


def renders(monkeypatch) -> list:
    """The templates the catalog's views render from now on (a page kept from the cache renders none)."""
    import shop.catalog.views

    rendered, real_render = [], shop.catalog.views.render_template
    monkeypatch.setattr(shop.catalog.views, "render_template", lambda *a, **k: rendered.append(a) or real_render(*a, **k))
    return rendered


def test_an_offer_page_stays_cached_while_only_other_offers_of_its_kind_and_point_change(client, db, count_queries, monkeypatch):
    from datetime import timedelta

    from shop.models.types import utcnow
    from shop.services import devices

    here = factories.pickup_point()
    mine = factories.device(point=here)
    factories.device(point=here)  # two units: "2 available"
    other = factories.device(point=here, model="Other model", price_cents=7000)
    db.session.commit()
    url = f"/offer/{mine.offer_key}"
    page = client.get(url, headers={"Accept-Language": "en"}).text
    assert "2 available" in page
    devices.take_unit(other.offer_key, held_until=utcnow() + timedelta(days=14), now=utcnow())
    db.session.commit()
    rendered = renders(monkeypatch)
    with count_queries() as counter:
        again = client.get(url, headers={"Accept-Language": "en"}).text
    # The versions, then the offer read again and found the same: the page as it was, not rendered.
    assert again == page and rendered == [] and counter.count == 2
    with count_queries() as counter:
        assert client.get(url, headers={"Accept-Language": "en"}).text == page
    assert counter.count == 1  # kept under the new versions: the versions only
    # This offer's own unit reserved: rendered again, with its new count.
    devices.take_unit(mine.offer_key, held_until=utcnow() + timedelta(days=14), now=utcnow())
    db.session.commit()
    assert "1 available" in client.get(url, headers={"Accept-Language": "en"}).text and len(rendered) == 1
    # The pickup point renamed ("*" moves): rendered again, never checked against the offer alone.
    here.name = "Renamed point"
    db.session.commit()
    assert "Renamed point" in client.get(url, headers={"Accept-Language": "en"}).text and len(rendered) == 2


def test_an_offer_page_comes_back_when_its_own_hold_runs_out(client, db, monkeypatch):
    from datetime import timedelta

    import shop.pagecache
    from shop.models.types import utcnow
    from shop.services import devices

    here = factories.pickup_point()
    mine = factories.device(point=here)
    factories.device(point=here)
    db.session.commit()
    ends = utcnow() + timedelta(minutes=30)
    devices.take_unit(mine.offer_key, held_until=ends, now=utcnow())
    db.session.commit()
    url = f"/offer/{mine.offer_key}"
    assert "1 available" in client.get(url, headers={"Accept-Language": "en"}).text
    later = ends + timedelta(seconds=1)
    monkeypatch.setattr(shop.pagecache, "utcnow", lambda: later)
    monkeypatch.setattr("shop.services.catalog.utcnow", lambda: later)
    assert "2 available" in client.get(url, headers={"Accept-Language": "en"}).text


def test_a_catalog_page_whose_offers_did_not_change_is_kept_when_its_scope_moves(app, client, db, count_queries, monkeypatch):
    from datetime import timedelta

    from shop.models.types import utcnow
    from shop.services import devices

    monkeypatch.setitem(app.config, "CATALOG_PAGE_SIZE", 1)
    here = factories.pickup_point()
    cheap = factories.device(point=here, price_cents=5000)
    dear = factories.device(point=here, model="Dear model", price_cents=9000)
    factories.device(point=here, model="Dear model", price_cents=9000)
    db.session.commit()
    first, second = (f"/catalog?category=laptop&point={here.id}&page={n}" for n in (1, 2))
    pages = {url: client.get(url, headers={"Accept-Language": "en"}).text for url in (first, second)}
    assert cheap.offer_key in pages[first] and dear.offer_key in pages[second]
    devices.take_unit(dear.offer_key, held_until=utcnow() + timedelta(days=14), now=utcnow())
    db.session.commit()
    rendered = renders(monkeypatch)
    with count_queries() as counter:
        assert client.get(first, headers={"Accept-Language": "en"}).text == pages[first]
    assert rendered == [] and counter.count == 2  # the versions, the page's offers read again
    changed = client.get(second, headers={"Accept-Language": "en"}).text
    assert changed != pages[second] and len(rendered) == 1  # one unit less: rendered again
