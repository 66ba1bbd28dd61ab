"""The audit trail: who saw or did what, and when."""

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shop.extensions import db
from shop.models import AuditEntry
from shop.models.types import utcnow


_ADD = sa.insert(AuditEntry.__table__)  # built once: services write an entry on every change


def record(actor, action: str, target=None, *, organisation_id: int | None = None, **details) -> None:
    """Add one audit entry in the caller's transaction. Never pass personal data in `details`."""
    if target is None:
        target_type = target_id = None
    elif isinstance(target, tuple):
        target_type, target_id = target
    else:
        target_type, target_id = target.__tablename__, target.id
    # A plain INSERT: the entry is never read back in the same request.
    db.session.execute(_ADD, dict(
        at=utcnow(),
        actor_id=getattr(actor, "id", None),
        organisation_id=organisation_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=json.dumps(details, ensure_ascii=False, default=str)[:500] if details else None,
    ))


# --- Reading the trail (admins) ----------------------------------------------------------------

MAX_PAGE = 100
MAX_EXPORT = 10_000


@dataclass(frozen=True)
class AuditFilters:
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC
    actor_email: str | None = None
    action: str | None = None  # exact action, or a prefix ending with "." ("beneficiary.")
    target_type: str | None = None
    target_id: int | None = None
    organisation_id: int | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor_email: str | None
    organisation: str | None
    action: str
    target_type: str | None
    target_id: int | None
    details: str | None


def search(filters: AuditFilters, *, before_id: int | None = None, limit: int = 50) -> list[AuditRow]:
    """Entries newest first, one query whatever the page (keyset: ids below `before_id`)."""
    from shop.models import Organisation, User

    stmt = (
        sa.select(AuditEntry.id, AuditEntry.at, User.email, Organisation.name, AuditEntry.action,
                  AuditEntry.target_type, AuditEntry.target_id, AuditEntry.details)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .outerjoin(Organisation, Organisation.id == AuditEntry.organisation_id)
        .order_by(AuditEntry.id.desc())
        .limit(max(1, min(limit, MAX_EXPORT)))
    )
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    if filters.since is not None:
        stmt = stmt.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditEntry.at < filters.until)
    if filters.actor_email:
        stmt = stmt.where(User.email.contains(filters.actor_email.strip().lower(), autoescape=True))
    if filters.action:
        if filters.action.endswith("."):
            stmt = stmt.where(AuditEntry.action.startswith(filters.action, autoescape=True))
        else:
            stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.target_type:
        stmt = stmt.where(AuditEntry.target_type == filters.target_type)
    if filters.target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == filters.target_id)
    if filters.organisation_id is not None:
        stmt = stmt.where(AuditEntry.organisation_id == filters.organisation_id)
    return [AuditRow(*row) for row in db.session.execute(stmt)]


def known_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
