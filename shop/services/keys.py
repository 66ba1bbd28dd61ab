"""Secrets in one place: hashed single-use tokens, and keys derived from SECRET_KEY.

Tokens (account links, donor share links): the clear token goes to the person once; the database
keeps only its SHA-256, so a copy of the database opens nothing. A token carries 256 random bits,
so a plain hash suffices (no key, no salt).

Keys: each purpose gets its own key derived from SECRET_KEY, so one leaked key opens nothing else.
The derivations below are the ones these purposes have always used: changing one makes what was
stored with it unreadable (every issued code, every two-step secret, every recovery code).
"""

import hashlib
import hmac
import secrets

from flask import current_app

TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A new single-use token: (clear text for the link, hash to store)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def _hmac_of_label(secret: bytes, label: bytes) -> bytes:
    return hmac.new(secret, label, hashlib.sha256).digest()


def _hash_of_label(secret: bytes, label: bytes) -> bytes:
    return hashlib.sha256(b"solidarity-shop " + label + b"\0" + secret).digest()


_DERIVATIONS = {
    "eligibility-code": _hmac_of_label,  # services.codes (unless CODE_HASH_KEY is set)
    "totp-secret": _hash_of_label,       # services.twofactor: encrypts the TOTP secrets
    "recovery-code": _hash_of_label,     # services.twofactor: HMAC of the recovery codes
}


def derived_key(purpose: str) -> bytes:
    """The 32-byte key of one purpose, derived from SECRET_KEY."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return _DERIVATIONS[purpose](secret, purpose.encode())


def keyed_hash(purpose: str, text: str) -> str:
    """HMAC-SHA256 of `text` under the purpose's key, in hex."""
    return hmac.new(derived_key(purpose), text.encode(), hashlib.sha256).hexdigest()
