"""Outgoing e-mail: SMTP when MAIL_SERVER is set, otherwise the log and instance/mail/."""

import logging
import smtplib
from email.message import EmailMessage
from pathlib import Path

from flask import current_app

from shop.models.types import utcnow

log = logging.getLogger(__name__)


def send(to: str, subject: str, body: str) -> None:
    """Send a plain-text message; never raises to the caller on a delivery failure."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if config.get("TESTING"):
        current_app.extensions.setdefault("mail_outbox", []).append(message)
        return
    if config.get("MAIL_SERVER"):
        try:
            with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
                if config.get("MAIL_USE_TLS"):
                    smtp.starttls()
                if config.get("MAIL_USERNAME"):
                    smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException):
            log.exception("Could not send mail to %s", to)
        return
    outbox = Path(current_app.instance_path) / "mail"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{utcnow():%Y%m%dT%H%M%S%f}.eml"
    path.write_bytes(bytes(message))
    log.warning("Mail not sent (no MAIL_SERVER); written to %s\nTo: %s\nSubject: %s\n\n%s", path, to, subject, body)
