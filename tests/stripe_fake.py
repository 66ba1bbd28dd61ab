"""An offline Stripe: a fake HTTP client for stripe.StripeClient, and signed webhook payloads."""

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

import stripe

WEBHOOK_SECRET = "whsec_test_secret"


class FakeStripeHTTP(stripe.HTTPClient):
    """Answers the few Stripe API calls the shop makes, and records them."""

    name = "fake"

    def __init__(self):
        super().__init__()
        self.requests: list[dict] = []
        self.fail_with: int | None = None
        self._n = 0

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        params = parse_qs(post_data.decode() if isinstance(post_data, bytes) else (post_data or ""))
        self.requests.append({"method": method, "url": url, "headers": dict(headers or {}), "params": params})
        if self.fail_with:
            return json.dumps({"error": {"type": "api_error", "message": "down"}}), self.fail_with, {}
        self._n += 1
        if url.endswith("/v1/checkout/sessions"):
            session_id = f"cs_test_{self._n}"
            body = {"id": session_id, "object": "checkout.session", "url": f"https://checkout.stripe.test/pay/{session_id}",
                    "status": "open", "payment_status": "unpaid"}
        elif url.endswith("/v1/refunds"):
            body = {"id": f"re_test_{self._n}", "object": "refund", "status": "succeeded"}
        else:
            return json.dumps({"error": {"type": "invalid_request_error", "message": "unknown"}}), 404, {}
        return json.dumps(body), 200, {"Request-Id": f"req_{self._n}"}

    def close(self):
        pass


def param(request: dict, name: str) -> str | None:
    values = request["params"].get(name)
    return values[0] if values else None


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def event(event_id: str, event_type: str, obj: dict) -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "api_version": "2024-06-20",
                       "created": int(time.time()), "data": {"object": obj}}).encode()


def completed_session(session_id: str, reservation_id: int, amount: int, payment_intent: str = "pi_test_1",
                      currency: str = "eur") -> dict:
    return {"id": session_id, "object": "checkout.session", "payment_status": "paid", "status": "complete",
            "amount_total": amount, "currency": currency, "payment_intent": payment_intent,
            "metadata": {"reservation_id": str(reservation_id)}}


def expired_session(session_id: str, reservation_id: int) -> dict:
    return {"id": session_id, "object": "checkout.session", "payment_status": "unpaid", "status": "expired",
            "amount_total": None, "payment_intent": None, "metadata": {"reservation_id": str(reservation_id)}}
