"""Stripe, fully offline: a fake HTTP client and webhooks signed here, verified by the real
stripe.Webhook.construct_event path."""

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shop.models import (
    DeviceStatus, Payment, PaymentKind, PaymentStatus, Reservation, ReservationStatus, StripeEvent,
)
from shop.models.types import utcnow
from shop.services import payments, reservations
from tests import factories
from tests.stripe_fake import (
    WEBHOOK_SECRET, FakeStripeHTTP, completed_session, event, expired_session, param, sign,
)

R = ReservationStatus


@pytest.fixture
def stripe_http(app, db):
    fake = FakeStripeHTTP()
    app.extensions["stripe_http_client"] = fake
    old = {k: app.config[k] for k in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")}
    app.config.update(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    yield fake
    app.config.update(old)
    app.extensions.pop("stripe_http_client", None)


def _checkout(db, language="fr"):
    device = factories.device(price_cents=9000)
    code, _ = factories.code()
    reservation, url = payments.reserve_and_checkout(code, device.offer_key, language=language,
                                                     success_url="http://shop/ok", cancel_url="http://shop/ko")
    db.session.commit()
    return reservation, url, device


def _post(client, payload: bytes, signature: str | None = None):
    headers = {"Content-Type": "application/json"}
    headers["Stripe-Signature"] = signature if signature is not None else sign(payload)
    return client.post("/payments/stripe/webhook", data=payload, headers=headers)


def test_checkout_session_is_created_with_amount_locale_expiry_and_idempotency(db, stripe_http):
    reservation, url, _ = _checkout(db, language="fr")
    request = stripe_http.requests[0]
    assert request["url"].endswith("/v1/checkout/sessions")
    assert param(request, "line_items[0][price_data][unit_amount]") == "9000"
    assert param(request, "line_items[0][price_data][currency]") == "eur"
    assert param(request, "locale") == "fr"
    assert param(request, "metadata[reservation_id]") == str(reservation.id)
    expires_at = int(param(request, "expires_at"))
    assert 30 * 60 <= expires_at - int(reservation.created_at.timestamp()) <= 35 * 60
    assert request["headers"]["Idempotency-Key"].startswith("checkout-")
    assert url.startswith("https://checkout.stripe.test/")
    assert reservation.status == R.PENDING_PAYMENT and reservation.stripe_session_id == "cs_test_1"


def test_arabic_uses_stripes_automatic_locale(db, stripe_http):
    _checkout(db, language="ar")
    assert param(stripe_http.requests[0], "locale") == "auto"


def test_stripe_down_means_nothing_is_reserved(db, stripe_http):
    stripe_http.fail_with = 500
    device = factories.device()
    code, _ = factories.code()
    with pytest.raises(Exception):
        payments.reserve_and_checkout(code, device.offer_key, language="fr", success_url="x", cancel_url="y")
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 0
    db.session.refresh(device)
    assert device.status == DeviceStatus.LISTED


def test_completed_event_confirms_once_even_if_sent_twice(client, db, stripe_http):
    reservation, _, device = _checkout(db)
    payload = event("evt_1", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000))
    first, second = _post(client, payload), _post(client, payload)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json["outcome"] == "duplicate"
    db.session.commit()  # end the test's read snapshot: see what the requests wrote
    reservation = db.session.get(Reservation, reservation.id)
    assert reservation.status == R.CONFIRMED and reservation.paid_cents == 9000
    assert reservation.held_until > utcnow() + timedelta(days=13)
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 1


def test_same_payment_in_two_different_events_is_recorded_once(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    obj = completed_session("cs_test_1", reservation.id, 9000)
    assert _post(client, event("evt_a", "checkout.session.completed", obj)).json["outcome"] == "confirmed"
    assert _post(client, event("evt_b", "checkout.session.completed", obj)).json["outcome"] == "duplicate"
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 1


def test_expired_event_releases_the_unit_and_the_code(client, db, stripe_http):
    reservation, _, device = _checkout(db)
    response = _post(client, event("evt_2", "checkout.session.expired", expired_session("cs_test_1", reservation.id)))
    assert response.json["outcome"] == "released"
    db.session.commit()  # end the test's read snapshot: see what the requests wrote
    assert db.session.get(Reservation, reservation.id).status == R.EXPIRED
    assert db.session.get(type(device), device.id).status == DeviceStatus.LISTED


def test_out_of_order_expired_after_completed_changes_nothing(client, db, stripe_http):
    reservation, _, device = _checkout(db)
    _post(client, event("evt_3", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000)))
    response = _post(client, event("evt_4", "checkout.session.expired", expired_session("cs_test_1", reservation.id)))
    assert response.json["outcome"] == "nothing to do"
    db.session.commit()  # end the test's read snapshot: see what the requests wrote
    assert db.session.get(Reservation, reservation.id).status == R.CONFIRMED
    assert db.session.get(type(device), device.id).status == DeviceStatus.RESERVED


def test_payment_arriving_after_the_unit_went_to_someone_else_is_refunded(client, db, stripe_http):
    reservation, _, device = _checkout(db)
    other_code, _ = factories.code()
    later = utcnow() + timedelta(hours=1)
    reservations.reserve(other_code, device.offer_key, method="counter", now=later)
    db.session.commit()
    response = _post(client, event("evt_5", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000)))
    assert response.json["outcome"] == "refund_due"
    refund = db.session.scalar(sa.select(Payment).where(Payment.kind == PaymentKind.REFUND))
    assert refund.status == PaymentStatus.DONE and refund.amount_cents == 9000
    assert stripe_http.requests[-1]["url"].endswith("/v1/refunds")
    db.session.commit()  # end the test's read snapshot: see what the requests wrote
    assert db.session.get(Reservation, reservation.id).status == R.EXPIRED


