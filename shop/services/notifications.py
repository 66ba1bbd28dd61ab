"""What to tell whom after a change: each function queues messages in the caller's transaction.

Called by the service that makes the change (never by a view). The texts live in
`message_templates.py`; delivery happens after the commit (`outbox.py`).
"""


from flask import current_app, has_request_context, url_for

from shop.extensions import db
from shop.models import Reservation, User
from shop.services import keys, outbox


def _reservation_values(reservation: Reservation) -> dict:
    person, point, device = reservation.beneficiary, reservation.pickup_point, reservation.device
    return dict(name=person.display_name, number=reservation.number, pickup_code=reservation.pickup_code,
                device=f"{device.brand} {device.model}", point=point.name, address=point.address, town=point.town,
                deadline=reservation.held_until)


def reservation_confirmed(reservation: Reservation) -> list:
    """Tell the person their reservation holds (pickup code, place, and the time chosen or the deadline)."""
    if not outbox.reachable(reservation.beneficiary, "reservation_confirmed"):
        return []  # most people reserve without an address: no need to load the place and device
    values, key = _reservation_values(reservation), "reservation_confirmed"
    if reservation.slot_id is not None:
        values["when"], key = reservation.slot.starts_at, "reservation_confirmed_at"
    return outbox.queue_for_beneficiary(reservation.beneficiary, key, values, about=reservation,
                                        dedupe_key=f"reservation_confirmed:{reservation.id}")


def reservation_ready(reservation: Reservation) -> list:
    """Tell the person the device waits at the counter."""
    if not outbox.reachable(reservation.beneficiary, "reservation_ready"):
        return []  # most people reserve without an address: no need to load the place and device
    return outbox.queue_for_beneficiary(reservation.beneficiary, "reservation_ready",
                                        _reservation_values(reservation), about=reservation,
                                        dedupe_key=f"reservation_ready:{reservation.id}")


def slot_closed(reservation: Reservation, starts_at) -> list:
    """The point closed at the person's pickup time; the device stays reserved. The person is asked
    to choose again; when no message can reach them (no texts agreed, no e-mail), the worker who
    reserved for them or issued their code is told instead, so nobody waits for a closed counter."""
    person, point = reservation.beneficiary, reservation.pickup_point
    values = dict(name=person.display_name, number=reservation.number, point=point.name, town=point.town,
                  when=starts_at, pickup_code=reservation.pickup_code)
    dedupe = f"slot_closed:{reservation.id}:{reservation.slot_id}"
    if outbox.reachable(person, "slot_closed"):
        return outbox.queue_for_beneficiary(person, "slot_closed", values, about=reservation, dedupe_key=dedupe)
    worker = _issuer(reservation.created_by_id) or _issuer(reservation.code.issued_by_id)
    if worker is None:
        return []
    values["link"] = external_url("partner.reservation", number=reservation.number)
    # In the shop's language, not the admin's who closed the day: the worker is not acting now.
    return outbox.queue_for_user(worker, "slot_closed_worker", values, about=reservation,
                                 dedupe_key=dedupe + ":worker", language=current_app.config["BABEL_DEFAULT_LOCALE"])


def pickup_reminder(reservation: Reservation) -> list:
    """Two days before the pickup deadline: the person, and the worker who issued their code."""
    values = _reservation_values(reservation)
    queued = outbox.queue_for_beneficiary(reservation.beneficiary, "pickup_reminder", values, about=reservation,
                                          dedupe_key=f"pickup_reminder:{reservation.id}")
    worker = _issuer(reservation.code.issued_by_id)
    if worker is not None:
        queued += outbox.queue_for_user(worker, "pickup_reminder", values, about=reservation,
                                        dedupe_key=f"pickup_reminder:{reservation.id}:worker")
    return queued


def code_ending(code) -> list:
    """Seven days before an unused code ends: the person, and the worker who issued it."""
    person = code.beneficiary
    link = current_app.config["PUBLIC_URL"].rstrip("/") + "/catalog"
    queued = outbox.queue_for_beneficiary(person, "code_ending", dict(name=person.display_name,
                                                                      expires_at=code.expires_at, link=link),
                                          about=code, dedupe_key=f"code_ending:{code.id}")
    worker = _issuer(code.issued_by_id)
    if worker is not None:
        queued += outbox.queue_for_user(worker, "code_ending_worker",
                                        dict(name=person.display_name, expires_at=code.expires_at),
                                        about=code, dedupe_key=f"code_ending:{code.id}:worker")
    return queued


def invitation(user: User, token: str, *, inviter: User | None) -> list:
    """Invite a new account holder to choose a password (the link lives 7 days)."""
    link = external_url("auth.accept_invitation", token=token)
    if user.organisation is not None:
        values = dict(name=user.name, inviter=inviter.name if inviter else "", structure=user.organisation.name,
                      link=link)
        key = "invitation_partner"
    else:
        values, key = dict(name=user.name, link=link), "invitation"
    return outbox.queue_for_user(user, key, values, about=user, dedupe_key=f"invitation:{_token_id(token)}")


def password_reset(user: User, token: str) -> list:
    """A link to choose a new password (lives 2 hours)."""
    return outbox.queue_for_user(user, "password_reset",
                                 dict(name=user.name, link=external_url("auth.reset_password", token=token)),
                                 about=user, dedupe_key=f"password_reset:{_token_id(token)}")


def external_url(endpoint: str, **values) -> str:
    """An absolute link: from the request's host when there is one, else from PUBLIC_URL."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return url_for(endpoint, _external=True, **values)


def _token_id(token: str) -> str:
    return keys.token_hash(token)[:32]  # names the link without storing it


def _issuer(issued_by_id: int | None) -> User | None:
    worker = db.session.get(User, issued_by_id) if issued_by_id else None
    return worker if worker is not None and worker.active else None
