"""Limits that count an attempt before it is checked, in one atomic step.

Flask-Limiter's `deduct_when` counts after the view has run: 40 guesses sent at the same instant
are all checked against a count of 0 before any is added, and more than the limit get through.
Here the attempt is counted first (an INCR in Redis, shared by every worker), and only an attempt
that was within the limit is then checked.
"""

import logging
import threading
import time
from datetime import datetime, timezone

from functools import partial, wraps

from flask import current_app, request
from flask.globals import request_ctx
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from shop.extensions import limiter

log = logging.getLogger(__name__)

# The in-memory storage adds and reads back in two steps: one thread of a worker at a time, so
# that its count is exact too (Redis increments and answers in one step anyway).
_lock = threading.Lock()
# Where this worker counts while the shared storage cannot be reached (as Flask-Limiter does).
_fallback = FixedWindowRateLimiter(MemoryStorage())

# Falling back is logged once, then at most every WARN_EVERY_SECONDS while it goes on (a warning
# per attempt would drown the log while Redis is down; none would hide it).
WARN_EVERY_SECONDS = 10 * 60
_fallbacks = {"count": 0, "unreported": 0, "last_at": None, "warned": None}


def _fell_back(scope: str) -> None:
    from shop.observe import RATELIMIT_FALLBACKS

    RATELIMIT_FALLBACKS.inc()
    _fallbacks["count"] += 1
    _fallbacks["unreported"] += 1
    _fallbacks["last_at"] = datetime.now(timezone.utc)
    warned = _fallbacks["warned"]
    if warned is None or time.monotonic() - warned >= WARN_EVERY_SECONDS:
        log.warning("Rate-limit storage unreachable: %d attempt(s) counted in this worker's memory "
                    "(last: %s); each worker now counts on its own", _fallbacks["unreported"], scope)
        _fallbacks["warned"] = time.monotonic()
        _fallbacks["unreported"] = 0


def fallback_stats() -> dict:
    """This worker's fallbacks since it started: how many attempts, and the last one's time."""
    return {"count": _fallbacks["count"], "last_at": _fallbacks["last_at"]}


def take(limit: str, scope: str, *keys: str) -> bool:
    """Count one attempt for every key; False when any of them is over `limit` ("10 per 15 minutes")."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):  # tests, a trusted kiosk: nothing is counted
        return True
    item = parse(limit)
    allowed = True
    with _lock:
        for key in keys:
            try:
                within = limiter.limiter.hit(item, scope, key)
            except Exception:  # noqa: BLE001 (Redis down, in any client library's words)
                _fell_back(scope)
                within = _fallback.hit(item, scope, key)
            allowed = allowed and within
    return allowed


def exhausted(limit: str, scope: str, *keys: str) -> bool:
    """Whether any key has no attempt left (a read only: `take` is what counts)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    item = parse(limit)
    for key in keys:
        try:
            left = limiter.limiter.test(item, scope, key)
        except Exception:  # noqa: BLE001
            left = _fallback.test(item, scope, key)
        if not left:
            return True
    return False


def check_only_where_limits_apply(app) -> None:
    """Flask-Limiter's before-request check, skipped for requests it can find no limit for.

    The shop's limits are decorators on their views (sign-in, codes, webhooks), and a decorated
    view checks its own limits when it is called; the before-request check adds the default,
    application, meta and blueprint limits, of which the shop sets none. Without any of those,
    it looked for limits on every request (a seventh of a page's hooks) and found none. When one
    is configured, when the storage is down (the check then also watches for its return) or when
    a view's limits were found on another callable (Flask-Limiter's "hints"), it runs as before.
    """
    check = limiter._check_request_limit
    hooks = app.before_request_funcs.setdefault(None, [])
    if check not in hooks:
        return
    manager = limiter.limit_manager

    def check_request_limits():
        if (manager.default_limits or manager.application_limits or limiter._meta_limits
                or manager._blueprint_limits or limiter._storage_dead
                or manager.has_hints(request.endpoint or "")):
            return check()
        return None

    hooks[hooks.index(check)] = check_request_limits

    # After the response and at teardown, Flask-Limiter made its per-request state only to find it
    # empty when nothing was checked: both now run only once a check made that state.
    def checked() -> bool:
        return hasattr(request_ctx._get_current_object(), "_limiter_request_context")

    after = app.after_request_funcs.setdefault(None, [])
    for index, hook in enumerate(after):
        inject = getattr(hook, "func", None)
        if getattr(inject, "__name__", "") == "__inject_headers":
            after[index] = _only_if(checked, hook, lambda response: response)
    teardown = app.teardown_request_funcs.setdefault(None, [])
    for index, hook in enumerate(teardown):
        if getattr(hook, "__name__", "") == "__release_context":
            teardown[index] = _only_if(checked, hook, lambda error=None: None)


def _only_if(condition, hook, otherwise):
    @wraps(hook.func if isinstance(hook, partial) else hook)
    def run(*args):
        return hook(*args) if condition() else otherwise(*args)
    return run