def test_late_payment_while_the_unit_is_still_free_confirms(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    # Hold passed by the clock, but nobody took the unit and no job ran: still this person's.
    db.session.execute(sa.update(Reservation).where(Reservation.id == reservation.id)
                       .values(held_until=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    response = _post(client, event("evt_6", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000)))
    assert response.json["outcome"] == "confirmed"


@pytest.mark.parametrize(
    "signature",
    ["", "t=1,v1=deadbeef", "garbage", None],
)
def test_bad_signatures_are_refused_with_400(client, db, stripe_http, signature):
    reservation, _, _ = _checkout(db)
    payload = event("evt_7", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000))
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    response = client.post("/payments/stripe/webhook", data=payload, headers=headers)
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(StripeEvent.id))) == 0


def test_tampered_body_is_refused(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    payload = event("evt_8", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000))
    signature = sign(payload)
    tampered = payload.replace(b"9000", b"1")
    assert _post(client, tampered, signature).status_code == 400


def test_stale_signature_is_refused(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    payload = event("evt_9", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000))
    assert _post(client, payload, sign(payload, timestamp=int(time.time()) - 3600)).status_code == 400


def test_wrong_secret_is_refused(client, db, stripe_http):
    payload = event("evt_10", "checkout.session.completed", {"id": "cs_x"})
    assert _post(client, payload, sign(payload, secret="whsec_other")).status_code == 400


def test_body_that_is_not_json_is_refused(client, db, stripe_http):
    payload = b"this is not json"
    assert _post(client, payload).status_code == 400


def test_unknown_event_types_are_acknowledged_and_ignored(client, db, stripe_http):
    response = _post(client, event("evt_11", "customer.created", {"id": "cus_1"}))
    assert response.status_code == 200 and response.json["outcome"] == "ignored"


def test_webhook_needs_no_csrf_token(app, client, db, stripe_http):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = _post(client, event("evt_12", "customer.created", {"id": "cus_1"}))
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 200


def _crash(*args, **kwargs):
    raise RuntimeError("worker killed")


# Where processing dies: before anything is written, after the payment row and the confirmation are
# written (flushed, not committed), and at the very end while notifying the person.
CRASH_POINTS = {
    "before recording": lambda monkeypatch: monkeypatch.setattr(reservations, "record_online_payment", _crash),
    "after the payment row is written": lambda monkeypatch: monkeypatch.setattr(
        reservations.audit, "record", lambda *a, **k: (db_flush(), _crash())),
    "while notifying": lambda monkeypatch: monkeypatch.setattr(payments.notifications, "reservation_confirmed", _crash),
}


