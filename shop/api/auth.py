"""Who is calling: a token in the Authorization header (never the session, never the query
string), allowed for the view's roles, rate-limited per token."""

import base64
import hashlib
import json
from functools import wraps

from flask import current_app, g, request
from flask_babel import gettext as _

from shop.api.problems import problem
from shop.models import ApiRole
from shop import ratelimits
from shop.services import api_tokens, audit
from shop.services.api_tokens import ApiScope

QUERY_NAMES = {"token", "access_token", "api_key", "apikey", "key", "auth", "authorization"}


def allow(*roles: ApiRole):
    """The roles that may call a view (read by the before-request hook and the access tests)."""
    def mark(view):
        view.api_roles = frozenset(roles)
        return view
    return mark


def check_request():
    """The API's before-request hook: the token, its role and rate limit, then the body's size and type."""
    if any(name.lower() in QUERY_NAMES for name in request.args) or any(
            value.startswith(api_tokens.PREFIX) for value in request.args.values()):
        return problem(400, _("Send the token in the Authorization header, never in the address."))
    view = current_app.view_functions.get(request.endpoint)
    roles = getattr(view, "api_roles", None)
    if roles is None:  # not an API view (the routing error is answered by the error handler)
        return None
    if request.content_length is not None and request.content_length > current_app.config["API_MAX_BYTES"]:
        return problem(413)  # before anything reads it
    header = request.headers.get("Authorization", "")
    scheme, _space, raw = header.partition(" ")
    token = api_tokens.authenticate(raw.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        return problem(401, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    if token.role not in roles:
        return problem(403)
    if not ratelimits.take(current_app.config["API_RATE_LIMIT"], "api-token", str(token.id)):
        return problem(429, headers={"Retry-After": "60"})
    if request.method == "POST":
        refused = _check_body()
        if refused is not None:
            return refused
    g.api_token = token
    g.api_scope = ApiScope(token)
    return None


def _check_body():
    cap = current_app.config["API_MAX_BYTES"]
    if request.mimetype != "application/json":
        return problem(415)
    request.max_content_length = cap + 1
    data = request.get_data(cache=True)
    if len(data) > cap:
        return problem(413)
    try:
        text = data.decode("utf-8")
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return problem(400, _("The body is not valid JSON."))
    if "\\u0000" in text or not isinstance(body, dict):  # PostgreSQL stores no NUL; every body is an object
        return problem(400, _("The body is not valid JSON."))
    return None


def actor() -> str:
    """What the services record as the actor of a change (history entries, audit details)."""
    return f"api-token:{g.api_token.id}"


def audit_write(response) -> None:
    """One audit entry per successful write: which token, what, with which answer."""
    audit.record(None, "api.write", ("api_tokens", g.api_token.id), method=request.method, path=request.path,
                 status=response.status_code)


def idempotent(view):
    """Every POST carries an Idempotency-Key: its first answer is stored with it, and a retry
    (or the same request sent twice at once) gets that answer instead of doing the work again."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 200 or not key.isprintable():
            return problem(400, _("Every POST needs an Idempotency-Key header (at most 200 characters)."))
        fingerprint = hashlib.sha256(b"%s %s\n" % (request.method.encode(), request.path.encode())
                                     + request.get_data(cache=True)).hexdigest()
        claimed = api_tokens.claim_key(g.api_token, key, fingerprint)
        if isinstance(claimed, api_tokens.Stored):
            if not claimed.same_request:
                return problem(422, _("This Idempotency-Key was already used for another request."))
            if claimed.status_code is None:
                return problem(409)
            response = current_app.response_class(claimed.body, status=claimed.status_code,
                                                  mimetype="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code < 400:
            api_tokens.store_answer(claimed, response.status_code, response.get_data(as_text=True))
            audit_write(response)
        return response

    return wrapper


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id after which the page starts; None for a cursor that is not one of ours."""
    if not cursor:
        return 0
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(value) if value.isdigit() and len(value) < 12 else None
