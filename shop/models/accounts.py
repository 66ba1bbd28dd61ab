"""Accounts of social workers, partner admins, staff and admins; one-time links; the audit log."""

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.partners import Organisation
from shop.models.types import LabelledEnum, UTCDateTime, enum_column, utcnow


class Role(LabelledEnum):
    SOCIAL_WORKER = "social_worker", _l("Social worker")
    PARTNER_ADMIN = "partner_admin", _l("Partner admin")
    STAFF = "staff", _l("Staff")
    ADMIN = "admin", _l("Admin")

    @property
    def is_partner(self) -> bool:
        return self in (Role.SOCIAL_WORKER, Role.PARTNER_ADMIN)

    @property
    def manages_team(self) -> bool:
        """A partner admin manages the social workers of their structure."""
        return self == Role.PARTNER_ADMIN


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "(role IN ('social_worker', 'partner_admin')) = (organisation_id IS NOT NULL)",
            name="partner_roles_have_organisation",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    pickup_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pickup_points.id"))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Rotated on sign-out and password change: every older session cookie stops working.
    session_token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Two-factor sign-in (TOTP): the secret is stored encrypted (shop/services/twofactor.py); it
    # is set at enrolment and counts only once confirmed (totp_enabled_at). The last accepted
    # time step refuses a code seen before.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Until when the account may set up its second factor right after signing in with its
    # password alone (granted by whoever created it on the server, or by an admin's reset).
    # Otherwise set-up follows a link sent to the person's mailbox (invitation, password reset).
    enrol_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation | None] = relationship()

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:
        if not self.active or self.password_hash is None:
            return False
        if self.role.is_partner:
            return self.organisation is not None and self.organisation.is_active
        return True


class TokenPurpose(LabelledEnum):
    INVITATION = "invitation", _l("Invitation")
    PASSWORD_RESET = "password_reset", _l("Password reset")


class OneTimeToken(db.Model):
    """A single-use, expiring link (invitation, password reset), stored as a hash."""

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(enum_column(TokenPurpose, "token_purpose"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """A single-use code to sign in when the authenticator app is lost, stored as a keyed hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(db.Model):
    """Who did or saw what, when. Details never hold a beneficiary's personal data."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(60))
    target_type: Mapped[str | None] = mapped_column(sa.String(40))
    target_id: Mapped[int | None]
    details: Mapped[str | None] = mapped_column(sa.String(500))

    actor: Mapped[User | None] = relationship()
