"""Two-factor sign-in: time-based one-time codes (TOTP, RFC 6238) and single-use recovery codes.

The TOTP secret is stored encrypted (Fernet, with a key derived from SECRET_KEY): a copy of the
database alone does not give anyone the codes. Changing SECRET_KEY makes the stored secrets
unreadable: every enrolled person then has to be reset by an admin and enrol again.
A code is accepted for the time step before and after the current one (clocks drift), and never
twice: the last accepted step is kept, and moving it forward is one conditional UPDATE.
Recovery codes are kept as keyed hashes; using one is one conditional UPDATE too.
"""

import base64
import hmac
import re
import secrets
import time
from datetime import datetime, timedelta

import pyotp
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.models import RecoveryCode, Role, User
from shop.models.accounts import new_session_token
from shop.models.types import utcnow
from shop.services import audit, keys
from shop.services.tx import atomic
from shop.services.errors import DomainError

STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstvwxyz0123456789"  # no i, l, o, u: easy to read back
ISSUER = "Solidarity Shop"
DEFAULT_REQUIRED_ROLES = ("staff", "admin")

WRONG_CODE = _l("This code is not right. Check the time on your phone and type the 6 digits shown now.")
USED_CODE = _l("This code was already used. Wait for the next one (at most 30 seconds).")


# --- Who ------------------------------------------------------------------------------------------

def required_for(user: User) -> bool:
    """Staff and admins (TWO_FACTOR_REQUIRED_ROLES) cannot sign in without a second factor."""
    roles = current_app.config.get("TWO_FACTOR_REQUIRED_ROLES", DEFAULT_REQUIRED_ROLES)
    return Role(user.role).value in roles


def offered_to(user: User) -> bool:
    return required_for(user) or Role(user.role).is_partner


# --- The secret -----------------------------------------------------------------------------------

def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(keys.derived_key("totp-secret")))


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_of(user: User) -> str:
    """The clear TOTP secret of an account that has one (enrolled or enrolling)."""
    if user.totp_secret is None:
        raise DomainError(_l("Two-step sign-in is not set up for this account."))
    try:
        return _fernet().decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:
        raise DomainError(_l("Two-step sign-in cannot be checked for this account. Ask an admin to reset it.")) from None


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def current_code(user: User, now: float | None = None) -> str:
    """The code an authenticator app shows now (demo command and tests)."""
    return pyotp.TOTP(secret_of(user)).at(now if now is not None else time.time())


# --- Enrolment ------------------------------------------------------------------------------------

# Setting up the second factor is proof of nothing by itself: whoever knows the password could set
# up their own app. So it follows a link sent to the person's mailbox (invitation, password
# reset), or happens at sign-in within a window granted by someone trusted: the operator who
# created the account on the server, or an admin who reset it.
ENROL_WINDOW = timedelta(days=3)


def allow_enrolment_at_sign_in(user: User, *, window: timedelta = ENROL_WINDOW, now: datetime | None = None) -> None:
    user.enrol_until = (now or utcnow()) + window
    db.session.flush()


def may_enrol_at_sign_in(user: User, now: datetime | None = None) -> bool:
    return user.enrol_until is not None and user.enrol_until > (now or utcnow())


def must_enrol(user: User) -> bool:
    """Whether the account cannot work before setting up its second factor."""
    return required_for(user) and not user.has_two_factor


def password_leads_on(user: User, now: datetime | None = None) -> bool:
    """Whether a right password leads on: straight in, to the second step, or to its set-up while
    the account may still do that at sign-in. Otherwise the set-up follows a link (see above)."""
    return not must_enrol(user) or may_enrol_at_sign_in(user, now)


@atomic
def start_enrolment(user: User) -> str:
    """The secret to show for enrolment: a new one, or the one shown before if not yet confirmed
    (a page reload must not change a secret already typed into an app)."""
    if user.has_two_factor:
        raise DomainError(_l("Two-step sign-in is already on for this account."))
    if user.totp_secret is not None:
        try:
            return secret_of(user)
        except DomainError:
            pass  # unreadable (SECRET_KEY changed): start again with a new one
    secret = pyotp.random_base32()  # 160 bits
    user.totp_secret = _encrypt(secret)
    user.totp_last_step = None
    db.session.flush()
    return secret


@atomic
def confirm_enrolment(user: User, code: str, now: datetime | None = None) -> list[str]:
    """Turn two-step sign-in on once a code from the app proves the secret was copied right.
    Returns the recovery codes, in clear this once."""
    now = now or utcnow()
    if user.has_two_factor:
        raise DomainError(_l("Two-step sign-in is already on for this account."))
    if user.totp_secret is None:
        raise DomainError(_l("Start again: open the set-up page."))
    _check_totp(user, code, now)
    user.totp_enabled_at = now
    user.enrol_until = None
    db.session.flush()
    codes = _new_recovery_codes(user, now)
    audit.record(user, "user.two_factor_enable", user, organisation_id=user.organisation_id)
    return codes


