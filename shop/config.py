"""Settings read from environment variables, with safe development defaults."""

import ipaddress
import os
import shlex
import sys
from datetime import timedelta
from pathlib import Path

DEV_SECRET_KEY = "dev-only-not-secret"
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class ConfigError(RuntimeError):
    """The configuration is unsafe for the environment it runs in."""


def load() -> dict:
    """Build the configuration mapping from the environment."""
    env = os.environ.get("SHOP_ENV", "development")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'shop.sqlite3'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    return {
        "SHOP_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "DEBUG": _bool("FLASK_DEBUG"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "BABEL_TRANSLATION_DIRECTORIES": "../translations",
        "LANGUAGES": {"fr": "Français", "en": "English", "ar": "العربية", "uk": "Українська",
                      "fa": "دری", "ps": "پښتو", "tr": "Türkçe", "ro": "Română", "ru": "Русский"},
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # If Redis cannot be reached, each worker counts on its own meanwhile instead of failing.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        # Development and tests only (refused in production): send Stripe API calls to a local
        # server (stripe-mock, or a fake) instead of Stripe, e.g. http://127.0.0.1:12111.
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", ""),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "587")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", True),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Solidarity Shop <no-reply@localhost>"),
        # Who runs the shop: named in the footer, the privacy notice and the accessibility statement.
        "OPERATOR_NAME": os.environ.get("OPERATOR_NAME", "Emmaüs Connect"),
        "OPERATOR_ADDRESS": os.environ.get("OPERATOR_ADDRESS", "Emmaüs Connect Metz, 57000 Metz"),
        "OPERATOR_EMAIL": os.environ.get("OPERATOR_EMAIL", "contact@example.org"),
        "OPERATOR_PHONE": os.environ.get("OPERATOR_PHONE", ""),
        # Text messages: "dev" writes them to the log and instance/sms/; "twilio" sends them.
        "SMS_BACKEND": os.environ.get("SMS_BACKEND", "dev"),
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_FROM": os.environ.get("TWILIO_FROM", ""),
        "SMS_FOLDER": os.environ.get("SMS_FOLDER", ""),  # dev backend; default instance/sms/
        # A request tries to deliver the messages it queued right after its commit (the
        # `deliver` command sends whatever is left). Failures are retried for MESSAGE_RETRY_HOURS.
        "OUTBOX_SEND_AFTER_COMMIT": _bool("OUTBOX_SEND_AFTER_COMMIT", True),
        "MESSAGE_RETRY_HOURS": int(os.environ.get("MESSAGE_RETRY_HOURS", "24")),
        "CATALOG_PAGE_SIZE": 24,
        "PAGE_CACHE": os.environ.get("PAGE_CACHE", "1") != "0",
        "PAGE_CACHE_CHECK_SECONDS": float(os.environ.get("PAGE_CACHE_CHECK_SECONDS", "1")),
        # Where the shop is reached from outside, for links in e-mails sent by commands.
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000"),
        "PICKUP_DAYS": int(os.environ.get("PICKUP_DAYS", "14")),
        # How long a unit back on sale is held for the first person in line (shop.services.waitlist).
        "WAITLIST_HOLD_HOURS": int(os.environ.get("WAITLIST_HOLD_HOURS", "48")),
        # How late after a chosen pickup time a reservation is still waited for (shop.services.slots).
        "SLOT_GRACE_MINUTES": int(os.environ.get("SLOT_GRACE_MINUTES", "120")),
        "RETENTION_MONTHS": int(os.environ.get("RETENTION_MONTHS", "24")),
        "CODE_HASH_KEY": os.environ.get("CODE_HASH_KEY", ""),
        # Roles that cannot sign in without a second factor (TOTP). Not read from the environment:
        # production refuses to start without staff and admins in it (see check()).
        "TWO_FACTOR_REQUIRED_ROLES": ("staff", "admin"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=14),
        # A signed-in session without any request for this long is signed out.
        "SESSION_IDLE_MINUTES": int(os.environ.get("SESSION_IDLE_MINUTES", "30")),
        # Number of proxies in front (nginx…), so that HTTPS and client addresses are seen.
        "PROXY_FIX": int(os.environ.get("PROXY_FIX", "0")),
        "PREFERRED_URL_SCHEME": "https" if env == "production" else "http",
        "WTF_CSRF_TIME_LIMIT": None,
        # The largest request body accepted (bytes): bigger ones get a friendly 413 page. Keep the
        # front server's own limit (nginx client_max_body_size) the same.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(16 * 1024 * 1024))),
        # A URL-encoded form body (every form without a file): the largest form, 2,000 characters
        # of notes in any script, fully percent-encoded, is about 24 KB; a bigger body gets a 413.
        "MAX_URLENCODED_BYTES": 64 * 1024,
        # The API (/api/v1/): the largest JSON body (5,000 devices are about 2 MB) and the
        # requests one token may make.
        "API_MAX_BYTES": int(os.environ.get("API_MAX_BYTES", str(8 * 1024 * 1024))),
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600 per minute"),
        # Device photos: where their WebP variants are kept, and the largest photo accepted.
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads")),
        "PHOTO_MAX_BYTES": int(os.environ.get("PHOTO_MAX_BYTES", str(10 * 1024 * 1024))),
        # Logs: "text" (time, level, [request id], logger: message) or "json" (one object a line).
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # Optional error reports to Sentry (names, codes, phone numbers and e-mails taken out).
        "SENTRY_DSN": os.environ.get("SENTRY_DSN", ""),
        # Bearer token for GET /metrics; without one, production answers 404 there.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # Static URLs carry a content hash (static_url), so browsers may keep them a year.
        "SEND_FILE_MAX_AGE_DEFAULT": 365 * 24 * 3600,
    }


