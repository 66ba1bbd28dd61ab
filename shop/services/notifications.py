"""Messages to beneficiaries and social workers, each in the reader's language."""

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from shop.extensions import db
from shop.i18n import isolate, person_date, person_datetime
from shop.models import Reservation, User
from shop.models.types import utcnow
from shop.services import mail, reservations


def reservation_confirmed(reservation: Reservation) -> None:
    """Send the confirmation to a beneficiary who gave an e-mail address."""
    person = reservation.beneficiary
    if not person.email:
        return  # before loading the pickup point: most people reserve without an address
    point = reservation.pickup_point
    with force_locale(person.language):
        mail.send(person.email, _("Your reservation %(number)s", number=isolate(reservation.number)), _(
            "Hello %(name)s,\n\nYour device %(device)s is reserved.\nPickup code: %(code)s\n"
            "Where: %(point)s, %(address)s, %(town)s\nPick it up before: %(deadline)s\n"
            "Bring your slip or your code and an identity document.",
            name=isolate(person.display_name), device=isolate(reservation.device.title),
            code=isolate(reservation.pickup_code), point=isolate(point.name), address=isolate(point.address), town=isolate(point.town),
            deadline=isolate(person_datetime(reservation.held_until, "long")),
        ))


def reservation_ready(reservation: Reservation) -> None:
    """Tell a beneficiary who gave an e-mail address that the device waits at the counter."""
    person = reservation.beneficiary
    if not person.email:
        return
    point = reservation.pickup_point
    with force_locale(person.language):
        mail.send(person.email, _("Your device is ready: reservation %(number)s", number=isolate(reservation.number)), _(
            "Hello %(name)s,\n\nYour device is ready. Come to %(point)s, %(address)s, %(town)s before "
            "%(deadline)s with your pickup code %(code)s and an identity document.",
            name=isolate(person.display_name), point=isolate(point.name), address=isolate(point.address), town=isolate(point.town),
            deadline=isolate(person_datetime(reservation.held_until, "long")), code=isolate(reservation.pickup_code),
        ))


def invitation(user: User, link: str, *, inviter: User) -> None:
    """Invite a new account holder to choose a password (the link lives 7 days)."""
    if user.organisation is not None:
        mail.send(user.email, _("Your account on the Solidarity Shop"), _(
            "Hello %(name)s,\n\n%(inviter)s invites you to the partner space of the Solidarity Shop "
            "for %(structure)s.\n\nTo choose your password, open this link within 7 days:\n%(link)s\n",
            name=isolate(user.name), inviter=isolate(inviter.name), structure=isolate(user.organisation.name), link=link))
    else:
        mail.send(user.email, _("You are invited to Solidarity Shop"), _(
            "Hello %(name)s,\n\nAn account was created for you. To choose your password, open this link "
            "within 7 days:\n%(link)s", name=isolate(user.name), link=link))


def _issuer(issued_by_id: int | None) -> User | None:
    worker = db.session.get(User, issued_by_id) if issued_by_id else None
    return worker if worker is not None and worker.active else None


def _remind_pickup(reservation: Reservation) -> int:
    person, sent = reservation.beneficiary, 0
    recipients = [(person.language, person.email)] if person.email else []
    worker = _issuer(reservation.code.issued_by_id)
    if worker is not None:
        recipients.append((current_app.config["BABEL_DEFAULT_LOCALE"], worker.email))
    for language, address in recipients:
        with force_locale(language):
            mail.send(address, _("Reminder: pick up reservation %(number)s", number=isolate(reservation.number)),
                      _("Reservation %(number)s (%(name)s) must be picked up before %(deadline)s, at %(point)s.",
                        number=isolate(reservation.number), name=isolate(person.display_name),
                        deadline=isolate(person_datetime(reservation.held_until, "long")),
                        point=isolate(reservation.pickup_point.name)))
        sent += 1
    return sent


def _remind_code_end(code) -> int:
    person, sent = code.beneficiary, 0
    if person.email:
        with force_locale(person.language):
            mail.send(person.email, _("Reminder: your eligibility code ends soon"), _(
                "Hello %(name)s,\n\nYour eligibility code ends on %(date)s. Reserve a device before then: "
                "%(link)s\nIf you need more time, ask your social worker.",
                name=isolate(person.display_name), date=isolate(person_date(code.expires_at, "long")),
                link=current_app.config["PUBLIC_URL"].rstrip("/") + "/catalog",
            ))
        sent += 1
    worker = _issuer(code.issued_by_id)
    if worker is not None:
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            mail.send(worker.email, _("Reminder: an eligibility code ends soon"),
                      _("The eligibility code of %(name)s ends on %(date)s. You can extend it from their page.",
                        name=isolate(person.display_name), date=isolate(person_date(code.expires_at, "long"))))
        sent += 1
    return sent


def send_due_reminders(now=None) -> int:
    """Remind of a pickup deadline or a code's end two days ahead; each reminder is sent once."""
    now = now or utcnow()
    due_reservations, due_codes = reservations.due_reminders(now)
    sent = 0
    for reservation in due_reservations:
        if reservations.mark_reminded(reservation, now):
            sent += _remind_pickup(reservation)
    for code in due_codes:
        if reservations.mark_reminded(code, now):
            sent += _remind_code_end(code)
    return sent
