"""An in-process cache of the public catalog pages, for cheap phones and busy mornings.

A cached page is served only while the versions of what it shows (the category and pickup
point it lists, see `stock_version.Versions`) are those it was rendered under, and only until the next
moment a held unit comes back on sale by itself. So reserving a laptop at one point leaves the
smartphone pages and the other points' pages cached. A view names what its page shows with
`page_shows(category, pickup_point_id)`; a page that does not say depends on everything.

A worker asks the database for the versions at most once every PAGE_CACHE_CHECK_SECONDS (default
1 s): the catalog may lag a change by that much, never more; reserving is always checked against
the database itself. It is used for anonymous visitors with nothing to flash; the key is the
full URL and the language. Each worker keeps its own cache; the database says when it is stale.
`FrontDoor` gives a cached page again, before Flask, to a request exactly like one Flask already
answered from the cache.
"""

import gzip
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import wraps

from flask import Response, current_app, g, request, session
from flask_login import current_user
from werkzeug.exceptions import NotFound
from werkzeug.http import parse_cookie

from shop import observe
from shop.i18n import LANG_COOKIE, current_language
from shop.memo import short_address
from shop.models.types import utcnow
from shop.services import catalog, stock_version


@dataclass
class Entry:
    version: int  # stock_version.Versions.of_page(*shows) when it was rendered
    valid_until: datetime | None
    status: int
    body: bytes
    gzipped: bytes | None = field(default=None)
    shows: tuple = (None, None)  # (category, pickup point id) the page lists; None: any
    front_keys: set = field(default_factory=set)  # FrontDoor's records of it, dropped with it
    # A page that shows only what one read gives (an offer, a page of offers): (read, what read()
    # gave when it was rendered) and the "*" version then. When its scope moves but "*" has not,
    # the page is kept if read() still gives the same (see PageCache.get).
    recheck: tuple | None = None
    everything: int = 0


@dataclass(frozen=True)
class FrontRecord:
    """How Flask last answered one exact request for a cached page (see FrontDoor)."""

    key: tuple  # the page cache's key: (full path, language)
    entry: Entry  # the cached page it served: the record holds only while the cache holds it
    status: str  # the WSGI status line
    headers: list  # every header Flask sent, but the request id
    body: bytes
    endpoint: str

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])


def page_shows(category=None, pickup_point_id=None) -> None:
    """Say which category and pickup point the page being rendered shows (None: any of them)."""
    g.page_shows = (category, pickup_point_id)


def page_shows_only(read, value) -> None:
    """Say that, of its scope, the page shows only `value`, which `read()` gives: a change
    elsewhere in the scope (another offer reserved) keeps the page once `read()` gives the same
    again. Everything else the page shows must come from its address and language or be under the
    "*" version (pickup points, their hours); `read` is called in a later request, so it must not
    use this one."""
    g.page_recheck = (read, value)


class PageCache:
    POINTS_KEPT = 2_000  # pickup points (and the filter's list) kept by a worker, at most

    def __init__(self, size: int = 512):
        self.size = size
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._versions: stock_version.Versions | None = None
        self._versions_checked_at = 0.0
        # What is read about the pickup points, by name: (version of "*" it was read under, value).
        self._points: dict[object, tuple] = {}
        # What FrontDoor answers, by the exact request (see front_key).
        self._front: OrderedDict[tuple, FrontRecord] = OrderedDict()

    def versions(self, max_age: float) -> stock_version.Versions:
        """The catalog's versions, read from the database at most every `max_age` seconds."""
        moment = time.monotonic()
        if self._versions is None or moment - self._versions_checked_at >= max_age:
            self._versions = stock_version.versions()
            self._versions_checked_at = moment
        return self._versions

    def get(self, key: tuple, versions: stock_version.Versions, now: datetime) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if _fresh(entry, versions, now):
                self._entries.move_to_end(key)
                return entry
            if entry.recheck is None or entry.everything != versions.everything:
                self._drop(key)
                return None
        # Its scope moved (or a hold in it ended): is what the page shows still the same?
        read, shown = entry.recheck
        if read() != shown:
            with self._lock:
                if self._entries.get(key) is entry:
                    self._drop(key)
            return None
        renewed = replace(entry, version=versions.of_page(*entry.shows),
                          valid_until=versions.next_change_of(*entry.shows), front_keys=set())
        self.put(key, renewed)
        return renewed

    def front(self, front_key: tuple, max_age: float) -> FrontRecord | None:
        """The record FrontDoor answers this exact request with, while its page is still the cached
        one and still fresh under versions read less than `max_age` seconds ago; None sends the
        request to Flask (which reads the versions again, and records the answer anew)."""
        with self._lock:
            record = self._front.get(front_key)
            if record is None:
                return None
            versions = self._versions
            if versions is None or time.monotonic() - self._versions_checked_at >= max_age:
                return None
            entry = self._entries.get(record.key)
            if entry is not record.entry:
                del self._front[front_key]
                return None
            if not _fresh(entry, versions, utcnow() if entry.valid_until else None):
                del self._front[front_key]  # Flask's get() drops the page, or checks it again
                return None
            self._entries.move_to_end(record.key)
            self._front.move_to_end(front_key)
            return record

    def record_front(self, front_key: tuple, record: FrontRecord) -> None:
        with self._lock:
            if self._entries.get(record.key) is not record.entry:
                return
            record.entry.front_keys.add(front_key)
            self._front[front_key] = record
            self._front.move_to_end(front_key)
            while len(self._front) > 4 * self.size:  # a few ways of asking for each page
                self._front.popitem(last=False)

    def _drop(self, key: tuple) -> None:
        """Forget a page, and FrontDoor's records of it: no record keeps a page the cache let go."""
        entry = self._entries.pop(key)
        for front_key in entry.front_keys:
            record = self._front.get(front_key)
            if record is not None and record.entry is entry:
                del self._front[front_key]

    def put(self, key: tuple, entry: Entry) -> None:
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            while len(self._entries) > self.size:
                self._drop(next(iter(self._entries)))

    def keys(self) -> list[tuple]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._front.clear()
            self._versions = None
            self._points = {}

    def points(self, versions: stock_version.Versions, name, read):
        """`read()` (something about the pickup points, kept under `name`), read again only once
        the version of what every page shows ("*": pickup points and their hours) has moved."""
        version = versions.everything
        kept = self._points.get(name)
        if kept is not None and kept[0] == version:
            return kept[1]
        # Read after the versions it is kept under, so never older than they say.
        value = read()
        if len(self._points) >= self.POINTS_KEPT:
            self._points = {}
        self._points[name] = (version, value)
        return value


