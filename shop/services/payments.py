"""Online card payments through Stripe Checkout, and refunds.

Fulfilment happens only in the webhook, never on the success page. Every event id is stored,
so an event that arrives twice, late or out of order changes nothing twice.
"""

import logging

import sqlalchemy as sa
import stripe
from sqlalchemy.orm import joinedload
from flask import current_app
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.models import (
    EligibilityCode, Payment, PaymentChannel, PaymentIssue, PaymentIssueReason, PaymentKind, PaymentMethod,
    PaymentStatus, Reservation, StripeEvent, User,
)
from shop.models.types import utcnow
from shop.services import audit, notifications, reservations
from shop.services.errors import DomainError
from shop.services.tx import atomic

log = logging.getLogger(__name__)

# Stripe Checkout's own languages; others get Stripe's automatic choice.
STRIPE_LOCALES = {"fr": "fr", "en": "en"}
# Every price is in euros: a payment in another currency is not the one asked for.
CURRENCY = "eur"


def enabled() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def client() -> stripe.StripeClient:
    """A Stripe client; tests pass a fake HTTP client through app.extensions["stripe_http_client"],
    or a local fake Stripe server through STRIPE_API_BASE (development and tests only)."""
    base = current_app.config.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        current_app.config["STRIPE_SECRET_KEY"],
        http_client=current_app.extensions.get("stripe_http_client"),
        max_network_retries=2,
        **({"base_addresses": {"api": base.rstrip("/")}} if base else {}),
    )


@atomic
def reserve_and_checkout(code: EligibilityCode, offer_key: str, *, language: str, success_url: str,
                         cancel_url: str, actor: User | None = None, slot_id: int | None = None
                         ) -> tuple[Reservation, str]:
    """Reserve a unit for online payment and open a Stripe Checkout Session for it.

    If Stripe cannot be reached, nothing is reserved (the savepoint rolls back).
    """
    if not enabled():
        raise DomainError(_l("Online payment is not available. You can pay at the pickup point."))
    reservation = reservations.reserve(code, offer_key, method=PaymentMethod.CARD_ONLINE, actor=actor, slot_id=slot_id)
    device = reservation.device
    try:
        session = client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [{
                    "quantity": 1,
                    "price_data": {
                        "currency": CURRENCY,
                        "unit_amount": reservation.amount_cents,
                        "product_data": {"name": f"{device.brand} {device.model}"},
                    },
                }],
                "expires_at": int((reservation.created_at + reservations.CHECKOUT_LIFETIME).timestamp()),
                "client_reference_id": str(reservation.id),
                "metadata": {"reservation_id": str(reservation.id), "reservation_number": reservation.number},
                "payment_intent_data": {"metadata": {"reservation_id": str(reservation.id)}},
                "locale": STRIPE_LOCALES.get(language, "auto"),
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            options={"idempotency_key": f"checkout-{reservation.id}-{reservation.number}"},
        )
    except stripe.StripeError:
        log.exception("Stripe checkout could not be created for reservation %s", reservation.id)
        raise DomainError(_l("Online payment is not available right now. You can choose to pay at the pickup point.")) from None
    reservation.stripe_session_id = session.id
    db.session.flush()
    return reservation, session.url


@atomic
def cancel_and_refund(reservation: Reservation, *, reason: str, actor: User | None = None,
                      now=None) -> None:
    """Cancel before pickup (see reservations.cancel); what was paid online goes back to the card."""
    refund_cents = reservations.cancel(reservation, reason=reason, actor=actor, now=now)
    if refund_cents:
        refund(reservation, refund_cents, actor=actor)


def refund(reservation: Reservation, amount_cents: int, *, actor: User | None = None) -> Payment | None:
    """Refund an online payment through Stripe; recorded as done, or as pending if Stripe fails."""
    if amount_cents <= 0:
        return None
    paid = db.session.scalar(
        sa.select(Payment).where(Payment.reservation_id == reservation.id, Payment.kind == PaymentKind.PAYMENT,
                                 Payment.channel == PaymentChannel.STRIPE, Payment.status == PaymentStatus.DONE)
    )
    if paid is None:
        return None
    pending = db.session.scalar(
        sa.select(Payment).where(Payment.reservation_id == reservation.id, Payment.kind == PaymentKind.REFUND,
                                 Payment.provider_reference == paid.provider_reference)
    )
    if pending is not None and pending.status == PaymentStatus.DONE:
        return pending
    if pending is None:
        pending = Payment(reservation_id=reservation.id, kind=PaymentKind.REFUND, channel=PaymentChannel.STRIPE,
                          status=PaymentStatus.PENDING, amount_cents=amount_cents,
                          provider_reference=paid.provider_reference, recorded_by_id=getattr(actor, "id", None))
        db.session.add(pending)
    try:
        result = client().v1.refunds.create(
            params={"payment_intent": paid.provider_reference, "amount": amount_cents},
            options={"idempotency_key": f"refund-{reservation.id}-{paid.provider_reference}"},
        )
    except stripe.StripeError:
        log.exception("Stripe refund failed for reservation %s", reservation.id)
        pending.note = "Stripe refund failed; to retry"
    else:
        pending.status = PaymentStatus.DONE
        pending.note = f"stripe refund {result.id}"
    db.session.flush()
    audit.record(actor, "payment.refund", reservation, organisation_id=reservation.organisation_id,
                 amount_cents=amount_cents, status=pending.status.value)
    return pending


# --- Webhook ----------------------------------------------------------------------------------

