"""Inbound texts from the SMS provider: a STOP reply withdraws the person's consent to texts."""

import logging
import unicodedata

from flask import Blueprint, current_app, request

from shop.extensions import csrf, limiter
from shop.services import partners, sms

bp = Blueprint("sms", __name__, url_prefix="/sms")
log = logging.getLogger(__name__)

# The provider's usual opt-out words, and the French ones people type.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET", "ARRETER", "DESABONNER"}


def _is_stop(body: str) -> bool:
    words = (body or "").strip().split()
    if not words:
        return False
    first = unicodedata.normalize("NFKD", words[0]).encode("ascii", "ignore").decode().upper().strip(".!")
    return first in STOP_WORDS


@bp.post("/twilio/inbound")
@csrf.exempt
@limiter.limit(lambda: current_app.config.get("WEBHOOK_FAILURE_LIMIT", "30 per minute"),
               deduct_when=lambda response: response.status_code == 400)
def twilio_inbound():
    form = request.form.to_dict()
    if not sms.valid_twilio_signature(current_app, request.url, form, request.headers.get("X-Twilio-Signature", "")):
        log.warning("Refused inbound SMS webhook: bad signature")
        return {"error": "invalid signature"}, 400
    number = sms.e164(form.get("From", ""))
    if number and _is_stop(form.get("Body", "")):
        stopped = partners.stop_texts(number, source="sms_stop")
        log.info("STOP from a number: %d consent(s) withdrawn", stopped)
    # An empty TwiML answer: the provider sends its own opt-out confirmation.
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>", 200, {"Content-Type": "text/xml"}
