"""Password hashing (Argon2id) and the password policy."""

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from shop.services.errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 256
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    return frozenset(line.strip().lower() for line in COMMON_PASSWORDS.read_text().splitlines() if line.strip())


def _hasher() -> PasswordHasher:
    # Tests may lower the cost (ARGON2_FAST); production uses argon2-cffi's Argon2id defaults.
    if current_app.config.get("ARGON2_FAST"):
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


def check_policy(password: str, *, email: str | None = None) -> None:
    """Refuse short, overlong, common or guessable passwords with a plain message."""
    if len(password) < MIN_LENGTH:
        raise DomainError(lazy_ngettext("Your password must have at least %(num)d character.", "Your password must have at least %(num)d characters.", MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise DomainError(_l("Your password is too long."))
    lowered = password.lower()
    if lowered in _common() or len(set(lowered)) < 4:
        raise DomainError(_l("This password is too common. Choose another one, for example three unrelated words."))
    if email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        raise DomainError(_l("Your password must not contain your e-mail address."))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """True if the password matches; spends the same work when there is no hash."""
    hasher = _hasher()
    if password_hash is None:
        try:
            hasher.verify(_dummy_hash(hasher), password + "\0")
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


_dummy_cache: dict[tuple, str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost)
    if key not in _dummy_cache:
        _dummy_cache[key] = hasher.hash("not a real password")
    return _dummy_cache[key]
