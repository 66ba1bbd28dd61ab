"""Optional error reports to Sentry (SENTRY_DSN), with nothing that identifies a person.

`send_default_pii=False` keeps cookies, client addresses and the signed-in user out; `scrub` then
removes what remains possible: names, eligibility and pickup codes, phone numbers and e-mail
addresses, wherever they appear (exception messages, local variables, log breadcrumbs, URLs).
"""

import re
import warnings

from flask import Flask

FILTERED = "[Filtered]"
# Variables and fields whose value is personal or secret, whatever it looks like.
_PERSONAL_KEY = re.compile(
    r"(^|_)(name|names|called|phone|mobile|email|mail|address|code|codes|pickup|token|password|secret|"
    r"key|cookie|cookies|session|authorization|birth|note|notes|to|recipient|body|values|form|data)($|_)",
    re.IGNORECASE)
# Strings Sentry itself writes (where the error happened), kept as they are.
_STRUCTURAL = {"filename", "abs_path", "module", "function", "lineno", "colno", "platform", "type",
               "mechanism", "level", "logger", "event_id", "timestamp", "release", "environment",
               "server_name", "sdk", "modules", "contexts", "in_app", "category", "thread_id",
               "transaction_info", "transaction"}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d .()/-]{6,}\d")
# Eligibility codes (12 Crockford characters, often in groups of 4) and tokens: any run of 10+
# letters and digits that holds a digit, or in capitals; pickup codes: 6 digits.
_CODE = re.compile(r"\b(?=[0-9A-Za-z-]*\d)[0-9A-Za-z]{4}(?:-?[0-9A-Za-z]{2,}){2,}\b|\b[0-9A-Z]{10,}\b"
                   r"|\b[0-9A-Za-z_-]{20,}\b|\b\d{6}\b")


def init(app: Flask) -> None:
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    from shop.services.system import version

    with warnings.catch_warnings():
        # Newer SDKs call send_default_pii deprecated (for `data_collection`) but still honour it;
        # saying False out loud keeps it false on every 2.x version.
        warnings.simplefilter("ignore", DeprecationWarning)
        _init(sentry_sdk, FlaskIntegration, dsn, app, version())


def _init(sentry_sdk, FlaskIntegration, dsn, app, release) -> None:
    sentry_sdk.init(
        dsn=dsn,
        integrations=[FlaskIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        before_send=scrub,
        before_breadcrumb=lambda crumb, hint: _clean(crumb, set()),
        environment=app.config["SHOP_ENV"],
        release=release,
        transport=app.config.get("SENTRY_TRANSPORT"),  # tests only: a fake that keeps the envelopes
    )


def scrub(event: dict, hint=None) -> dict:
    """The event without personal data (Sentry's `before_send`)."""
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):  # the method and the path, nothing the person sent
        event["request"] = {"method": request.get("method"), "url": request.get("url", "").split("?", 1)[0]}
    known = set()
    _collect(event, known)
    return _clean(event, known)


def _collect(value, known: set, personal: bool = False) -> None:
    """Values held under personal names (a local `name`, a `phone` field…), to remove elsewhere too."""
    if isinstance(value, dict):
        for key, item in value.items():
            _collect(item, known, personal or (isinstance(key, str) and bool(_PERSONAL_KEY.search(key))))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, known, personal)
    elif personal and isinstance(value, str):
        bare = value.strip("'\"")  # Sentry shows variables as repr(): 'Amina'
        if len(bare) >= 3:
            known.add(bare)


def _clean(value, known: set, key: str | None = None):
    if isinstance(value, dict):
        return {k: (item if k in _STRUCTURAL else
                    FILTERED if isinstance(k, str) and _PERSONAL_KEY.search(k) and not isinstance(item, (dict, list))
                    else _clean(item, known, k))
                for k, item in value.items()}
    if isinstance(value, list):
        return [_clean(item, known, key) for item in value]
    if isinstance(value, str):
        for text in sorted(known, key=len, reverse=True):
            value = value.replace(text, FILTERED)
        value = _EMAIL.sub(FILTERED, value)
        value = _CODE.sub(FILTERED, value)
        return _PHONE.sub(FILTERED, value)
    return value
