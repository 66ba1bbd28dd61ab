"""Security headers sent with every response."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    # Chromium applies form-action to the redirect after a post: paying online posts, then goes
    # to Stripe Checkout.
    "form-action 'self' https://checkout.stripe.com; frame-ancestors 'none'"
)


HSTS = "max-age=31536000; includeSubDomains"


def set_security_headers(response, *, secure: bool = False):
    headers = response.headers
    if secure:  # only over HTTPS: a browser must never be told to insist on it over plain HTTP
        headers.setdefault("Strict-Transport-Security", HSTS)
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response
