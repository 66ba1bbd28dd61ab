"""Outgoing webhooks: a signed POST to a refurbisher's URL when one of its devices is sold,
withdrawn or recycled. Written in the transaction of the change (nothing if it rolls back),
POSTed after the commit, retried with backoff (`flask --app shop deliver` sends what is left).

Signature (as Stripe's): header `Shop-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the token's webhook secret>`; a receiver checks it and refuses old times.
"""

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import current_app
from flask_babel import lazy_gettext as _l

from shop.extensions import db, sqlite_begin_mode
from shop.models import ApiRole, ApiToken, DonationBatch, Device, DeviceStatus, WebhookDelivery, WebhookStatus
from shop.models.api import api_token_donors
from shop.models.types import utcnow
from shop.services import tx
from shop.services.errors import DomainError

EVENTS = {DeviceStatus.SOLD: "device.sold", DeviceStatus.WITHDRAWN: "device.withdrawn",
          DeviceStatus.RECYCLED: "device.recycled"}
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 120, 240)]
LEASE = timedelta(minutes=2)  # a claimed delivery is not taken again meanwhile
RETRY_FOR = timedelta(hours=72)
TIMEOUT_SECONDS = 10
log = logging.getLogger(__name__)
_deliveries = WebhookDelivery.__table__


# --- Secrets and URLs -------------------------------------------------------------------------------

def _fernet() -> Fernet:
    key = hashlib.sha256(b"solidarity-shop webhook-secret\0" + str(current_app.config["SECRET_KEY"]).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def check_url(url: str) -> str:
    """An https URL (http only to this machine, for development)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if len(url) > 500 or not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise DomainError(_l("Give an address that starts with https://."), field="webhook_url")
    return url


def new_secret() -> tuple[str, str]:
    """(secret shown once, encrypted form stored)."""
    secret = "whsec_" + secrets.token_urlsafe(24)
    return secret, _fernet().encrypt(secret.encode()).decode()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


# --- Queueing, in the transaction of the change ------------------------------------------------------

def device_changed(device_id: int, to_status: DeviceStatus, *, event_id: int, now: datetime | None = None) -> None:
    """Queue a notice of the change recorded as device event `event_id`, for each live refurbisher
    token with a URL whose donors gave this device: one INSERT … SELECT (nothing at all when no
    token has a URL). Each recorded change is announced once per token, however often it is replayed."""
    event = EVENTS.get(DeviceStatus(to_status))
    if event is None:
        return
    now = now or utcnow()
    device = db.session.execute(sa.select(Device.serial_number, DonationBatch.reference, DonationBatch.donor_id)
                                .join(DonationBatch, DonationBatch.id == Device.batch_id)
                                .where(Device.id == device_id)).first()
    if device is None:
        return
    payload = json.dumps({"event": event, "serial_number": device.serial_number, "batch": device.reference,
                          "status": DeviceStatus(to_status).value, "at": now.isoformat()})
    tokens = (sa.select(ApiToken.id, sa.literal(device_id), sa.literal(event_id), sa.literal(event), sa.literal(payload),
                        sa.literal(WebhookStatus.QUEUED.value), sa.literal(0), sa.literal(now, ApiToken.created_at.type),
                        sa.literal(now, ApiToken.created_at.type))
              .join(api_token_donors, api_token_donors.c.token_id == ApiToken.id)
              .where(api_token_donors.c.donor_id == device.donor_id, ApiToken.role == ApiRole.REFURBISHER,
                     ApiToken.webhook_url.is_not(None), ApiToken.revoked_at.is_(None),
                     sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
                     ~sa.exists().where(_deliveries.c.token_id == ApiToken.id,
                                        _deliveries.c.device_event_id == event_id)))
    result = db.session.execute(sa.insert(_deliveries).from_select(
        ["token_id", "device_id", "device_event_id", "event", "payload", "status", "attempts", "created_at",
         "next_attempt_at"], tokens))
    if result.rowcount and current_app.config.get("OUTBOX_SEND_AFTER_COMMIT"):
        app = current_app._get_current_object()
        tx.after_commit(lambda: deliver(app, device_id=device_id))


# --- Delivering, outside any transaction --------------------------------------------------------------

@dataclass
class Report:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def deliver(app=None, *, device_id: int | None = None, now: datetime | None = None, http=None) -> Report:
    """POST every due notice (or those of one device): claimed by one conditional UPDATE each, so
    two dispatchers never send the same notice at once."""
    app = app or current_app._get_current_object()
    http = http or requests
    report = Report()
    token = sqlite_begin_mode.set("IMMEDIATE")
    try:
        with app.app_context():
            now = now or utcnow()
            due = sa.select(_deliveries.c.id).where(_deliveries.c.status == WebhookStatus.QUEUED.value,
                                                    _deliveries.c.next_attempt_at <= now).order_by(_deliveries.c.id)
            if device_id is not None:
                due = due.where(_deliveries.c.device_id == device_id)
            with db.engine.connect() as conn:
                ids = list(conn.execute(due.limit(500)).scalars())
            for delivery_id in ids:
                _deliver_one(delivery_id, report, now, http)
    finally:
        sqlite_begin_mode.reset(token)
    return report


def _deliver_one(delivery_id: int, report: Report, now: datetime, http) -> None:
    claim = (sa.update(_deliveries)
             .where(_deliveries.c.id == delivery_id, _deliveries.c.status == WebhookStatus.QUEUED.value,
                    _deliveries.c.next_attempt_at <= now)
             .values(next_attempt_at=now + LEASE, attempts=_deliveries.c.attempts + 1)
             .returning(_deliveries.c.token_id, _deliveries.c.payload, _deliveries.c.attempts, _deliveries.c.created_at))
    with db.engine.begin() as conn:
        row = conn.execute(claim).first()
        if row is None:  # another dispatcher has it
            return
        target = conn.execute(sa.select(ApiToken.webhook_url, ApiToken.webhook_secret, ApiToken.revoked_at)
                              .where(ApiToken.id == row.token_id)).first()
    if target is None or target.webhook_url is None or target.revoked_at is not None:
        _record(delivery_id, WebhookStatus.FAILED, "the token no longer has a webhook")
        report.failed += 1
        return
    body = row.payload.encode()
    secret = _fernet().decrypt(target.webhook_secret.encode()).decode()
    headers = {"Content-Type": "application/json", "Shop-Signature": sign(secret, body, int(time.time())),
               "Shop-Delivery": str(delivery_id)}
    try:
        response = http.post(target.webhook_url, data=body, headers=headers, timeout=TIMEOUT_SECONDS,
                             allow_redirects=False)
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    if error is None:
        _record(delivery_id, WebhookStatus.SENT, None, sent_at=utcnow())
        report.sent += 1
    elif now - row.created_at >= RETRY_FOR:
        _record(delivery_id, WebhookStatus.FAILED, error)
        report.failed += 1
        report.errors.append(error)
    else:
        delay = BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
        _record(delivery_id, WebhookStatus.QUEUED, error, next_attempt_at=now + delay)
        report.retried += 1
        report.errors.append(error)


def _record(delivery_id: int, status: WebhookStatus, error: str | None, **values) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.update(_deliveries).where(_deliveries.c.id == delivery_id)
                     .values(status=status.value, last_error=error, **values))
