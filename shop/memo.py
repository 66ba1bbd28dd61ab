"""A small bounded memo for what a page shows that does not change between requests.

Each worker keeps its own. The key must hold everything the value depends on (the language, the
values of the request, the rows it shows, as read in this request): a value from the stock is
kept only under the values it was made from, so a change in the database makes another key, never
a stale value. Whole pages are the page cache's (`shop.pagecache`), with the catalog's versions.

Memos count entries, not bytes, so nothing is kept for a request whose address is long (see
`short_address`): a page's own address is a few dozen characters, and a crawler sending thousands
of distinct 4 KB query strings grew a worker from 120 MB to over 500 MB when each was kept.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


# Characters of path and query string beyond which a request's parts and page are not kept. The
# longest address the shop itself links to (a catalog filter with every field, page and sort) is
# under 200.
LONG_ADDRESS = 512


def short_address() -> bool:
    """This request's path and query string are short enough to be kept under (true outside a
    request)."""
    from flask import has_request_context, request

    return not has_request_context() or len(request.path) + len(request.query_string) <= LONG_ADDRESS


class Memo:
    """Values by key, the least recently used dropped beyond `size` entries; a value made for a
    long address is returned, not kept."""

    def __init__(self, size: int):
        self.size = size
        self._values: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], object]):
        """The value kept for `key`, or `make()` kept for next time."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = make()  # outside the lock: two threads may both make it, the same value
        if not short_address():
            return value
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list:
        with self._lock:
            return list(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def of_app(name: str, size: int) -> Memo:
    """The current app's memo called `name` (made on first use): tests make several apps, and a
    part rendered by one must never be served by another."""
    from flask import current_app

    extensions = current_app.extensions
    return extensions.get(name) or extensions.setdefault(name, Memo(size))


def memoized_url_for(app, size: int = 8192):
    """`url_for` for templates, each address built once per set of arguments and script root.

    A relative address depends on nothing else: the URL map is fixed once the app is built and the
    shop registers no URL defaults. Relative endpoints (".x"), external addresses, anchors and
    calls outside a request go to Flask's `url_for` every time. A catalog page builds some thirty
    addresses; the same ones again on the next page.
    """
    from flask import request

    built: dict = {}  # emptied when full: a plain dict is read without a lock
    plain = app.url_for
    defaults = app.url_default_functions

    def url_for(endpoint: str, **values) -> str:
        if endpoint[:1] == "." or any(defaults.values()) or any(name[:1] == "_" for name in values):
            return plain(endpoint, **values)
        try:
            # The types too: page=1 and page=True are equal keys but different addresses.
            key = (request.script_root, endpoint, *values.items(), *map(type, values.values()))
            return built[key]
        except KeyError:
            pass
        except (RuntimeError, TypeError):  # outside a request; a list of values for one argument
            return plain(endpoint, **values)
        address = plain(endpoint, **values)
        if not short_address():  # its values may hold the long address (a language link's `next`)
            return address
        if len(built) >= size:
            built.clear()
        built[key] = address
        return address

    url_for.built = built  # for the tests that check what is kept
    return url_for


def kept_parts(app, size: int = 4096):
    """`{% call kept(name, *key, keep=…) %}…{% endcall %}` in a template: the part rendered once
    per language, script root and key, which must hold everything else the part shows. With
    `keep` false (a signed-in person's menu, with its form token) it is rendered every time."""
    from flask import request

    from shop.i18n import current_language

    parts = Memo(size)

    def kept(*key, keep: bool = True, caller):
        if not keep:
            return caller()
        return parts.get((current_language(), request.script_root, *key), caller)

    kept.parts = parts  # for the tests that check what is kept
    return kept
