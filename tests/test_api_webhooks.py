"""Outgoing webhooks: a signed POST to the refurbisher's URL when its device is sold, withdrawn or
recycled; after the commit only, retried until the receiver takes it."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from shop.models import ApiRole, DeviceStatus, WebhookDelivery, WebhookStatus
from shop.services import api_tokens, webhooks
from shop.services import devices as device_service
from tests import factories


@pytest.fixture
def receiver():
    """A local HTTP server that records what it receives; `answers` says what it replies."""
    got, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), body))
            self.send_response(answers.pop(0) if answers else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks", got, answers
    server.shutdown()
    server.server_close()


def _verify(secret, headers, body):
    parts = dict(item.split("=", 1) for item in headers["Shop-Signature"].split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_a_recycled_device_is_posted_signed_after_the_commit(app, db, receiver):
    url, got, _answers = receiver
    batch, other = factories.batch(), factories.batch()
    token, _raw = api_tokens.create(name="r", role=ApiRole.REFURBISHER, donor_ids=[batch.donor_id], webhook_url=url,
                                    actor=None)
    secret = token.webhook_secret_once
    assert secret and secret not in (token.webhook_secret or "")
    mine = factories.device(batch_id=batch.id, status=DeviceStatus.RECEIVED)
    theirs = factories.device(batch_id=other.id, status=DeviceStatus.RECEIVED)
    db.session.commit()
    device_service.transition(mine.id, DeviceStatus.RECEIVED, DeviceStatus.RECYCLED, actor="test")
    device_service.transition(theirs.id, DeviceStatus.RECEIVED, DeviceStatus.RECYCLED, actor="test")
    assert got == []  # nothing leaves before the commit
    db.session.commit()
    assert len(got) == 1
    headers, body = got[0]
    assert json.loads(body) == {**json.loads(body), "event": "device.recycled", "serial_number": mine.serial_number}
    assert _verify(secret, headers, body) and not _verify("whsec_wrong", headers, body)
    assert db.session.scalar(sa.select(WebhookDelivery.status)) == WebhookStatus.SENT


def test_a_rolled_back_change_sends_nothing_and_a_failing_receiver_is_retried(app, db, receiver):
    url, got, answers = receiver
    batch = factories.batch()
    api_tokens.create(name="r", role=ApiRole.REFURBISHER, donor_ids=[batch.donor_id], webhook_url=url, actor=None)
    device = factories.device(batch_id=batch.id, status=DeviceStatus.RECEIVED)
    db.session.commit()
    device_service.transition(device.id, DeviceStatus.RECEIVED, DeviceStatus.WITHDRAWN, actor="test")
    db.session.rollback()
    assert got == [] and db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0
    answers.append(500)
    device_service.transition(device.id, DeviceStatus.RECEIVED, DeviceStatus.WITHDRAWN, actor="test")
    db.session.commit()
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    assert len(got) == 1 and delivery.status == WebhookStatus.QUEUED and delivery.last_error == "HTTP 500"
    later = delivery.next_attempt_at
    report = webhooks.deliver(app, now=later)
    db.session.commit()  # the test's read snapshot ends: it sees the dispatcher's write
    assert report.sent == 1 and len(got) == 2 and db.session.get(WebhookDelivery, delivery.id).status == WebhookStatus.SENT
    assert webhooks.deliver(app, now=later).sent == 0  # sent once


def test_a_webhook_address_must_be_https_and_only_for_refurbishers(db):
    from shop.services.errors import DomainError

    donor = factories.batch().donor
    with pytest.raises(DomainError):
        api_tokens.create(name="r", role=ApiRole.REFURBISHER, donor_ids=[donor.id], webhook_url="http://example.org/h",
                          actor=None)
    with pytest.raises(DomainError):
        api_tokens.create(name="d", role=ApiRole.DONOR, donor_ids=[donor.id], webhook_url="https://example.org/h",
                          actor=None)


def test_a_device_sold_again_after_a_return_is_announced_again_and_a_change_only_once(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_SEND_AFTER_COMMIT", False)  # queued rows are what is checked
    batch = factories.batch()
    token, _raw = api_tokens.create(name="r", role=ApiRole.REFURBISHER, donor_ids=[batch.donor_id],
                                    webhook_url="https://refurbisher.example/hooks", actor=None)
    device = factories.device(batch_id=batch.id, status=DeviceStatus.RESERVED)
    S = DeviceStatus
    device_service.transition(device.id, S.RESERVED, S.SOLD, actor="counter")
    # Brought back under an after-sale case, erased again, sold again.
    for a, b in [(S.SOLD, S.RECEIVED), (S.RECEIVED, S.ERASED), (S.ERASED, S.REFURBISHED),
                 (S.REFURBISHED, S.LISTED), (S.LISTED, S.RESERVED), (S.RESERVED, S.SOLD)]:
        if b == S.LISTED:
            monkeypatch.setattr(device_service, "has_successful_erasure", lambda device_id: True)
        device_service.transition(device.id, a, b, actor="test")
    sold = db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.event == "device.sold")).all()
    assert len(sold) == 2 and len({d.device_event_id for d in sold}) == 2
    # The same recorded change queued again (a replay) adds nothing: the database refuses it too.
    webhooks.device_changed(device.id, S.SOLD, event_id=sold[1].device_event_id)
    assert db.session.scalar(sa.select(sa.func.count(WebhookDelivery.id))) == 2
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.add(WebhookDelivery(token_id=token.id, device_id=device.id, device_event_id=sold[1].device_event_id,
                                           event="device.sold", payload="{}"))
