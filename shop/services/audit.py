"""The audit trail: who saw or did what, and when."""

import json

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
