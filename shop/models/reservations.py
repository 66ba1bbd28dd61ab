"""Reservations of one device with one eligibility code, their payments, and Stripe events."""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.catalog import PickupPoint
from shop.models.partners import Beneficiary, EligibilityCode
from shop.models.slots import PickupSlot  # noqa: F401  (named in a relationship)
from shop.models.stock import Device
from shop.models.types import LabelledEnum, UTCDateTime, all_of, enum_column, one_of, utcnow


class ReservationStatus(LabelledEnum):
    PENDING_PAYMENT = "pending_payment", _l("Waiting for online payment")
    CONFIRMED = "confirmed", _l("Confirmed: being prepared")
    READY = "ready", _l("Ready for pickup")
    PICKED_UP = "picked_up", _l("Picked up")
    CANCELLED = "cancelled", _l("Cancelled")
    EXPIRED = "expired", _l("Expired")
    # Confirmed, but nobody came: the slot (plus a grace period) or the pickup deadline passed.
    MISSED = "missed", _l("Missed: not picked up")


ACTIVE_STATUSES = ("pending_payment", "confirmed", "ready")
AWAITING_PICKUP = ("confirmed", "ready")
_ACTIVE_SQL = "status IN ('pending_payment', 'confirmed', 'ready')"


class PaymentMethod(LabelledEnum):
    COUNTER = "counter", _l("At the pickup point")
    CARD_ONLINE = "card_online", _l("Online by card")


