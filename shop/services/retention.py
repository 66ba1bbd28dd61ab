"""How long personal data is kept: people are anonymised after a quiet period; old audit goes."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from shop.extensions import db
from shop.models import AuditEntry, Beneficiary, EligibilityCode, EligibilityGround, Message, Reservation
from shop.models.types import utcnow
from shop.services import audit

DEFAULT_RETENTION_MONTHS = 24
AUDIT_RETENTION = timedelta(days=365)


def retention_cutoff(now: datetime) -> datetime:
    months = current_app.config.get("RETENTION_MONTHS", DEFAULT_RETENTION_MONTHS)
    return now - timedelta(days=round(months * 30.44))


def purge(now: datetime | None = None) -> dict[str, int]:
    """Anonymise people quiet since the retention period, and delete audit entries over a year old.

    A person with a code still valid or a reservation still running is kept. Safe to run twice:
    anonymised people are skipped. Anonymous figures (ground, structure, decade of birth) stay.
    """
    now = now or utcnow()
    busy_codes = sa.select(EligibilityCode.beneficiary_id).where(
        EligibilityCode.is_valid(now))
    busy_reservations = sa.select(Reservation.beneficiary_id).where(
        Reservation.is_running(now))
    quiet = list(db.session.scalars(
        sa.select(Beneficiary).where(
            Beneficiary.anonymised_at.is_(None),
            Beneficiary.last_activity_at < retention_cutoff(now),
            Beneficiary.id.not_in(busy_codes),
            Beneficiary.id.not_in(busy_reservations),
        )
    ))
    for person in quiet:
        anonymise(person, now=now)
    removed = db.session.execute(sa.delete(AuditEntry).where(AuditEntry.at < now - AUDIT_RETENTION)).rowcount
    return {"anonymised": len(quiet), "audit_entries_deleted": removed}


ERASED_JUSTIFICATION = "-"


def anonymise(person: Beneficiary, *, now: datetime, actor=None) -> None:
    """Remove what identifies a person; keep what anonymous statistics need."""
    person.display_name = f"#{person.id}"
    person.name_key = ""
    person.phone = None
    person.email = None
    person.sms_phone = None
    person.sms_consent_at = None
    # The outbox holds their address and name: queued messages are dropped, sent ones forgotten.
    db.session.execute(sa.delete(Message).where(Message.beneficiary_id == person.id))
    # The free text may identify the person; a ground of "other" still needs one (a constraint).
    person.justification = ERASED_JUSTIFICATION if person.ground == EligibilityGround.OTHER else None
    person.duplicate_override_reason = None
    person.birth_year = person.birth_year // 10 * 10
    person.anonymised_at = now
    db.session.flush()
    audit.record(actor, "beneficiary.anonymise", person, organisation_id=person.organisation_id)