def _fresh(entry: Entry, versions: stock_version.Versions, now: datetime | None) -> bool:
    """Rendered under the versions of what it shows, and before a held unit it shows comes back."""
    return (entry.version == versions.of_page(*entry.shows)
            and (entry.valid_until is None or now < entry.valid_until))


def _cacheable() -> bool:
    return (
        current_app.config.get("PAGE_CACHE", True)
        and request.method == "GET"
        and not current_user.is_authenticated
        and "_flashes" not in session
    )


def _surely_anonymous() -> bool:
    """Without loading any user: no signed-in session, no remember-me cookie, nothing to flash."""
    return (
        current_app.config.get("PAGE_CACHE", True)
        and request.method == "GET"
        and "_user_id" not in session
        and "_flashes" not in session
        and current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") not in request.cookies
    )


def _cached_response(key: tuple, entry: Entry) -> Response:
    # FrontDoor records how this answer went out, to give it again to the same exact request.
    request.environ[_SERVED] = (key, entry, request.endpoint)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        if entry.gzipped is None:
            entry.gzipped = gzip.compress(entry.body, compresslevel=6)
        response = Response(entry.gzipped, status=entry.status, mimetype="text/html")
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        return response
    return Response(entry.body, status=entry.status, mimetype="text/html")


def request_versions() -> stock_version.Versions:
    """The catalog's versions for this request: read once (at most every
    PAGE_CACHE_CHECK_SECONDS by this worker), then the same for every part of the request."""
    versions = g.get("page_versions")
    if versions is None:
        cache: PageCache = current_app.extensions["page_cache"]
        versions = g.page_versions = cache.versions(current_app.config.get("PAGE_CACHE_CHECK_SECONDS", 1.0))
    return versions


def serve_from_cache():
    """A before-request hook, run first: a cached page for an anonymous visitor is answered
    before the other hooks (rate limits, which these pages have none of, sign-in, session work)."""
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "page_cached", False) or not _surely_anonymous():
        return None
    cache: PageCache = current_app.extensions["page_cache"]
    key = (request.full_path, current_language())
    entry = cache.get(key, request_versions(), utcnow())
    return None if entry is None else _cached_response(key, entry)


def while_points_unchanged(read, name="points"):
    """The value of `read()` about the pickup points, kept by this worker under `name` until they
    change.

    Under this request's versions (`request_versions`, also with the page cache off): a page may
    show a point renamed or closed PAGE_CACHE_CHECK_SECONDS after, as a cached page would, never
    longer. Any write to the points or their hours moves the "*" version, by trigger, in its own
    transaction.
    """
    return current_app.extensions["page_cache"].points(request_versions(), name, read)


def shown_pickup_point(pickup_point_id: int):
    """A pickup point and its hours as the public pages show them, kept by this worker until the
    points change (see `while_points_unchanged`): the offer, reserve and confirmation pages each
    show its card, and reading it with its hours was a statement on each."""
    return while_points_unchanged(lambda: catalog.shown_pickup_point(pickup_point_id), ("point", pickup_point_id))


