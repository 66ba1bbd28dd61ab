"""What the shop tells its operator: log lines with time, level, request id and logger (JSON lines
with LOG_FORMAT=json), a request id on every response, and Prometheus metrics.

The per-request work is two clock reads, one id and two metric updates: no database query
(public catalog pages are served from a cache in a few hundred microseconds, see bench/).
"""

import json
import logging
import os
import re
import sys
import time
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

REQUEST_ID_HEADER = "X-Request-ID"
# An id from the front server (nginx's $request_id) or a client is kept when it is short and
# plain; anything else could forge log lines or fill them, so a new one is made instead.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the request's, or "-" outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _ShopHandler(logging.StreamHandler):
    """Marks the handler this module installed, so that a second app in the process adds none."""


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Send every logger's records (the shop's, Flask's, SQLAlchemy's…) to stderr in one format."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _ShopHandler)), None)
    if handler is None:
        handler = _ShopHandler(sys.stderr)
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(level.upper())


disable_created_metrics()  # the *_created series only double what a scrape sends

# Metrics. With PROMETHEUS_MULTIPROC_DIR set (gunicorn), each worker writes its counts to files
# there and a scrape adds them up, whichever worker answers it.
REQUESTS = Counter("shop_http_requests_total", "Requests answered, by endpoint, method and status.",
                   ["endpoint", "method", "status"], registry=None)
LATENCY = Histogram("shop_http_request_duration_seconds", "Time to answer a request, by endpoint.",
                    ["endpoint"], registry=None,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
RATELIMIT_FALLBACKS = Counter("shop_ratelimit_fallbacks_total",
                              "Rate-limit attempts counted in a worker's memory because Redis was unreachable.",
                              registry=None)


# The labelled children, kept: prometheus_client's labels() takes a lock and checks its arguments
# on every call, a third of these hooks' cost on a cached page.
_counters: dict[tuple, object] = {}
_timers: dict[str, object] = {}


def request_id(given: str) -> str:
    """The id of a request: the one it came with when that is short and plain, else a new one."""
    return given if given and _SANE_ID.fullmatch(given) else os.urandom(16).hex()


def count_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    key = (endpoint, method, status)
    counter = _counters.get(key)
    if counter is None:
        counter = _counters[key] = REQUESTS.labels(endpoint, method, str(status))
    timer = _timers.get(endpoint)
    if timer is None:
        timer = _timers[endpoint] = LATENCY.labels(endpoint)
    counter.inc()
    timer.observe(seconds)


def install_request_hooks(app: Flask) -> None:
    """Registered first: the id and the clock start before any other hook (the page cache too),
    and the after-request part runs last, on the finished response. (Pages answered in front of
    Flask, shop.pagecache.FrontDoor, get their id and are counted there, by the same functions.)"""

    @app.before_request
    def start_request():
        g.request_id = request_id(request.headers.get(REQUEST_ID_HEADER, ""))
        g.request_started = time.perf_counter()

    @app.after_request
    def finish_request(response):
        context = g._get_current_object()
        response.headers[REQUEST_ID_HEADER] = getattr(context, "request_id", "-")
        started = getattr(context, "request_started", None)
        if started is not None:
            # 404s: one label, not one per URL tried
            count_request(request.endpoint or "unmatched", request.method, response.status_code,
                          time.perf_counter() - started)
        return response


class ShopCollector:
    """Gauges read from the database at scrape time: exact across every worker and machine."""

    def collect(self):
        import sqlalchemy as sa
        from sqlalchemy.exc import SQLAlchemyError

        from shop.extensions import db
        from shop.models import Message, Reservation, WaitlistEntry
        from shop.services import cronruns

        up = GaugeMetricFamily("shop_database_up", "1 when the database answered this scrape.")
        families = []
        try:
            for model, name, text in (
                (Reservation, "shop_reservations", "Reservations, by status (all made so far)."),
                (Message, "shop_outbox_messages", "Outbox messages, by status (queued: waiting to go; failed: gave up)."),
                (WaitlistEntry, "shop_waitlist_entries", "Places in the waitlist, by status."),
            ):
                family = GaugeMetricFamily(name, text, labels=["status"])
                for status, count in db.session.execute(sa.select(model.status, sa.func.count()).group_by(model.status)):
                    family.add_metric([status.value], count)
                families.append(family)
            runs = GaugeMetricFamily("shop_cron_last_success_timestamp_seconds",
                                     "When each scheduled command last succeeded (Unix time).", labels=["command"])
            late = GaugeMetricFamily("shop_cron_late", "1 when a scheduled command missed its period.",
                                     labels=["command"])
            for run in cronruns.status():
                if run["last_success_at"]:
                    runs.add_metric([run["command"]], run["last_success_at"].timestamp())
                late.add_metric([run["command"]], 0 if run["on_time"] else 1)
            families += [runs, late]
            up.add_metric([], 1)
        except SQLAlchemyError:
            db.session.rollback()
            families = []
            up.add_metric([], 0)
        yield up
        yield from families


def scrape() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REQUESTS, LATENCY, RATELIMIT_FALLBACKS):
            registry.register(metric)
    registry.register(ShopCollector())
    return generate_latest(registry)