# --- Checking a code ------------------------------------------------------------------------------

def _digits(text: str) -> str:
    return re.sub(r"[\s-]", "", text or "")


def _check_totp(user: User, code: str, now: datetime) -> None:
    code = _digits(code)
    if not re.fullmatch(r"\d{%d}" % DIGITS, code):
        raise DomainError(WRONG_CODE, field="code")
    totp = pyotp.TOTP(secret_of(user))
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            # Taking a step is one conditional UPDATE: a code seen before (or an older one) is refused,
            # even by two requests at the same moment.
            taken = db.session.execute(
                sa.update(User)
                .where(User.id == user.id, sa.or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.expire(user, ["totp_last_step"])
            if taken != 1:
                raise DomainError(USED_CODE, field="code")
            return
    raise DomainError(WRONG_CODE, field="code")


def looks_like_totp(text: str) -> bool:
    return bool(re.fullmatch(r"\d{%d}" % DIGITS, _digits(text)))


def verify(user: User, code: str, now: datetime | None = None) -> str:
    """Check a second factor: a code from the app, or one of the recovery codes (used up).
    Returns "totp" or "recovery"; raises DomainError otherwise."""
    now = now or utcnow()
    if not user.has_two_factor:
        raise DomainError(_l("Two-step sign-in is not set up for this account."))
    if looks_like_totp(code):
        _check_totp(user, code, now)
        return "totp"
    use_recovery_code(user, code, now)
    return "recovery"


# --- Recovery codes -------------------------------------------------------------------------------

def _normalise_recovery(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def _recovery_hash(user_id: int, text: str) -> str:
    return keys.keyed_hash("recovery-code", f"{user_id}:{_normalise_recovery(text)}")


def _new_recovery_codes(user: User, now: datetime) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        body = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))  # 50 bits
        codes.append(f"{body[:5]}-{body[5:]}")
    db.session.execute(sa.insert(RecoveryCode), [
        {"user_id": user.id, "code_hash": _recovery_hash(user.id, code), "created_at": now} for code in codes
    ])
    return codes


def use_recovery_code(user: User, text: str, now: datetime | None = None) -> None:
    """Use up one recovery code: it works once, even for two requests at the same moment."""
    now = now or utcnow()
    if len(_normalise_recovery(text)) != 10:
        raise DomainError(WRONG_CODE, field="code")
    used = db.session.execute(
        sa.update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _recovery_hash(user.id, text),
               RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        raise DomainError(WRONG_CODE, field="code")
    audit.record(user, "user.recovery_code_used", user, organisation_id=user.organisation_id)


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def regenerate_recovery_codes(user: User, code: str, now: datetime | None = None) -> list[str]:
    """New recovery codes (the old ones stop working), after a fresh code from the app."""
    now = now or utcnow()
    if not user.has_two_factor:
        raise DomainError(_l("Two-step sign-in is not set up for this account."))
    _check_totp(user, code, now)
    codes = _new_recovery_codes(user, now)
    audit.record(user, "user.recovery_codes_renew", user, organisation_id=user.organisation_id)
    return codes


# --- Turning it off -------------------------------------------------------------------------------

def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


def disable(user: User, code: str, now: datetime | None = None) -> None:
    """A social worker turns two-step sign-in off; staff and admins cannot."""
    if required_for(user):
        raise DomainError(_l("Two-step sign-in is required for your account: it cannot be turned off."))
    if not user.has_two_factor:
        raise DomainError(_l("Two-step sign-in is not set up for this account."))
    verify(user, code, now)
    _clear(user)
    audit.record(user, "user.two_factor_disable", user, organisation_id=user.organisation_id)


@atomic
def reset(user: User, *, actor: User) -> None:
    """An admin removes someone's second factor (lost phone): they are signed out everywhere and
    set it up again at their next sign-in within ENROL_WINDOW (required roles) or when they wish."""
    if user.id == actor.id:
        raise DomainError(_l("You cannot reset your own two-step sign-in. Ask another admin."))
    if user.totp_secret is None:
        raise DomainError(_l("Two-step sign-in is not set up for this account."))
    _clear(user)
    user.session_token = new_session_token()
    allow_enrolment_at_sign_in(user)
    audit.record(actor, "user.two_factor_reset", user, organisation_id=user.organisation_id)
