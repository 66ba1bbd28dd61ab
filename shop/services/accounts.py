"""Accounts: invitations, sign-in, password reset and change, session invalidation."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.models import OneTimeToken, Organisation, Role, TokenPurpose, User
from shop.models.accounts import new_session_token
from shop.models.types import utcnow
from shop.services import audit, keys, notifications, passwords
from shop.services.tx import atomic
from shop.services.errors import DomainError

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=2)


def normalise_email(text: str) -> str:
    """A valid address, lower-cased; DomainError otherwise."""
    try:
        return validate_email((text or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise DomainError(_l("This e-mail address is not valid."), field="email") from None


_hash = keys.token_hash


def _new_token(user: User, purpose: TokenPurpose, lifetime: timedelta, now: datetime) -> str:
    raw, hashed = keys.new_token()
    db.session.add(OneTimeToken(token_hash=hashed, user_id=user.id, purpose=purpose, created_at=now,
                                expires_at=now + lifetime))
    db.session.flush()
    return raw


def can_invite(inviter: User, role: Role, organisation: Organisation | None) -> bool:
    """Admins invite anyone; a partner admin invites social workers of their own structure."""
    if inviter.role == Role.ADMIN:
        return True
    return (
        inviter.role == Role.PARTNER_ADMIN
        and role == Role.SOCIAL_WORKER
        and organisation is not None
        and organisation.id == inviter.organisation_id
    )


def invite(
    *, email: str, name: str, role: Role, inviter: User | None, organisation: Organisation | None = None,
    pickup_point_id: int | None = None, now: datetime | None = None,
) -> tuple[User, str]:
    """Create an account without a password, queue its invitation, return (user, single-use token)."""
    now = now or utcnow()
    email = normalise_email(email)
    role = Role(role)
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("Please enter a name."))
    if role.is_partner and organisation is None:
        raise DomainError(_l("Choose the structure this person works for."))
    if not role.is_partner:
        organisation = None
    if inviter is not None and not can_invite(inviter, role, organisation):
        raise DomainError(_l("You cannot invite this kind of account."))
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise DomainError(_l("An account already exists with this e-mail address."), field="email")
    user = User(email=email, name=name[:120], role=role, organisation_id=organisation.id if organisation else None,
                pickup_point_id=pickup_point_id, password_hash=None)
    db.session.add(user)
    db.session.flush()
    token = _new_token(user, TokenPurpose.INVITATION, INVITATION_LIFETIME, now)
    audit.record(inviter, "user.invite", user, organisation_id=user.organisation_id, role=role.value)
    notifications.invitation(user, token, inviter=inviter)
    return user, token


@atomic
def create_user(*, email: str, name: str, role: Role, password: str, organisation: Organisation | None = None,
                pickup_point_id: int | None = None, check_policy: bool = True) -> User:
    """Create an account with a password straight away (command line and demo data)."""
    email = normalise_email(email)
    role = Role(role)
    if role.is_partner and organisation is None:
        raise DomainError(_l("Choose the structure this person works for."))
    if check_policy:
        passwords.check_policy(password, email=email)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise DomainError(_l("An account already exists with this e-mail address."))
    user = User(email=email, name=name, role=Role(role), organisation_id=organisation.id if organisation else None,
                pickup_point_id=pickup_point_id, password_hash=passwords.hash_password(password))
    db.session.add(user)
    db.session.flush()
    return user


def token_user(raw: str, purpose: TokenPurpose, now: datetime | None = None) -> User | None:
    """The account a link is for, if the link is genuine, unused and not expired."""
    now = now or utcnow()
    token = db.session.scalar(
        sa.select(OneTimeToken).where(OneTimeToken.token_hash == _hash(raw or ""), OneTimeToken.purpose == purpose)
    )
    if token is None or token.used_at is not None or token.expires_at <= now:
        return None
    return token.user


def use_token(raw: str, purpose: TokenPurpose, password: str, now: datetime | None = None) -> User:
    """Set a password through a one-time link; the link works once, atomically."""
    now = now or utcnow()
    user = token_user(raw, purpose, now)
    if user is None:
        raise DomainError(_l("This link is not valid any more. Ask for a new one."))
    passwords.check_policy(password, email=user.email)
    result = db.session.execute(
        sa.update(OneTimeToken)
        .where(OneTimeToken.token_hash == _hash(raw), OneTimeToken.used_at.is_(None), OneTimeToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise DomainError(_l("This link is not valid any more. Ask for a new one."))
    user.password_hash = passwords.hash_password(password)
    user.session_token = new_session_token()
    _retire_links(user, now)
    db.session.flush()
    audit.record(user, "user.password_set", user, organisation_id=user.organisation_id, via=purpose.value)
    return user


def _retire_links(user: User, now: datetime) -> None:
    """Once a password is set or changed, every other link sent to this account stops working."""
    db.session.execute(
        sa.update(OneTimeToken).where(OneTimeToken.user_id == user.id, OneTimeToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )


def authenticate(email: str, password: str, now: datetime | None = None) -> User | None:
    """The account for these credentials, or None, doing the same work whether or not it exists."""
    try:
        email = normalise_email(email)
    except DomainError:
        passwords.verify(None, password or "")
        return None
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        passwords.verify(None, password or "")
        return None
    if not passwords.verify(user.password_hash, password or "") or not user.is_active:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = now or utcnow()
    audit.record(user, "user.sign_in", user, organisation_id=user.organisation_id)
    return user


def request_password_reset(email: str, now: datetime | None = None) -> tuple[User, str] | None:
    """Queue a reset link to an active account with this address and return (user, token); None otherwise."""
    try:
        email = normalise_email(email)
    except DomainError:
        return None
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None or not user.active or user.password_hash is None:
        return None
    token = _new_token(user, TokenPurpose.PASSWORD_RESET, RESET_LIFETIME, now or utcnow())
    notifications.password_reset(user, token)
    return user, token


@atomic
def change_password(user: User, current: str, new: str) -> None:
    """Change a password after checking the current one; other sessions are signed out."""
    if not passwords.verify(user.password_hash, current or ""):
        raise DomainError(_l("Your current password is not right."), field="current")
    passwords.check_policy(new, email=user.email)
    user.password_hash = passwords.hash_password(new)
    user.session_token = new_session_token()
    _retire_links(user, utcnow())
    db.session.flush()
    audit.record(user, "user.password_change", user, organisation_id=user.organisation_id)


def end_sessions(user: User) -> None:
    """Sign out everywhere: every existing session and remember cookie stops working."""
    user.session_token = new_session_token()
    db.session.flush()


def load_by_session_token(token: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.session_token == token))


def may_switch(actor: User, user: User) -> bool:
    """Whether `actor` may deactivate (or reactivate) `user`: what `set_active` allows."""
    return user.id != actor.id and can_invite(actor, user.role, user.organisation)


@atomic
def set_active(user: User, active: bool, *, actor: User) -> None:
    """Admins (de)activate anyone; a partner admin, the social workers of their own structure."""
    if user.id == actor.id and not active:
        raise DomainError(_l("You cannot deactivate your own account."))
    if not can_invite(actor, user.role, user.organisation):
        raise DomainError(_l("You cannot change this account."))
    user.active = active
    user.session_token = new_session_token()
    db.session.flush()
    audit.record(actor, "user.activate" if active else "user.deactivate", user, organisation_id=user.organisation_id)
