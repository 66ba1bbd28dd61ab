"""RFC 9457 problem details: every error of the API, in the Accept-Language language."""

import json

from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

MEDIA_TYPE = "application/problem+json"

# What each HTTP error means to a client's developer, in a few words.
DETAILS = {
    400: _l("This request cannot be read."),
    401: _l("A valid API token is needed in the Authorization header."),
    403: _l("This token cannot do this."),
    404: _l("Nothing here: check the address."),
    405: _l("This method is not allowed here."),
    409: _l("Someone else changed this first. Read it again, then retry."),
    415: _l("Send JSON, with Content-Type: application/json."),
    422: _l("The request has problems: nothing was stored."),
    429: _l("Too many requests with this token. Try again in a minute."),
    500: _l("Something went wrong on our side. Try again later."),
    503: _l("The service is briefly unavailable. Try again in a minute."),
}

# Marshmallow's own words for the usual refusals, in the client's language instead.
FIELD_MESSAGES = {
    "Unknown field.": _l("Unknown field."),
    "Missing data for required field.": _l("This field is required."),
    "Field may not be null.": _l("This field is required."),
}
OTHER_FIELD_MESSAGE = _l("Wrong type or value for this field.")


def problem(status: int, detail=None, *, errors: list | None = None, headers: dict | None = None):
    """A problem-details response; `detail` defaults to the status's meaning."""
    if detail is None:
        detail = DETAILS.get(status, DETAILS[500] if status >= 500 else DETAILS[400])
    if status == 413:
        detail = _("The body is too large: at most %(size)d MB.", size=current_app.config["API_MAX_BYTES"] // 2**20)
    body = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"), "status": status,
            "detail": str(detail), "instance": request.path}
    if errors:
        body["errors"] = errors
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    response.headers["Content-Language"] = _content_language()
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _content_language() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "fr").replace("_", "-")


def for_http_error(error: HTTPException):
    code = error.code or 500
    if code == 422 and getattr(error, "data", None):  # webargs: the schema refused the body or the query
        return problem(422, errors=validation_errors(error.data.get("messages", {})))
    if code == 400 and getattr(error, "data", None):  # webargs: JSON it could not read
        return problem(400, _("The body is not valid JSON."))
    headers = {"Allow": ", ".join(error.valid_methods)} if code == 405 and getattr(error, "valid_methods", None) else None
    if code == 429:
        headers = {"Retry-After": "60"}
    return problem(code, getattr(error, "api_detail", None), headers=headers)


def validation_errors(messages: dict) -> list[dict]:
    """webargs' nested messages ({"json": {"devices": {3: {"price": [...]}}}}) as a flat list of
    {item, field, detail}, like the CSV preview's lines and columns."""
    found = []

    def walk(node, item, field):
        if isinstance(node, list) and all(isinstance(m, str) for m in node):
            for message in node:
                entry = {"field": None if field in (None, "_schema") else field,
                         "detail": str(FIELD_MESSAGES.get(message, OTHER_FIELD_MESSAGE))}
                if item is not None:
                    entry["item"] = item
                found.append(entry)
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, int):
                    walk(value, key, None)
                elif field in (None, "devices", "records"):
                    walk(value, item, key)
                else:
                    walk(value, item, f"{field}.{key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, item, field)

    for location in messages.values():
        walk(location, None, None)
    return found
