"""Access logs never hold an eligibility code.

The QR code on a slip opens `/reserve?code=…`; the shop moves the code into the session and
redirects at once to a clean URL, but the first request line still reaches the access log of
whatever serves the app. Both loggers below write it with the code's value replaced:
gunicorn's (`--logger-class shop.accesslog.GunicornLogger`) and the development server's
(installed by `create_app`). See docs/DEPLOY.md for the front proxy's own log.
"""

import logging
import re
import sys

from gunicorn.glogging import Logger

SECRET_PARAMETERS = ("code",)
REDACTED = "[removed]"
_SECRET = re.compile(r"(?P<key>(?:^|[?&;])(?:%s)=)[^&;\s\"]*" % "|".join(SECRET_PARAMETERS), re.IGNORECASE)


def redact(text: str) -> str:
    """`GET /reserve?code=ABCD… HTTP/1.1` → `GET /reserve?code=[removed] HTTP/1.1`."""
    return _SECRET.sub(lambda m: m.group("key") + REDACTED, text) if text else text


class GunicornLogger(Logger):
    """Gunicorn's logger, with the codes taken out of request lines, query strings and referrers,
    and the request id (X-Request-ID, see shop.observe) at the end of each access line.

    It is made by gunicorn's master before any worker starts, so it also checks the settings: a
    refused configuration stops gunicorn at once with one line, rather than once per worker.
    """

    def __init__(self, cfg):
        from shop import config

        try:
            config.check(config.load())
        except config.ConfigError as error:
            print(f"Refused configuration: {error}", file=sys.stderr)
            sys.exit(1)
        super().__init__(cfg)

    def setup(self, cfg):
        if cfg.access_log_format == cfg.settings["access_log_format"].default:
            cfg.set("access_log_format", cfg.access_log_format + ' rid=%({x-request-id}o)s')
        super().setup(cfg)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            # A code is only ever a parameter ("code=…"): a value without "=" (most of the ~50
            # headers and environ entries of a request) cannot hold one and skips the search.
            if isinstance(value, str) and "=" in value and (key in ("r", "q", "f") or key.startswith("{")):
                atoms[key] = redact(value)
        return atoms


class RedactingFilter(logging.Filter):
    """For the development server's log ("werkzeug"), which writes each request line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(record.msg) if isinstance(record.msg, str) else record.msg
        return True


def install_development_filter() -> None:
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