def shown_active_pickup_points():
    """The open pickup points and their hours (the home page and the pickup points page show every
    card), kept by this worker until the points change."""
    return while_points_unchanged(catalog.shown_active_pickup_points, "active points with hours")


def cached_page(view):
    """Serve the view's page from the cache while what it shows has not changed."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _cacheable() or not short_address():  # a long address is served, never kept
            return view(*args, **kwargs)
        cache: PageCache = current_app.extensions["page_cache"]
        now = utcnow()
        versions = request_versions()
        key = (request.full_path, current_language())
        entry = cache.get(key, versions, now)
        if entry is not None:
            return _cached_response(key, entry)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except NotFound as error:  # a key that is not one: cached too (bots try many)
            response = current_app.make_response(current_app.handle_http_exception(error))
        if response.status_code not in (200, 404, 410) or response.direct_passthrough:
            return response
        shows = g.pop("page_shows", (None, None))
        entry = Entry(version=versions.of_page(*shows), valid_until=versions.next_change_of(*shows),
                      status=response.status_code, body=response.get_data(), shows=shows,
                      recheck=g.pop("page_recheck", None),
                      everything=versions.everything)
        cache.put(key, entry)
        return response

    wrapper.page_cached = True  # serve_from_cache answers it early once cached
    return wrapper


_SERVED = "shop.page_cache.served"  # set in the WSGI environ by _cached_response
_FRONT_KEY_TEXT = 300  # characters of language wishes, host and language cookie, at most


def front_key(environ) -> tuple | None:
    """Everything of a request that a cached page's answer can depend on, read from the WSGI
    environ alone; None when it may depend on more. A GET with no cookie but the language's: no
    session (so nobody signed in, nothing to flash, no code entered), no remember-me cookie."""
    if environ.get("REQUEST_METHOD") != "GET":
        return None
    language = None
    cookie = environ.get("HTTP_COOKIE")
    if cookie:
        cookies = parse_cookie(cookie)
        if any(name != LANG_COOKIE for name in cookies):
            return None
        language = cookies.get(LANG_COOKIE)
    wishes, host = environ.get("HTTP_ACCEPT_LANGUAGE", ""), environ.get("HTTP_HOST", "")
    if len(wishes) + len(host) + len(language or "") > _FRONT_KEY_TEXT:
        return None  # browsers send a few dozen characters: kept records stay small
    return (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), environ.get("SCRIPT_NAME", ""),
            environ.get("wsgi.url_scheme"), host, language, wishes, "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""))


class FrontDoor:
    """WSGI middleware in front of Flask (inside ProxyFix): a cached page that Flask has already
    served from the page cache to one exact request (`front_key`: path, query, language wishes,
    encoding, scheme, host; no session) is given again to that same request without building a
    Flask request: no request context, session, URL matching nor hooks, which were most of a
    cached page's CPU. The status, headers and body are those Flask sent (the security headers
    and Vary too), with a new request id; the request is counted in the metrics as Flask counts
    it. The page is given only while the page cache still holds it fresh under versions this
    worker read less than PAGE_CACHE_CHECK_SECONDS ago: past that, the request goes to Flask,
    which reads the versions again. Anything else goes to Flask unchanged.
    """

    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        config = self.app.config
        key = front_key(environ) if config.get("PAGE_CACHE", True) else None
        if key is None:
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        cache: PageCache = self.app.extensions["page_cache"]
        record = cache.front(key, config.get("PAGE_CACHE_CHECK_SECONDS", 1.0))
        if record is not None:
            start_response(record.status, [*record.headers, (observe.REQUEST_ID_HEADER,
                                                             observe.request_id(environ.get("HTTP_X_REQUEST_ID", "")))])
            observe.count_request(record.endpoint, "GET", record.code, time.perf_counter() - started)
            return [record.body]
        sent = []

        def recording(status, headers, exc_info=None):
            sent[:] = [status, headers]
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, recording)
        served = environ.get(_SERVED)
        if served is not None and sent:
            self._record(cache, key, served, *sent)
        return body

    @staticmethod
    def _record(cache: PageCache, key: tuple, served: tuple, status: str, headers: list) -> None:
        page_key, entry, endpoint = served
        kept = [(name, value) for name, value in headers if name.lower() != "x-request-id"]
        names = {name.lower(): value for name, value in kept}
        body = entry.gzipped if names.get("content-encoding") == "gzip" else entry.body
        # Only a page answered as the cache holds it, with nothing meant for one visitor.
        if (int(status.split(" ", 1)[0]) == entry.status and "set-cookie" not in names and body is not None
                and names.get("content-length") == str(len(body))):
            cache.record_front(key, FrontRecord(page_key, entry, status, kept, body, endpoint))
