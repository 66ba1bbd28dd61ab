"""Text messages: a small gateway interface, a development backend and Twilio.

A backend has one method, `send(to, text) -> provider id`. It raises `SmsRejected` when the
provider refuses this message for good (a number that cannot receive texts) and `SmsUnavailable`
when it may work later (timeout, 5xx, rate limit): the outbox retries the second kind only.
Another provider fits beside Twilio as one more class in BACKENDS.
"""

import logging
import math
import secrets
from pathlib import Path

import phonenumbers
from flask import current_app

from shop.models.types import utcnow

log = logging.getLogger(__name__)


class SmsError(Exception):
    pass


class SmsUnavailable(SmsError):
    """The provider could not take the message now; try again later."""


class SmsRejected(SmsError):
    """The provider refused this message; trying again will not help."""


# --- Numbers and segments ---------------------------------------------------------------------

def e164(text: str, region: str = "FR") -> str | None:
    """The number in E.164 (+33612345678), or None if it is not a valid phone number."""
    try:
        number = phonenumbers.parse((text or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# GSM 03.38: the basic set costs one septet, the extension set two (escape + character).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")


def encoding(text: str) -> str:
    """"GSM-7" when every character is in the GSM alphabet, else "UCS-2"."""
    return "GSM-7" if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text) else "UCS-2"


# Typographic punctuation that the catalogs use (French ’, « », non-breaking spaces) is outside
# GSM-7 and would turn a whole French text into UCS-2 (70 characters a segment instead of 160).
# A text message gets the plain signs instead; letters are never changed.
_PLAIN = str.maketrans({"’": "'", "‘": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
                        "–": "-", "—": "-", "…": "...", "\u00a0": " ", "\u202f": " ", "\u2009": " "})


def plain(text: str) -> str:
    """The text with typographic punctuation replaced by its GSM-7 equivalent."""
    return text.translate(_PLAIN)


def segments(text: str) -> int:
    """How many SMS segments the text takes (160/153 septets in GSM-7, 70/67 UTF-16 units in UCS-2)."""
    if encoding(text) == "GSM-7":
        units, single, multi = sum(2 if ch in _GSM_EXTENSION else 1 for ch in text), 160, 153
    else:
        units, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


# --- Backends ----------------------------------------------------------------------------------

class DevBackend:
    """Development and tests: the text goes to the log and to instance/sms/, one file a message."""

    def __init__(self, app):
        self.folder = Path(app.config.get("SMS_FOLDER") or Path(app.instance_path) / "sms")
        # Unit tests read the texts from a list; they write files only where a test asked for them.
        self.testing = app.config.get("TESTING") and not app.config.get("SMS_FOLDER")
        self.app = app

    def send(self, to: str, text: str) -> str:
        provider_id = "dev-" + secrets.token_hex(8)
        if self.testing:
            self.app.extensions.setdefault("sms_outbox", []).append({"to": to, "text": text, "id": provider_id})
            return provider_id
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{utcnow():%Y%m%dT%H%M%S%f}-{provider_id}.txt"
        path.write_text(f"To: {to}\n\n{text}\n", encoding="utf-8")
        log.warning("SMS not sent (SMS_BACKEND=dev); written to %s\nTo: %s\n%s", path, to, text)
        return provider_id


class TwilioBackend:
    """Twilio through its official SDK. `http_client` is replaced by a fake in the tests."""

    def __init__(self, app, http_client=None):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        config = app.config
        self.sender = config["TWILIO_FROM"]
        http_client = http_client or app.extensions.get("twilio_http_client") or TwilioHttpClient(timeout=10)
        self.client = Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http_client)

    def send(self, to: str, text: str) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            message = self.client.messages.create(to=to, from_=self.sender, body=text)
        except TwilioRestException as error:
            if error.status == 429 or error.status >= 500:
                raise SmsUnavailable(f"Twilio {error.status}: {error.msg}") from None
            raise SmsRejected(f"Twilio {error.status} ({error.code}): {error.msg}") from None
        except (TwilioException, OSError) as error:  # timeouts and lost connections
            raise SmsUnavailable(f"Twilio unreachable: {error}") from None
        return message.sid


BACKENDS = {"dev": DevBackend, "twilio": TwilioBackend}


def gateway(app=None):
    """The configured backend (SMS_BACKEND), or the one a test installed."""
    app = app or current_app._get_current_object()
    installed = app.extensions.get("sms_backend")
    if installed is not None:
        return installed
    return BACKENDS[app.config["SMS_BACKEND"]](app)


def valid_twilio_signature(app, url: str, params: dict, signature: str) -> bool:
    """Whether an inbound Twilio webhook is genuine (X-Twilio-Signature over URL and form)."""
    from twilio.request_validator import RequestValidator

    token = app.config.get("TWILIO_AUTH_TOKEN")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(url, params, signature)
