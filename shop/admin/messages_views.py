"""Messages for admins: what failed for good and what still waits in the outbox."""

from flask import render_template

from shop.admin.views import admin_only, bp
from shop.models import Channel, MessageStatus
from shop.services import outbox


def masked(address: str, channel: Channel) -> str:
    """Enough of an address to tell messages apart, not to read someone's contact details."""
    if channel == Channel.SMS:
        return "…" + address[-4:]
    local, _at, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


@bp.get("/messages")
@admin_only
def messages():
    return render_template("admin/messages.html", rows=outbox.needing_attention(), counts=outbox.counts(),
                           statuses=list(MessageStatus), masked=masked)
