"""Outgoing e-mail: SMTP when MAIL_SERVER is set, otherwise the log and instance/mail/.

Called by the outbox dispatcher only, never inside a database transaction.
"""

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app

from shop.models.types import utcnow

log = logging.getLogger(__name__)


class MailUnavailable(Exception):
    """The mail server could not take the message now; try again later."""


class MailRejected(Exception):
    """The mail server refused this recipient; trying again will not help."""


def send(to: str, subject: str, body: str) -> str:
    """Send a plain-text message; returns its Message-ID, or raises MailUnavailable / MailRejected."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    message["Message-ID"] = make_msgid(domain="solidarity-shop")
    if config.get("TESTING"):
        current_app.extensions.setdefault("mail_outbox", []).append(message)
        return message["Message-ID"]
    if config.get("MAIL_SERVER"):
        try:
            with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
                if config.get("MAIL_USE_TLS"):
                    smtp.starttls()
                if config.get("MAIL_USERNAME"):
                    smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise MailRejected(f"recipient refused: {error.recipients}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailUnavailable(f"{type(error).__name__}: {error}") from None
        return message["Message-ID"]
    outbox = Path(current_app.instance_path) / "mail"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{utcnow():%Y%m%dT%H%M%S%f}.eml"
    path.write_bytes(bytes(message))
    log.warning("Mail not sent (no MAIL_SERVER); written to %s\nTo: %s\nSubject: %s\n\n%s", path, to, subject, body)
    return message["Message-ID"]
