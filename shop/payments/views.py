"""Stripe webhook endpoint."""

import logging

from flask import Blueprint, current_app, request

from shop.extensions import csrf, limiter
from shop.services import payments

bp = Blueprint("payments", __name__, url_prefix="/payments")
log = logging.getLogger(__name__)


@bp.post("/stripe/webhook")
@csrf.exempt
@limiter.limit(lambda: current_app.config.get("WEBHOOK_FAILURE_LIMIT", "30 per minute"),
               deduct_when=lambda response: response.status_code == 400)
def stripe_webhook():
    try:
        outcome = payments.handle_webhook(request.get_data(), request.headers.get("Stripe-Signature"))
    except payments.BadWebhook as error:
        log.warning("Refused Stripe webhook: %s", error)
        return {"error": "invalid signature or payload"}, 400
    return {"received": True, "outcome": outcome}, 200
