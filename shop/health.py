"""Probes for the operator: `/healthz` (the database answers), `/readyz` (it can serve: database,
migrations, Redis, cron), `/metrics` (Prometheus)."""

import hmac
import logging

import sqlalchemy as sa
from flask import Flask, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from shop import observe
from shop.extensions import db
from shop.services import system

log = logging.getLogger(__name__)
_last_failed: list[str] = []  # what the previous /readyz of this worker found failing


def register(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        """200 when the database answers (a fixed interface of DESIGN.md): one `SELECT 1`, no more.
        `/readyz` checks everything else a worker needs before it takes traffic."""
        try:
            db.session.execute(sa.text("SELECT 1"))
        except SQLAlchemyError:
            db.session.rollback()
            return {"status": "database unavailable"}, 503
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        report = system.check(current_app.config)
        _log_change(report["failed"])
        body = {"status": "ok" if report["ok"] else "failing", "failed": report["failed"], "checks": report["checks"]}
        return body, 200 if report["ok"] else 503

    @app.get("/metrics")
    def metrics():
        token = current_app.config["METRICS_TOKEN"]
        if not token:
            if current_app.config["SHOP_ENV"] == "production":
                abort(404)  # never open to the world by mistake
        else:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return {"error": "a bearer token is required"}, 401, {"WWW-Authenticate": "Bearer"}
        return observe.scrape(), 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8",
                                       "Cache-Control": "no-store"}


def _log_change(failed: list[str]) -> None:
    """A line when readiness changes (not on every probe): what failed, then when it is back."""
    global _last_failed
    if failed == _last_failed:
        return
    if failed:
        log.warning("Not ready: %s failing", ", ".join(failed))
    else:
        log.warning("Ready again (was failing: %s)", ", ".join(_last_failed))
    _last_failed = failed