def db_flush():
    from shop.extensions import db

    db.session.flush()
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 1  # written, in this transaction


def _paid_online_entries(db) -> int:
    from shop.models import AuditEntry

    return db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "reservation.paid_online"))


@pytest.mark.parametrize("crash_point", CRASH_POINTS)
def test_a_failure_while_processing_leaves_no_trace_and_the_replay_completes_once(
        app, client, db, stripe_http, monkeypatch, crash_point):
    reservation, _, _ = _checkout(db)
    payload = event("evt_13", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000))
    CRASH_POINTS[crash_point](monkeypatch)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        assert _post(client, payload).status_code == 500  # Stripe retries a failed delivery
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert db.session.scalar(sa.select(sa.func.count(StripeEvent.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 0
    assert db.session.get(Reservation, reservation.id).status == R.PENDING_PAYMENT
    monkeypatch.undo()
    app.extensions["stripe_http_client"] = stripe_http
    assert _post(client, payload).json["outcome"] == "confirmed"
    assert _post(client, payload).json["outcome"] == "duplicate"
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 1
    assert db.session.get(Reservation, reservation.id).status == R.CONFIRMED
    assert _paid_online_entries(db) == 1  # confirmed once


KILLED_WORKER = r"""
import os, signal, sys
import sqlalchemy as sa
from shop import create_app
from shop.extensions import db
from shop.services import audit
from tests.stripe_fake import WEBHOOK_SECRET, FakeStripeHTTP, sign

app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1], "WTF_CSRF_ENABLED": False,
                  "STRIPE_SECRET_KEY": "sk_test_fake", "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                  "PROPAGATE_EXCEPTIONS": True})
app.extensions["stripe_http_client"] = FakeStripeHTTP()
real_record = audit.record

def record(actor, action, *args, **kwargs):
    real_record(actor, action, *args, **kwargs)
    if action == "reservation.paid_online":
        db.session.flush()
        payments = db.session.scalar(sa.text("SELECT count(*) FROM payments"))
        print(f"payment rows written, not committed: {payments}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies here, mid-transaction

audit.record = record
payload = sys.stdin.buffer.read()
app.test_client().post("/payments/stripe/webhook", data=payload,
                       headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload)})
print("not killed", flush=True)
"""


def test_a_worker_killed_while_processing_then_the_replay_records_one_payment(app, client, db, stripe_http):
    """A real process, killed with SIGKILL after writing the payment and the confirmation but
    before committing; Stripe then delivers the same event again to a live worker."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    reservation, _, _ = _checkout(db)
    payload = event("evt_kill", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000))
    db.session.commit()  # the worker must see the reservation, and the test must hold no lock
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    worker = subprocess.run([sys.executable, "-c", KILLED_WORKER, url], input=payload, capture_output=True,
                            cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert worker.returncode == -signal.SIGKILL, worker.stderr.decode()[-2000:]
    assert b"payment rows written, not committed: 1" in worker.stdout
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 0  # the dead worker's writes are gone
    assert db.session.scalar(sa.select(sa.func.count(StripeEvent.id))) == 0
    assert _post(client, payload).json["outcome"] == "confirmed"
    assert _post(client, payload).json["outcome"] == "duplicate"
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 1
    assert db.session.get(Reservation, reservation.id).status == R.CONFIRMED
    assert _paid_online_entries(db) == 1


def test_cancelling_a_paid_reservation_refunds_through_stripe(client, db, stripe_http):
    reservation, _, device = _checkout(db)
    _post(client, event("evt_14", "checkout.session.completed", completed_session("cs_test_1", reservation.id, 9000)))
    db.session.commit()  # end the test's read snapshot: see what the requests wrote
    reservation = db.session.get(Reservation, reservation.id)
    refund_cents = reservations.cancel(reservation, reason="test")
    payments.refund(reservation, refund_cents)
    assert refund_cents == 9000
    assert param(stripe_http.requests[-1], "payment_intent") == "pi_test_1"
    refund = db.session.scalar(sa.select(Payment).where(Payment.kind == PaymentKind.REFUND))
    assert refund.status == PaymentStatus.DONE
