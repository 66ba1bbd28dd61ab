"""The outbox: every message the shop sends, written in the transaction of the change it reports."""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.types import LabelledEnum, UTCDateTime, enum_column, utcnow


class Channel(LabelledEnum):
    EMAIL = "email", _l("E-mail")
    SMS = "sms", _l("Text message")


class MessageStatus(LabelledEnum):
    QUEUED = "queued", _l("Waiting to be sent")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Failed")
    CANCELLED = "cancelled", _l("Not sent (consent withdrawn)")


class Message(db.Model):
    """One message to one address on one channel; delivered by the dispatcher after the commit.

    `next_attempt_at` is both the retry time and the claim: a dispatcher that takes a message moves
    it forward (a lease), so no other dispatcher sends it meanwhile.
    """

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("dedupe_key", "channel", name="uq_messages_dedupe_key_channel"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.CheckConstraint("status != 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        sa.CheckConstraint("(beneficiary_id IS NULL) OR (user_id IS NULL)", name="one_recipient"),
        # The dispatcher's scan: what is queued, by due time.
        sa.Index("ix_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "message_channel"))
    address: Mapped[str] = mapped_column(sa.String(254))  # e-mail address, or phone in E.164
    beneficiary_id: Mapped[int | None] = mapped_column(sa.ForeignKey("beneficiaries.id", ondelete="CASCADE"),
                                                       index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(sa.String(8))
    template: Mapped[str] = mapped_column(sa.String(40))
    values: Mapped[dict] = mapped_column(sa.JSON)
    about_type: Mapped[str | None] = mapped_column(sa.String(40))
    about_id: Mapped[int | None] = mapped_column(sa.Integer)
    dedupe_key: Mapped[str] = mapped_column(sa.String(120))
    status: Mapped[MessageStatus] = mapped_column(enum_column(MessageStatus, "message_status"),
                                                  default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(sa.String(80))