class Reservation(db.Model):
    """One unit held for one person with one code.

    The database holds the invariants: at most one active reservation per device and per code,
    and at most one reservation per code that is active or picked up (a code buys once).
    """

    __tablename__ = "reservations"
    __table_args__ = (
        sa.Index("uq_reservations_active_device", "device_id", unique=True,
                 sqlite_where=sa.text(_ACTIVE_SQL), postgresql_where=sa.text(_ACTIVE_SQL)),
        sa.Index("uq_reservations_live_code", "code_id", unique=True,
                 sqlite_where=sa.text("status IN ('pending_payment', 'confirmed', 'ready', 'picked_up')"),
                 postgresql_where=sa.text("status IN ('pending_payment', 'confirmed', 'ready', 'picked_up')")),
        sa.Index("uq_reservations_active_pickup_code", "pickup_code", unique=True,
                 sqlite_where=sa.text(_ACTIVE_SQL), postgresql_where=sa.text(_ACTIVE_SQL)),
        sa.Index("ix_reservations_status_held_until", "status", "held_until"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        sa.CheckConstraint("paid_cents >= 0 AND paid_cents <= amount_cents", name="paid_within_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(12), unique=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id"), index=True)
    code_id: Mapped[int] = mapped_column(sa.ForeignKey("eligibility_codes.id"), index=True)
    beneficiary_id: Mapped[int] = mapped_column(sa.ForeignKey("beneficiaries.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    pickup_point_id: Mapped[int] = mapped_column(sa.ForeignKey("pickup_points.id"), index=True)
    status: Mapped[ReservationStatus] = mapped_column(enum_column(ReservationStatus, "reservation_status"))
    payment_method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod, "payment_method"))
    amount_cents: Mapped[int]
    paid_cents: Mapped[int] = mapped_column(default=0)
    pickup_code: Mapped[str] = mapped_column(sa.String(6))
    # Until when the unit is held: the online-payment hold, then the pickup deadline.
    held_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    stripe_session_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    # The pickup time chosen, if any (services/slots.py keeps pickup_slots.booked in step).
    slot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pickup_slots.id"), index=True)

    device: Mapped[Device] = relationship()
    code: Mapped[EligibilityCode] = relationship()
    beneficiary: Mapped[Beneficiary] = relationship()
    pickup_point: Mapped[PickupPoint] = relationship()
    slot: Mapped["PickupSlot | None"] = relationship()
    payments: Mapped[list["Payment"]] = relationship(back_populates="reservation", order_by="Payment.id")

    # Each rule below is one expression, for a loaded reservation and in SQL alike
    # (`Reservation.is_running(now)` in a WHERE clause).
    @hybrid_method
    def is_running(self, now: datetime | None = None):
        """Waiting for payment, being prepared or ready, and not past `held_until`: it holds its
        unit and can be cancelled."""
        return all_of(one_of(self.status, ACTIVE_STATUSES), self.held_until > (now or utcnow()))

    @hybrid_method
    def awaits_pickup(self, now: datetime | None = None):
        """Confirmed or ready, and not past its pickup deadline."""
        return all_of(one_of(self.status, AWAITING_PICKUP), self.held_until > (now or utcnow()))

    def state(self, now: datetime | None = None) -> ReservationStatus:
        """What the reservation is now: an active one past `held_until` has expired, job or not."""
        if self.status.value in ACTIVE_STATUSES and not self.is_running(now):
            if self.status == ReservationStatus.PENDING_PAYMENT:
                return ReservationStatus.EXPIRED
            return ReservationStatus.MISSED
        return self.status

    def holds_code(self, now: datetime | None = None) -> bool:
        """Running or picked up: its code cannot reserve anything else."""
        return self.is_running(now) or self.status == ReservationStatus.PICKED_UP

    @property
    def amount_due_cents(self) -> int:
        return self.amount_cents - self.paid_cents


class PaymentKind(LabelledEnum):
    PAYMENT = "payment", _l("Payment")
    REFUND = "refund", _l("Refund")


class PaymentChannel(LabelledEnum):
    CASH = "cash", _l("Cash")
    CARD_TERMINAL = "card_terminal", _l("Card terminal")
    CHEQUE = "cheque", _l("Cheque")
    STRIPE = "stripe", _l("Online by card")


class PaymentStatus(LabelledEnum):
    DONE = "done", _l("Done")
    PENDING = "pending", _l("To do")
    FAILED = "failed", _l("Failed")


class Payment(db.Model):
    """Money in (payment) or out (refund) for a reservation; amounts in cents."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.UniqueConstraint("provider_reference", "kind", name="uq_payments_provider_reference_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservation_id: Mapped[int] = mapped_column(sa.ForeignKey("reservations.id"), index=True)
    kind: Mapped[PaymentKind] = mapped_column(enum_column(PaymentKind, "payment_kind"))
    channel: Mapped[PaymentChannel] = mapped_column(enum_column(PaymentChannel, "payment_channel"))
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus, "payment_status"))
    amount_cents: Mapped[int]
    provider_reference: Mapped[str | None] = mapped_column(sa.String(255))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reservation: Mapped[Reservation] = relationship(back_populates="payments")


class StripeEvent(db.Model):
    """Every Stripe event id seen, so that a replayed event changes nothing twice."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str | None] = mapped_column(sa.String(60))


class PaymentIssueReason(LabelledEnum):
    UNKNOWN_SESSION = "unknown_session", _l("Not a checkout the shop opened")
    WRONG_AMOUNT = "wrong_amount", _l("Not the amount asked")
    WRONG_CURRENCY = "wrong_currency", _l("Not in euros")


class PaymentIssue(db.Model):
    """A card payment Stripe reported that is not the one the shop asked for (another checkout
    session, another amount or currency). It confirms nothing; money taken goes back to the card
    (refund_status: done, or pending to retry; none when nothing was taken); admins see the list."""

    __tablename__ = "payment_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_event_id: Mapped[str] = mapped_column(sa.String(255))
    session_id: Mapped[str | None] = mapped_column(sa.String(255))
    # The Stripe payment (PaymentIntent): one issue per payment, however many events name it.
    payment_reference: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    reservation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reservations.id"), index=True)
    reason: Mapped[PaymentIssueReason] = mapped_column(enum_column(PaymentIssueReason, "payment_issue_reason"))
    amount_cents: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    refund_status: Mapped[PaymentStatus | None] = mapped_column(enum_column(PaymentStatus, "payment_issue_refund_status"))
    refund_reference: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    reservation: Mapped[Reservation | None] = relationship()