class BadWebhook(Exception):
    """The request is not a genuine Stripe event (bad signature or body)."""


def _reservation_for(session) -> Reservation | None:
    """The reservation whose checkout this is: only the session id the shop stored for it counts.
    What else the event says (metadata, client_reference_id) is not trusted to name a reservation."""
    session_id = session.get("id")
    if not isinstance(session_id, str) or not session_id:
        return None
    return db.session.scalar(sa.select(Reservation).where(Reservation.stripe_session_id == session_id))


def _on_completed(session, event_id: str) -> str:
    reservation = _reservation_for(session)
    if session.get("payment_status") != "paid":
        return "unknown reservation" if reservation is None else "not paid yet"
    amount, currency = session.get("amount_total"), session.get("currency")
    if reservation is None:
        return _payment_issue(session, event_id, None, PaymentIssueReason.UNKNOWN_SESSION)
    if not isinstance(currency, str) or currency.lower() != CURRENCY:
        return _payment_issue(session, event_id, reservation, PaymentIssueReason.WRONG_CURRENCY)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount != reservation.amount_cents:
        return _payment_issue(session, event_id, reservation, PaymentIssueReason.WRONG_AMOUNT)
    reference = session.get("payment_intent") or session.get("id")
    outcome = reservations.record_online_payment(reservation, amount_cents=amount, reference=reference)
    if outcome == "refund_due":
        refund(reservation, amount)
    elif outcome == "confirmed":
        notifications.reservation_confirmed(reservation)
    return outcome


def _payment_issue(session, event_id: str, reservation: Reservation | None, reason: PaymentIssueReason) -> str:
    """A paid checkout that is not the one asked for: record it for admins, confirm nothing, and
    give any money taken back in full. Once per Stripe payment, whichever events report it."""
    reference = session.get("payment_intent")
    reference = reference if isinstance(reference, str) and 0 < len(reference) <= 255 else None
    if reference is not None and db.session.scalar(
            sa.select(PaymentIssue.id).where(PaymentIssue.payment_reference == reference)) is not None:
        return "duplicate"
    amount, currency, session_id = session.get("amount_total"), session.get("currency"), session.get("id")
    issue = PaymentIssue(
        stripe_event_id=event_id, reservation_id=getattr(reservation, "id", None), reason=reason,
        session_id=session_id[:255] if isinstance(session_id, str) else None, payment_reference=reference,
        amount_cents=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        currency=currency.lower()[:3] if isinstance(currency, str) and currency.isalpha() else None,
    )
    db.session.add(issue)
    db.session.flush()  # the unique payment reference: a concurrent event for it stops here
    if reference is not None:
        try:
            result = client().v1.refunds.create(params={"payment_intent": reference},
                                                options={"idempotency_key": f"payment-issue-refund-{reference}"})
        except stripe.StripeError:
            log.exception("Stripe refund failed for payment issue %s", issue.id)
            issue.refund_status = PaymentStatus.PENDING
        else:
            issue.refund_status, issue.refund_reference = PaymentStatus.DONE, result.id
        db.session.flush()
    log.warning("Payment issue %s (%s) for Stripe session %s", issue.id, reason.value, issue.session_id)
    audit.record(None, "payment.issue", issue, organisation_id=getattr(reservation, "organisation_id", None),
                 reason=reason.value, refund=getattr(issue.refund_status, "value", None))
    return f"payment issue: {reason.value}"


def _on_expired(session, event_id: str) -> str:
    reservation = _reservation_for(session)
    if reservation is None:
        return "unknown reservation"
    return "released" if reservations.end_unpaid_checkout(reservation) else "nothing to do"


def payment_issues(limit: int = 200) -> list[PaymentIssue]:
    """The newest payment issues, for admins."""
    return list(db.session.scalars(
        sa.select(PaymentIssue).options(joinedload(PaymentIssue.reservation))
        .order_by(PaymentIssue.created_at.desc(), PaymentIssue.id.desc()).limit(limit)))


HANDLERS = {
    "checkout.session.completed": _on_completed,
    "checkout.session.async_payment_succeeded": _on_completed,
    "checkout.session.expired": _on_expired,
}


def handle_webhook(payload: bytes, signature: str | None) -> str:
    """Verify, record and process one event, once. Raises BadWebhook on a forged request."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise BadWebhook("webhook secret not configured")
    try:
        event = stripe.Webhook.construct_event(payload, signature or "", secret)
        event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]
    except (ValueError, TypeError, AttributeError, KeyError, stripe.SignatureVerificationError) as error:
        # A body that is not a Stripe event object (even a correctly signed one) is refused, never a 500.
        raise BadWebhook(str(error)) from None
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 255 and isinstance(event_type, str)
            and isinstance(obj, dict)):
        raise BadWebhook("not a Stripe event")
    try:
        with db.session.begin_nested():
            db.session.add(StripeEvent(id=event_id, type=event_type[:100], received_at=utcnow()))
    except sa.exc.IntegrityError:
        return "duplicate"
    handler = HANDLERS.get(event_type)
    try:
        with db.session.begin_nested():
            outcome = handler(obj, event_id) if handler else "ignored"
    except sa.exc.IntegrityError:
        # Another event for the same payment (a second "completed", "async_payment_succeeded")
        # was processed at the same instant and recorded it first: this one is a duplicate.
        outcome = "duplicate"
    stored = db.session.get(StripeEvent, event_id)
    stored.outcome = outcome[:60]
    db.session.flush()
    return outcome
