"""Stripe webhooks under attack and in a rush: a payment confirms a reservation only when it is
the checkout session stored for it, for the amount and currency asked; anything else is recorded,
refunded and shown to admins. Events for one payment arriving at the same instant answer 200
("duplicate") for all but one. Offline: a fake Stripe HTTP client, events signed here and checked
by the real verification path."""

import threading

import pytest
import sqlalchemy as sa

from shop.extensions import db as _db
from shop.models import (
    Payment, PaymentIssue, PaymentIssueReason, PaymentStatus, Reservation, ReservationStatus, Role, StripeEvent,
)
from shop.services import payments
from tests import factories
from tests.stripe_fake import completed_session, event, expired_session, param, sign
from tests.test_stripe import _checkout, _post, stripe_http  # noqa: F401 (fixture)

R = ReservationStatus


def _count(db, model) -> int:
    db.session.commit()  # end the test's read snapshot: see what the requests wrote
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _refunds(fake) -> list[dict]:
    return [r for r in fake.requests if r["url"].endswith("/v1/refunds")]


# --- Concurrent events for one payment ----------------------------------------------------------

def test_three_events_for_one_payment_at_the_same_instant_answer_200(app, client, db, stripe_http, monkeypatch):
    reservation, _, _ = _checkout(db)
    paid = completed_session("cs_test_1", reservation.id, 9000, payment_intent="pi_race")
    bodies = [event("evt_race_1", "checkout.session.completed", paid),
              event("evt_race_2", "checkout.session.completed", paid),
              event("evt_race_3", "checkout.session.async_payment_succeeded", paid)]
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a crash is a 500, as in production
    if db.engine.dialect.name == "postgresql":
        # Hold every event at the door of its handler until all three are in: each has checked
        # "no payment recorded yet" before any commits (on SQLite writers queue one by one).
        gathered = threading.Barrier(len(bodies), timeout=20)
        real = payments._reservation_for

        def all_at_once(session):
            gathered.wait()
            return real(session)

        monkeypatch.setattr(payments, "_reservation_for", all_at_once)
    start = threading.Barrier(len(bodies), timeout=20)
    answers, lock = [], threading.Lock()

    def post(body):
        with app.app_context():  # each thread a request of its own, as separate workers would be
            start.wait()
            response = app.test_client().post("/payments/stripe/webhook", data=body,
                                              headers={"Content-Type": "application/json",
                                                       "Stripe-Signature": sign(body)})
            _db.session.remove()
        with lock:
            answers.append((response.status_code, (response.get_json(silent=True) or {}).get("outcome")))

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [(200, "confirmed"), (200, "duplicate"), (200, "duplicate")], answers
    assert _count(db, Payment) == 1
    assert _count(db, StripeEvent) == 3  # every event is remembered, so none is processed again
    assert db.session.get(Reservation, reservation.id).status == R.CONFIRMED


# --- What the event says is not trusted ---------------------------------------------------------

