"""Messages to beneficiaries and social workers, each in the reader's language."""

from flask import current_app
from flask_babel import force_locale, format_date, format_datetime
from flask_babel import gettext as _

from shop.extensions import db
from shop.models import Reservation, User
from shop.models.types import utcnow
from shop.services import mail, reservations


def _send_in(language: str, to: str, subject, body) -> None:
    with force_locale(language):
        mail.send(to, subject(), body())


def reservation_confirmed(reservation: Reservation) -> None:
    """Send the confirmation to a beneficiary who gave an e-mail address."""
    person = reservation.beneficiary
    if not person.email:
        return
    point = reservation.pickup_point
    _send_in(
        person.language, person.email,
        lambda: _("Your reservation %(number)s", number=reservation.number),
        lambda: _(
            "Hello %(name)s,\n\nYour device %(device)s is reserved.\nPickup code: %(code)s\n"
            "Where: %(point)s, %(address)s, %(town)s\nPick it up before: %(deadline)s\n"
            "Bring your slip or your code and an identity document.",
            name=person.display_name, device=f"{reservation.device.brand} {reservation.device.model}",
            code=reservation.pickup_code, point=point.name, address=point.address, town=point.town,
            deadline=format_datetime(reservation.held_until, "long"),
        ),
    )


def reservation_ready(reservation: Reservation) -> None:
    """Tell a beneficiary who gave an e-mail address that the device waits at the counter."""
    person = reservation.beneficiary
    if not person.email:
        return
    _send_in(
        person.language, person.email,
        lambda: _("Your device is ready: reservation %(number)s", number=reservation.number),
        lambda: _("Hello %(name)s,\n\nYour device is ready. Come to %(point)s, %(address)s, %(town)s before "
                  "%(deadline)s with your pickup code %(code)s and an identity document.",
                  name=person.display_name, point=reservation.pickup_point.name,
                  address=reservation.pickup_point.address, town=reservation.pickup_point.town,
                  deadline=format_datetime(reservation.held_until, "long"), code=reservation.pickup_code),
    )


def send_due_reminders(now=None) -> int:
    """Remind of a pickup deadline or a code's end two days ahead; each reminder is sent once."""
    now = now or utcnow()
    due_reservations, due_codes = reservations.due_reminders(now)
    sent = 0
    for reservation in due_reservations:
        if not reservations.mark_reminded(reservation, now):
            continue
        person = reservation.beneficiary
        recipients = [(person.language, person.email)] if person.email else []
        worker = db.session.get(User, reservation.code.issued_by_id) if reservation.code.issued_by_id else None
        if worker is not None and worker.active:
            recipients.append((current_app.config["BABEL_DEFAULT_LOCALE"], worker.email))
        for language, address in recipients:
            _send_in(
                language, address,
                lambda: _("Reminder: pick up reservation %(number)s", number=reservation.number),
                lambda: _("Reservation %(number)s (%(name)s) must be picked up before %(deadline)s, at %(point)s.",
                          number=reservation.number, name=person.display_name,
                          deadline=format_datetime(reservation.held_until, "long"),
                          point=reservation.pickup_point.name),
            )
            sent += 1
    for code in due_codes:
        if not reservations.mark_reminded(code, now):
            continue
        person = code.beneficiary
        link = current_app.config["PUBLIC_URL"].rstrip("/") + "/catalog"
        if person.email:
            _send_in(
                person.language, person.email,
                lambda: _("Reminder: your eligibility code ends soon"),
                lambda: _("Hello %(name)s,\n\nYour eligibility code ends on %(date)s. Reserve a device before then: "
                          "%(link)s\nIf you need more time, ask your social worker.",
                          name=person.display_name, date=format_date(code.expires_at, "long"), link=link),
            )
            sent += 1
        worker = db.session.get(User, code.issued_by_id) if code.issued_by_id else None
        if worker is not None and worker.active:
            _send_in(
                current_app.config["BABEL_DEFAULT_LOCALE"], worker.email,
                lambda: _("Reminder: an eligibility code ends soon"),
                lambda: _("The eligibility code of %(name)s ends on %(date)s. You can extend it from their page.",
                          name=person.display_name, date=format_date(code.expires_at, "long")),
            )
            sent += 1
    return sent