def check(config) -> None:
    """Refuse to run production with development settings."""
    if config.get("SHOP_ENV") != "production":
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET_KEY or len(config["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY must be set to a long random value in production.")
    if config.get("DEBUG"):
        raise ConfigError("Debug mode must be off in production.")
    if not {"staff", "admin"} <= set(config.get("TWO_FACTOR_REQUIRED_ROLES") or ()):
        raise ConfigError("Two-step sign-in must be required for staff and admins in production.")
    if config.get("STRIPE_API_BASE"):
        raise ConfigError("STRIPE_API_BASE is for development and tests only: production talks to Stripe itself.")
    server = server_options()
    if str(config.get("RATELIMIT_STORAGE_URI", "memory://")).startswith("memory://") and server.workers != 1:
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI is memory:// but {server.workers_said}: each worker would count on its own "
            "(10 attempts allowed become 10 per worker). Set RATELIMIT_STORAGE_URI=redis://… shared by every "
            "worker, or run one worker and say so with WEB_CONCURRENCY=1.")
    if config.get("PROXY_FIX") and server.public_bind:
        raise ConfigError(
            f"PROXY_FIX is on but gunicorn listens on {server.public_bind}: anyone reaching it directly could "
            "choose their own address (X-Forwarded-For) and escape the rate limits. Bind it to a local socket "
            "(--bind unix:/run/shop/gunicorn.sock) or to 127.0.0.1 behind the proxy.")


class ServerOptions:
    """What this process was started with, as far as it can tell: the number of gunicorn workers
    and any address gunicorn listens on that is not on this machine.

    The worker count comes from WEB_CONCURRENCY (gunicorn's own default for --workers), else from
    --workers/-w on gunicorn's command line or in GUNICORN_CMD_ARGS; gunicorn's default is 1. A
    gunicorn config file (-c) may set workers where this cannot see them: then the count is
    unknown, and production with memory:// counters refuses to start unless WEB_CONCURRENCY says.
    """

    def __init__(self, argv: list[str], environ) -> None:
        program = Path(argv[0] if argv else "")
        # The gunicorn script, or `python -m gunicorn` (argv[0] is then gunicorn/__main__.py).
        under_gunicorn = program.name.startswith("gunicorn") or program.parent.name == "gunicorn"
        self.under_gunicorn = under_gunicorn
        args = shlex.split(environ.get("GUNICORN_CMD_ARGS", "")) + (argv[1:] if under_gunicorn else [])
        self.workers: int | None = 1
        self.workers_said = "one worker"
        said = _option(args, "-w", "--workers")
        if environ.get("WEB_CONCURRENCY", "").strip():
            said, where = environ["WEB_CONCURRENCY"].strip(), "WEB_CONCURRENCY"
        else:
            where = "gunicorn --workers"
        if said is not None:
            self.workers = int(said) if said.isdigit() else None
            self.workers_said = f"{where} is {said}"
        elif under_gunicorn and (_option(args, "-c", "--config") is not None or Path("gunicorn.conf.py").exists()):
            self.workers, self.workers_said = None, "the number of workers is in a gunicorn config file"
        binds = _options(args, "-b", "--bind")
        if under_gunicorn and not binds and environ.get("PORT"):  # gunicorn then listens on 0.0.0.0:$PORT
            binds = [f"0.0.0.0:{environ['PORT']}"]
        self.public_bind = next((b for b in binds if not _local_bind(b)), None)


def _options(args: list[str], short: str, long: str) -> list[str]:
    found = []
    for i, arg in enumerate(args):
        if arg in (short, long) and i + 1 < len(args):
            found.append(args[i + 1])
        elif arg.startswith(long + "="):
            found.append(arg.split("=", 1)[1])
        elif arg.startswith(short) and len(arg) > len(short) and not arg.startswith("--"):
            found.append(arg[len(short):])
    return found


def _option(args: list[str], short: str, long: str) -> str | None:
    found = _options(args, short, long)
    return found[-1] if found else None


def _local_bind(bind: str) -> bool:
    """A unix socket, a file descriptor handed over by systemd, or an address on the loopback."""
    if bind.startswith(("unix:", "fd://")):
        return True
    host = bind.rsplit(":", 1)[0] if bind.count(":") == 1 or bind.startswith("[") else bind
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_options() -> ServerOptions:
    return ServerOptions(sys.argv, os.environ)
    if config.get("SMS_BACKEND") not in ("dev", "twilio"):
        raise ConfigError("SMS_BACKEND must be dev or twilio.")
    if config.get("SMS_BACKEND") == "twilio" and not all(
            config.get(k) for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")):
        raise ConfigError("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM.")
