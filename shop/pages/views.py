"""Information pages and the language picker."""

from datetime import date
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from shop.i18n import LANG_COOKIE
from shop.models import EligibilityGround
from shop.pagecache import shown_active_pickup_points
from shop.services import partners, pricing

bp = Blueprint("pages", __name__)

# When the accessibility statement was last reviewed (the RGAA model asks for the date).
ACCESSIBILITY_STATEMENT_DATE = date(2026, 12, 1)


# Longer than any link of the shop (a filtered catalog page is under 300 characters).
NEXT_MAX_LENGTH = 1000


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a page of this site: never another host (no open redirect), never an address the shop
    does not serve, nothing longer than its own links (a redirect never echoes a megabyte)."""
    if not target or len(target) > NEXT_MAX_LENGTH:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    try:
        current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except (NotFound, MethodNotAllowed, RequestRedirect):
        return default
    return target


@bp.get("/language/<code>")
def language(code: str):
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    response = redirect(safe_next(request.args.get("next")), code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.get("/how-it-works")
def how_it_works():
    return render_template("pages/how_it_works.html", caps=pricing.LEGAL_CAPS_CENTS, cap_source=pricing.LEGAL_CAP_SOURCE)


@bp.get("/pickup-points")
def pickup_points():
    return render_template("pages/pickup_points.html", pickup_points=shown_active_pickup_points())


@bp.get("/where-to-get-a-code")
def where_to_get_a_code():
    grounds = [ground for ground in EligibilityGround if ground != EligibilityGround.OTHER]
    return render_template("pages/where_to_get_a_code.html", towns=partners.active_organisations_by_town(),
                           grounds=grounds)


@bp.get("/privacy")
def privacy():
    return render_template("pages/privacy.html",
                           retention_months=current_app.config.get("RETENTION_MONTHS", 24))


@bp.get("/accessibility")
def accessibility():
    return render_template("pages/accessibility.html", statement_date=ACCESSIBILITY_STATEMENT_DATE)
