"""A small bounded memo for what a page shows that does not change between requests.

Each worker keeps its own. The key must hold everything the value depends on (the language, the
values of the request, the rows it shows); nothing that depends on the stock goes in one, the
page cache (`shop.pagecache`) handles that with the catalog's versions.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class Memo:
    """Values by key, the least recently used dropped beyond `size` entries."""

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
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
