"""Cached pages answered in front of Flask (shop.pagecache.FrontDoor): the same answer as Flask's,
only to the exact request Flask answered from the cache, and never past what the cache holds."""

import gzip
from datetime import timedelta

import pytest

from shop.models import Category
from shop.models.types import utcnow
from shop.pagecache import FrontDoor
from shop.services import devices
from tests import factories

ONCE_A_MINUTE = 60  # versions read again at most once a minute: FrontDoor may answer


@pytest.fixture
def front(app, monkeypatch):
    """The app's FrontDoor, with the worker reading the versions once a minute, as in production
    (the tests' app reads them every request, which never lets FrontDoor answer), and every
    request it lets through to Flask counted."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_CHECK_SECONDS", ONCE_A_MINUTE)
    door = app.wsgi_app
    while not isinstance(door, FrontDoor):
        door = door.app
    flask_app = door.wsgi_app
    door.through = []

    def counted(environ, start_response):
        door.through.append(environ["PATH_INFO"] + "?" + environ.get("QUERY_STRING", ""))
        return flask_app(environ, start_response)

    monkeypatch.setattr(door, "wsgi_app", counted)
    return door


def headers_but_the_id(response) -> list:
    return [(name, value) for name, value in response.headers if name != "X-Request-ID"]


@pytest.mark.parametrize("language", ["fr", "ar"])
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_the_third_same_request_gets_flasks_answer_without_flask(front, client, db, language, encoding):
    factories.device()
    db.session.commit()
    ask = {"Accept-Language": language, "Accept-Encoding": encoding}
    rendered = client.get("/catalog?sort=price_desc", headers=ask)  # rendered, kept in the cache
    from_cache = client.get("/catalog?sort=price_desc", headers=ask)  # Flask serves the cached page
    in_front = client.get("/catalog?sort=price_desc", headers=ask)
    assert front.through == ["/catalog?sort=price_desc"] * 2
    assert rendered.status_code == from_cache.status_code == in_front.status_code == 200
    assert in_front.data == from_cache.data
    assert headers_but_the_id(in_front) == headers_but_the_id(from_cache)
    assert ("Content-Encoding" in in_front.headers) == (encoding == "gzip")
    assert f'lang="{language}"' in (in_front.get_data(as_text=True) if encoding != "gzip" else
                                     gzip.decompress(in_front.data).decode())
    assert "Content-Security-Policy" in in_front.headers and "Cookie" in in_front.headers["Vary"]
    ids = {r.headers["X-Request-ID"] for r in (rendered, from_cache, in_front)}
    assert len(ids) == 3
    given = client.get("/catalog?sort=price_desc", headers={**ask, "X-Request-ID": "front-door-1234"})
    assert given.headers["X-Request-ID"] == "front-door-1234" and len(front.through) == 2


def test_only_the_same_exact_request_is_answered_in_front(front, client, db):
    factories.device()
    db.session.commit()
    for _ in range(3):
        client.get("/catalog", headers={"Accept-Language": "fr"})
    assert front.through == ["/catalog?"] * 2
    others = [
        ("/catalog", {"Accept-Language": "en"}),  # other language wishes
        ("/catalog", {"Accept-Language": "fr", "Accept-Encoding": "gzip"}),  # other encoding
        ("/catalog?page=1", {"Accept-Language": "fr"}),  # other query
    ]
    for path, headers in others:
        client.get(path, headers=headers)
    assert len(front.through) == 5
    client.head("/catalog", headers={"Accept-Language": "fr"})
    https = [client.get("/catalog", headers={"Accept-Language": "fr"}, base_url="https://localhost") for _ in range(3)]
    assert len(front.through) == 7  # the HTTPS page is the cached one: answered in front from the second on
    assert all("Strict-Transport-Security" in response.headers for response in https)
    assert "Strict-Transport-Security" not in client.get("/catalog", headers={"Accept-Language": "fr"}).headers


def test_a_visitor_with_a_session_or_a_remember_cookie_always_goes_to_flask(front, client, db):
    factories.device()
    db.session.commit()
    for _ in range(3):
        client.get("/catalog", headers={"Accept-Language": "fr"})
    assert len(front.through) == 2
    client.set_cookie("lang", "ar")  # the language chosen: still answered in front once seen twice
    for _ in range(3):
        assert 'lang="ar"' in client.get("/catalog").text
    assert len(front.through) == 4
    client.set_cookie("remember_token", "whatever")
    client.get("/catalog")
    client.delete_cookie("remember_token")
    client.set_cookie("session", "anything")
    client.get("/catalog")
    assert len(front.through) == 6


def test_a_page_changed_by_the_stock_is_never_given_again_in_front(front, app, client, db):
    here = factories.pickup_point()
    laptop = factories.device(point=here)
    phone = factories.device(point=here, category=Category.SMARTPHONE, model="Phone", price_cents=9000)
    db.session.commit()
    for _ in range(3):
        assert laptop.offer_key in client.get("/catalog").text
    assert len(front.through) == 2
    devices.take_unit(laptop.offer_key, held_until=utcnow() + timedelta(days=14), now=utcnow())
    db.session.commit()
    # Within the minute the worker does not read the versions again, FrontDoor or not (the
    # catalog may lag a change by PAGE_CACHE_CHECK_SECONDS, see shop/pagecache.py).
    app.config["PAGE_CACHE_CHECK_SECONDS"] = 0
    page = client.get("/catalog").text
    assert laptop.offer_key not in page and phone.offer_key in page
    app.config["PAGE_CACHE_CHECK_SECONDS"] = ONCE_A_MINUTE
    assert laptop.offer_key not in client.get("/catalog").text  # a new page: Flask again
    assert laptop.offer_key not in client.get("/catalog").text  # in front, the new page
    assert len(front.through) == 4
    app.extensions["page_cache"].clear()
    client.get("/catalog")
    assert len(front.through) == 5


def test_a_page_past_its_hold_end_is_never_given_in_front(front, app, client, db, monkeypatch):
    laptop = factories.device()
    factories.device()  # a second unit: the offer stays on the page while one is held
    db.session.commit()
    ends = utcnow() + timedelta(minutes=30)
    devices.take_unit(laptop.offer_key, held_until=ends, now=utcnow())
    db.session.commit()
    for _ in range(3):
        client.get("/catalog")
    assert len(front.through) == 2
    import shop.pagecache

    monkeypatch.setattr(shop.pagecache, "utcnow", lambda: ends + timedelta(seconds=1))
    client.get("/catalog")
    assert len(front.through) == 3


def test_requests_answered_in_front_are_counted_in_the_metrics(front, app, client, db):
    from shop.observe import REQUESTS

    factories.device()
    db.session.commit()
    counter = REQUESTS.labels("catalog.index", "GET", "200")
    before = counter._value.get()
    for _ in range(4):
        client.get("/catalog")
    assert len(front.through) == 2
    assert counter._value.get() == before + 4


def test_front_door_records_never_keep_a_page_the_cache_let_go(front, app, client, db, monkeypatch):
    from shop.pagecache import PageCache

    factories.device()
    db.session.commit()
    cache = PageCache(size=3)
    monkeypatch.setitem(app.extensions, "page_cache", cache)
    for page in range(1, 6):
        for _ in range(2):
            client.get(f"/catalog?page={page}")
    assert len(cache._entries) == 3 and len(cache._front) == 3
    assert {record.key for record in cache._front.values()} == set(cache._entries)
    kept = list(cache._entries)
    for _ in range(2):
        client.get("/catalog?page=1", headers={"Accept-Language": "ar"})
    assert kept[0] not in cache._entries  # the oldest page made room, and its record went with it
    assert {record.key for record in cache._front.values()} <= set(cache._entries)


def test_odd_or_huge_headers_only_ever_go_to_flask(front, client, db):
    factories.device()
    db.session.commit()
    huge = ",".join(f"x{n};q=0.{n % 9 + 1}" for n in range(100))
    for _ in range(3):
        assert client.get("/catalog", headers={"Accept-Language": huge}).status_code == 200
    client.set_cookie("lang", "x" * 400)
    for _ in range(3):
        assert client.get("/catalog", headers={"Accept-Language": "fr"}).status_code == 200
    client.delete_cookie("lang")
    # Odd cookie headers read as Flask reads them: a name that is not the language's goes to Flask;
    # an empty or repeated language is a key of its own, answered in front once Flask gave it.
    bare = client.application.test_client(use_cookies=False)
    for cookie in ("\x00", "session", "lang", "=;;=", "lang=ar; lang=fr"):
        for _ in range(3):
            assert bare.get("/catalog", environ_overrides={"HTTP_COOKIE": cookie}).status_code == 200
    # 6 huge, 6 with another cookie's name; "lang" and "=;;=" once (the page is cached), the
    # Arabic page twice (rendered, then served from the cache by Flask)
    assert len(front.through) == 6 + 6 + 1 + 1 + 2
    assert 'lang="ar"' in bare.get("/catalog", environ_overrides={"HTTP_COOKIE": "lang=ar; lang=fr"}).text
    assert all(len(repr(key)) < 600 for key in client.application.extensions["page_cache"]._front)
