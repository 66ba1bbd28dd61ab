"""Security headers sent with every response, and the session cookie's signing."""

from flask.sessions import SecureCookieSessionInterface

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    # Chromium applies form-action to the redirect after a post: paying online posts, then goes
    # to Stripe Checkout.
    "form-action 'self' https://checkout.stripe.com; frame-ancestors 'none'"
)


HSTS = "max-age=31536000; includeSubDomains"


# In the order they are added; a view's own value of one (a stricter Referrer-Policy) is kept.
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
_PLAIN = tuple((name.lower(), name, value) for name, value in HEADERS)
_SECURE = (("strict-transport-security", "Strict-Transport-Security", HSTS), *_PLAIN)


def set_security_headers(response, *, secure: bool = False):
    """Add each header the response does not have yet. One look at the response's headers instead
    of one search per header (`setdefault`): the same headers, in the same order."""
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    # only over HTTPS: a browser must never be told to insist on it over plain HTTP
    headers.extend([(name, value) for key, name, value in (_SECURE if secure else _PLAIN) if key not in present])
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer made once per set of keys
    instead of twice a request (reading the cookie, writing it): the same cookie, the same keys."""

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = app.extensions.get("session_serializer")
        if kept is None or kept[0] != keys:
            kept = app.extensions["session_serializer"] = (keys, super().get_signing_serializer(app))
        return kept[1]