def test_an_unknown_session_naming_another_reservation_confirms_nothing_and_is_refunded(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    forged = completed_session("cs_someone_else", reservation.id, 9000, payment_intent="pi_other")
    response = _post(client, event("evt_forged", "checkout.session.completed", forged))
    assert response.status_code == 200 and response.json["outcome"] == "payment issue: unknown_session"
    assert db.session.get(Reservation, reservation.id).status == R.PENDING_PAYMENT
    assert _count(db, Payment) == 0
    issue = db.session.scalar(sa.select(PaymentIssue))
    assert (issue.reason, issue.reservation_id, issue.session_id) == (PaymentIssueReason.UNKNOWN_SESSION, None, "cs_someone_else")
    assert issue.refund_status == PaymentStatus.DONE and issue.refund_reference.startswith("re_test_")
    [refund] = _refunds(stripe_http)
    assert param(refund, "payment_intent") == "pi_other" and param(refund, "amount") is None  # all of it


def test_one_cent_does_not_confirm_a_reservation_of_ninety_euros(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    cheap = completed_session("cs_test_1", reservation.id, 1, payment_intent="pi_cent")
    assert _post(client, event("evt_cent", "checkout.session.completed", cheap)).json["outcome"] == \
        "payment issue: wrong_amount"
    assert db.session.get(Reservation, reservation.id).status == R.PENDING_PAYMENT
    assert _count(db, Payment) == 0
    issue = db.session.scalar(sa.select(PaymentIssue))
    assert (issue.reason, issue.reservation_id, issue.amount_cents) == (PaymentIssueReason.WRONG_AMOUNT, reservation.id, 1)
    assert param(_refunds(stripe_http)[0], "payment_intent") == "pi_cent"


def test_a_payment_in_another_currency_is_not_recorded_as_euros(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    dollars = completed_session("cs_test_1", reservation.id, 27000, payment_intent="pi_usd", currency="usd")
    assert _post(client, event("evt_usd", "checkout.session.completed", dollars)).json["outcome"] == \
        "payment issue: wrong_currency"
    assert db.session.get(Reservation, reservation.id).status == R.PENDING_PAYMENT
    assert _count(db, Payment) == 0
    issue = db.session.scalar(sa.select(PaymentIssue))
    assert (issue.reason, issue.currency, issue.amount_cents) == (PaymentIssueReason.WRONG_CURRENCY, "usd", 27000)


def test_an_expired_event_for_an_unknown_session_releases_nothing(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    response = _post(client, event("evt_exp", "checkout.session.expired", expired_session("cs_forged", reservation.id)))
    assert response.json["outcome"] == "unknown reservation"
    assert db.session.get(Reservation, reservation.id).status == R.PENDING_PAYMENT


def test_two_events_for_one_wrong_payment_make_one_issue_and_one_refund(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    cheap = completed_session("cs_test_1", reservation.id, 100, payment_intent="pi_twice")
    _post(client, event("evt_w1", "checkout.session.completed", cheap))
    second = _post(client, event("evt_w2", "checkout.session.async_payment_succeeded", cheap))
    assert second.json["outcome"] == "duplicate"
    assert _count(db, PaymentIssue) == 1 and len(_refunds(stripe_http)) == 1


def test_a_refund_that_fails_stays_to_do_and_the_event_is_still_answered(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    stripe_http.fail_with = 500
    cheap = completed_session("cs_test_1", reservation.id, 100, payment_intent="pi_down")
    assert _post(client, event("evt_down", "checkout.session.completed", cheap)).status_code == 200
    db.session.commit()
    assert db.session.scalar(sa.select(PaymentIssue.refund_status)) == PaymentStatus.PENDING


def test_an_unpaid_unknown_session_is_not_an_issue(client, db, stripe_http):
    unpaid = dict(completed_session("cs_nobody", 1, 100), payment_status="unpaid", payment_intent=None)
    assert _post(client, event("evt_unpaid", "checkout.session.completed", unpaid)).json["outcome"] == "unknown reservation"
    assert _count(db, PaymentIssue) == 0 and _refunds(stripe_http) == []


def test_admins_see_the_payment_issues(client, db, stripe_http):
    reservation, _, _ = _checkout(db)
    _post(client, event("evt_cent", "checkout.session.completed",
                        completed_session("cs_test_1", reservation.id, 1, payment_intent="pi_cent")))
    _post(client, event("evt_forged", "checkout.session.completed",
                        completed_session("cs_forged", reservation.id, 9000, payment_intent="pi_forged")))
    admin = factories.user(Role.ADMIN)
    db.session.commit()
    assert factories.sign_in(client, admin.email).status_code == 303
    client.set_cookie("lang", "en")
    page = client.get("/admin/payment-issues")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Not the amount asked" in text and "Not a checkout the shop opened" in text
    assert reservation.number in text and "pi_forged" in text and "€0.01" in text
