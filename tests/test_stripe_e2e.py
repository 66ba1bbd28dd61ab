"""End to end, over HTTP: the real online checkout, Stripe's redirect back to the return page, the
webhook and a refund, against a local fake Stripe API reached through STRIPE_API_BASE (the Stripe
SDK's own HTTP client, no test double inside the shop)."""

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from shop.models import Payment, PaymentKind, PaymentStatus, Reservation, ReservationStatus
from tests import factories
from tests.stripe_fake import WEBHOOK_SECRET, event, sign


class FakeStripeAPI(BaseHTTPRequestHandler):
    """The few Stripe endpoints the shop calls, and the hosted checkout page a person pays on."""

    sessions: dict
    calls: list

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{len(self.calls)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        params = {key: values[0] for key, values in form.items()}
        self.calls.append({"path": self.path, "params": params, "auth": self.headers.get("Authorization"),
                           "idempotency": self.headers.get("Idempotency-Key")})
        if self.path == "/v1/checkout/sessions":
            session_id = f"cs_e2e_{len(self.sessions) + 1}"
            host = f"http://{self.headers['Host']}"
            self.sessions[session_id] = {
                "id": session_id, "object": "checkout.session", "status": "open", "payment_status": "unpaid",
                "amount_total": int(params["line_items[0][price_data][unit_amount]"]),
                "currency": params["line_items[0][price_data][currency]"],
                "metadata": {"reservation_id": params["metadata[reservation_id]"]},
                "success_url": params["success_url"], "url": f"{host}/pay/{session_id}", "payment_intent": None,
            }
            self._reply(200, self.sessions[session_id])
        elif self.path == "/v1/refunds":
            self._reply(200, {"id": f"re_e2e_{len(self.calls)}", "object": "refund", "status": "succeeded",
                              "payment_intent": params["payment_intent"], "amount": int(params.get("amount", 0))})
        else:
            self._reply(404, {"error": {"type": "invalid_request_error", "message": "unknown path"}})

    def do_GET(self):
        """The person pays on the hosted page; Stripe then sends them back to the success URL."""
        session = self.sessions.get(self.path.removeprefix("/pay/"))
        if session is None:
            self._reply(404, {"error": {"type": "invalid_request_error"}})
            return
        session.update(status="complete", payment_status="paid", payment_intent=f"pi_{session['id']}")
        back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        self._reply(303, {}, {"Location": back})


@pytest.fixture
def stripe_api(app):
    handler = type("Handler", (FakeStripeAPI,), {"sessions": {}, "calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    old = {k: app.config.get(k) for k in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE")}
    fake_client = app.extensions.pop("stripe_http_client", None)
    app.config.update(STRIPE_SECRET_KEY="sk_test_e2e", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                      STRIPE_API_BASE=f"http://127.0.0.1:{server.server_port}")
    yield handler
    server.shutdown()
    server.server_close()
    app.config.update(old)
    if fake_client is not None:
        app.extensions["stripe_http_client"] = fake_client


def _webhook(client, event_id: str, event_type: str, session: dict):
    obj = {key: session[key] for key in ("id", "object", "status", "payment_status", "amount_total", "currency",
                                         "metadata", "payment_intent")}
    body = event(event_id, event_type, obj)
    return client.post("/payments/stripe/webhook", data=body,
                       headers={"Content-Type": "application/json", "Stripe-Signature": sign(body)})


def test_online_checkout_return_page_webhook_and_refund_over_http(app, db, client, stripe_api):
    device = factories.device(price_cents=9000)
    _, clear = factories.code()
    db.session.commit()
    client.set_cookie("lang", "en")
    assert client.post("/reserve", data={"code": clear}).status_code == 303

    # The real checkout: the shop asks the (fake) Stripe API for a session and sends the person there.
    response = client.post(f"/reserve/offer/{device.offer_key}", data={"method": "card_online"})
    assert response.status_code == 303
    [created] = stripe_api.calls
    assert created["path"] == "/v1/checkout/sessions" and created["auth"] == "Bearer sk_test_e2e"
    assert created["params"]["line_items[0][price_data][unit_amount]"] == "9000"
    assert created["params"]["line_items[0][price_data][currency]"] == "eur"
    assert created["idempotency"].startswith("checkout-")
    checkout_url = response.headers["Location"]
    assert checkout_url == f"{app.config['STRIPE_API_BASE']}/pay/cs_e2e_1"

    # The person pays on the hosted page, which sends them back to the shop's return page.
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(checkout_url, timeout=10)
    except urllib.error.HTTPError as back:
        return_url = back.headers["Location"]
    path = urllib.parse.urlsplit(return_url)
    assert path.path == "/reserve/payment/return" and "session_id=cs_e2e_1" in path.query
    waiting = client.get(f"{path.path}?{path.query}")
    assert "We are checking your payment" in waiting.text  # only the webhook confirms

    # Stripe tells the shop, signed; the return page then shows the payment.
    session = stripe_api.sessions["cs_e2e_1"]
    answer = _webhook(client, "evt_e2e_1", "checkout.session.completed", session)
    assert answer.status_code == 200 and answer.json["outcome"] == "confirmed"
    assert "Payment received, thank you" in client.get(f"{path.path}?{path.query}").text
    db.session.commit()
    reservation = db.session.scalar(sa.select(Reservation))
    assert reservation.status == ReservationStatus.CONFIRMED and reservation.paid_cents == 9000

    # The person cancels: the money goes back to the card through the (fake) Stripe API.
    assert client.post(f"/reserve/cancel/{reservation.number}").status_code == 303
    refund_call = stripe_api.calls[-1]
    assert refund_call["path"] == "/v1/refunds"
    assert refund_call["params"] == {"payment_intent": "pi_cs_e2e_1", "amount": "9000"}
    db.session.commit()
    refund = db.session.scalar(sa.select(Payment).where(Payment.kind == PaymentKind.REFUND))
    assert refund.status == PaymentStatus.DONE and refund.note.startswith("stripe refund re_e2e_")
    assert db.session.get(Reservation, reservation.id).status == ReservationStatus.CANCELLED
