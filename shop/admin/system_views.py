"""The admin system page: how the shop itself is (version, database, Redis, cron, failures)."""

from babel.dates import format_timedelta
from flask import current_app, render_template

from shop import i18n, ratelimits
from shop.admin.views import admin_only, bp
from shop.models import MessageStatus
from shop.services import outbox, system


@bp.get("/system")
@admin_only
def system_page():
    report = system.check(current_app.config)
    checks = report["checks"]
    runs = system.cronruns.status() if checks["database"]["ok"] else []
    for run in runs:
        run["every"] = format_timedelta(run["period"], locale=i18n.format_locale())
    failed_messages = outbox.counts().get(MessageStatus.FAILED, 0) if checks["database"]["ok"] else None
    return render_template("admin/system.html", version=system.version(), checks=checks, runs=runs,
                           heads=system.migration_heads(), failed_messages=failed_messages,
                           fallbacks=ratelimits.fallback_stats())
