"""Tokens of the HTTP API (refurbishers, donors, partner structures) and stored POST answers."""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.types import LabelledEnum, UTCDateTime, enum_column, utcnow


class ApiRole(LabelledEnum):
    REFURBISHER = "refurbisher", _l("Refurbisher")
    DONOR = "donor", _l("Donor")
    PARTNER = "partner", _l("Partner structure")


api_token_donors = sa.Table(
    "api_token_donors", db.metadata,
    sa.Column("token_id", sa.ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("donor_id", sa.ForeignKey("donors.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ApiToken(db.Model):
    """One role, one scope: the donors of a refurbisher or a donor, or one partner structure.
    Stored as a SHA-256 hash (the token is 256 random bits: no slow hash needed); shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        sa.CheckConstraint("(role = 'partner') = (organisation_id IS NOT NULL)", name="partner_has_organisation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))  # the first characters, to recognise it in a list
    role: Mapped[ApiRole] = mapped_column(enum_column(ApiRole, "api_role"))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optional, refurbishers: where to POST a signed notice when one of their devices is sold,
    # withdrawn or recycled; the signing secret is stored encrypted (shown once, like the token).
    webhook_url: Mapped[str | None] = mapped_column(sa.String(500))
    webhook_secret: Mapped[str | None] = mapped_column(sa.String(255))

    donors = relationship("Donor", secondary=api_token_donors, order_by="Donor.name")
    organisation = relationship("Organisation")

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class IdempotentRequest(db.Model):
    """A POST made with an Idempotency-Key, and the answer it got: a retry gets the same answer.
    The unique key makes two requests sent at once create one thing (the second waits, then reads)."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (sa.UniqueConstraint("token_id", "key", name="uq_api_idempotent_requests_token_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("api_tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(200))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))  # method, path and body, hashed
    status_code: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookStatus(LabelledEnum):
    QUEUED = "queued", _l("Queued")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Failed")


class WebhookDelivery(db.Model):
    """One notice to a token holder's URL, written in the transaction of the change it reports and
    POSTed after the commit, with retries. One per token and recorded change of the device (a
    unique key): a device sold again after a return is announced again, a replay never twice."""

    __tablename__ = "api_webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("token_id", "device_event_id", name="uq_api_webhook_deliveries_token_device_event"),
        sa.Index("ix_api_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("api_tokens.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(sa.String(30))
    # The device's history row of the change announced (none for notices queued before it existed).
    device_event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("device_events.id", ondelete="CASCADE"))
    payload: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[WebhookStatus] = mapped_column(enum_column(WebhookStatus, "webhook_status"),
                                                  default=WebhookStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
