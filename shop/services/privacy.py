"""A beneficiary's rights: everything held about them (access), and erasure on request."""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.models import Beneficiary, CodeState, Reservation, ReservationStatus, User, WaitlistEntry
from shop.models.types import utcnow
from shop.services import audit, codes, payments, retention, waitlist
from shop.services.errors import DomainError
from shop.services.tx import atomic

ERASURE_REASON = "erasure on request"


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def held_reservations(person: Beneficiary) -> list[Reservation]:
    return list(db.session.scalars(
        sa.select(Reservation).where(Reservation.beneficiary_id == person.id)
        .options(selectinload(Reservation.payments), selectinload(Reservation.device))
        .order_by(Reservation.created_at)
    ))


def everything_about(person: Beneficiary, *, actor: User) -> dict:
    """All the shop holds about one person, as plain data: their own fields, codes, reservations
    and payments; never anything about another person (not even who served them). Audited."""
    audit.record(actor, "beneficiary.export", person, organisation_id=person.organisation_id, format="json")
    return {
        "person": {
            "reference": person.id,
            "name": person.display_name,
            "birth_year": person.birth_year,
            "language": person.language,
            "phone": person.phone,
            "texts_agreed_on": person.sms_phone if person.texts_allowed else None,
            "texts_agreed_at": _when(person.sms_consent_at),
            "email": person.email,
            "eligibility_ground": person.ground.value,
            "justification": person.justification,
            "structure": person.organisation.name,
            "registered_at": _when(person.created_at),
            "last_activity_at": _when(person.last_activity_at),
            "anonymised_at": _when(person.anonymised_at),
        },
        "codes": [
            {
                "reference": code.id,
                "state": code.state().value,
                "categories": [c.value for c in code.category_list],
                "issued_at": _when(code.issued_at),
                "expires_at": _when(code.expires_at),
                "used_at": _when(code.used_at),
                "revoked_at": _when(code.revoked_at),
            }
            for code in sorted(person.codes, key=lambda c: c.id)
        ],
        "reservations": [
            {
                "number": found.number,
                "state": found.state().value,
                "device": f"{found.device.brand} {found.device.model}",
                "category": found.device.category.value,
                "price_cents": found.amount_cents,
                "payment_method": found.payment_method.value,
                "reserved_at": _when(found.created_at),
                "picked_up_at": _when(found.picked_up_at),
                "ended_at": _when(found.ended_at),
                "payments": [
                    {"kind": p.kind.value, "channel": p.channel.value, "status": p.status.value,
                     "amount_cents": p.amount_cents, "at": _when(p.created_at)}
                    for p in found.payments
                ],
            }
            for found in held_reservations(person)
        ],
        "waitlist": [
            {
                "category": entry.category.value,
                "pickup_point": entry.pickup_point.name,
                "any_point_in_town": entry.any_point_in_town,
                "max_price_cents": entry.max_price_cents,
                "state": entry.status.value,
                "joined_at": _when(entry.joined_at),
                "offered_at": _when(entry.offered_at),
                "ended_at": _when(entry.ended_at),
            }
            for entry in db.session.scalars(sa.select(WaitlistEntry).where(WaitlistEntry.beneficiary_id == person.id)
                                            .order_by(WaitlistEntry.id))
        ],
    }


def erasure_preview(person: Beneficiary, now: datetime | None = None) -> dict:
    """What erasing this person will do, to show before asking for confirmation."""
    now = now or utcnow()
    held = held_reservations(person)
    return {
        "running": [r for r in held if r.is_running(now)],
        "handed_over": [r for r in held if r.status == ReservationStatus.PICKED_UP],
        "live_codes": [c for c in person.codes if c.state(now) == CodeState.ACTIVE],
    }


@atomic
def erase(person: Beneficiary, *, actor: User, now: datetime | None = None) -> dict:
    """Erase a person on request: a running reservation is cancelled (its device goes back on
    sale, an online payment is refunded), live codes are revoked, and the personal fields are
    anonymised now. Sales already made stay, without the name: the shop must keep them."""
    now = now or utcnow()
    if person.anonymised_at is not None:
        raise DomainError(_l("This person's data is already erased."))
    preview = erasure_preview(person, now)
    for found in preview["running"]:
        payments.cancel_and_refund(found, reason=ERASURE_REASON, actor=actor, now=now)
    for entry in waitlist.in_line_for(person.id):  # a unit held for the person goes to the next in line
        waitlist.leave(entry, actor=actor, now=now)
    db.session.refresh(person, ["codes"])
    revoked = 0
    for code in person.codes:
        if code.status == CodeState.ACTIVE:
            codes.revoke(code, worker=actor, reason=ERASURE_REASON, now=now)
            revoked += 1
    retention.anonymise(person, now=now, actor=actor)
    summary = {"cancelled": len(preview["running"]), "revoked": revoked, "handed_over": len(preview["handed_over"])}
    audit.record(actor, "beneficiary.erase", person, organisation_id=person.organisation_id, **summary)
    return summary
