"""An in-process cache of the public catalog pages, for cheap phones and busy mornings.

A cached page is served only while the stock version (bumped by every change of what the
catalog shows) is the one it was rendered under, and only until the next moment a held unit
comes back on sale by itself. A worker asks the database for the version at most once every
PAGE_CACHE_CHECK_SECONDS (default 1 s): the catalog may lag a change by that much, never more;
reserving is always checked against the database itself. It is used for anonymous visitors with nothing to flash; the key is
the full URL and the language. Each worker keeps its own cache; the database says when it is stale.
"""

import gzip
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps

from flask import Response, current_app, request, session
from flask_login import current_user

from shop.i18n import current_language
from shop.models.types import utcnow
from shop.services import catalog


@dataclass
class Entry:
    version: int
    valid_until: datetime | None
    status: int
    body: bytes
    gzipped: bytes | None = field(default=None)


class PageCache:
    def __init__(self, size: int = 512):
        self.size = size
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._version: int | None = None
        self._version_checked_at = 0.0

    def version(self, max_age: float) -> int:
        """The stock version, read from the database at most every `max_age` seconds."""
        moment = time.monotonic()
        if self._version is None or moment - self._version_checked_at >= max_age:
            self._version = catalog.stock_version()
            self._version_checked_at = moment
        return self._version

    def get(self, key: tuple, version: int, now: datetime) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.version != version or (entry.valid_until is not None and now >= entry.valid_until):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._version = None


def _cacheable() -> bool:
    return (
        current_app.config.get("PAGE_CACHE", True)
        and request.method == "GET"
        and not current_user.is_authenticated
        and "_flashes" not in session
    )


def cached_page(view):
    """Serve the view's page from the cache while the stock has not changed."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _cacheable():
            return view(*args, **kwargs)
        cache: PageCache = current_app.extensions["page_cache"]
        now = utcnow()
        version = cache.version(current_app.config.get("PAGE_CACHE_CHECK_SECONDS", 1.0))
        key = (request.full_path, current_language())
        entry = cache.get(key, version, now)
        if entry is None:
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code not in (200, 404, 410) or response.direct_passthrough:
                return response
            entry = Entry(version=version, valid_until=catalog.next_availability_change(now),
                          status=response.status_code, body=response.get_data())
            cache.put(key, entry)
            return response
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            if entry.gzipped is None:
                entry.gzipped = gzip.compress(entry.body, compresslevel=6)
            response = Response(entry.gzipped, status=entry.status, mimetype="text/html")
            response.headers["Content-Encoding"] = "gzip"
            response.vary.add("Accept-Encoding")
            return response
        return Response(entry.body, status=entry.status, mimetype="text/html")

    return wrapper
