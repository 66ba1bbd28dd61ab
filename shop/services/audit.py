"""The audit trail: who saw or did what, and when."""

import json

from shop.extensions import db
from shop.models import AuditEntry


def record(actor, action: str, target=None, *, organisation_id: int | None = None, **details) -> AuditEntry:
    """Add one audit entry in the caller's transaction. Never pass personal data in `details`."""
    if target is None:
        target_type = target_id = None
    elif isinstance(target, tuple):
        target_type, target_id = target
    else:
        target_type, target_id = target.__tablename__, target.id
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        organisation_id=organisation_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=json.dumps(details, ensure_ascii=False, default=str)[:500] if details else None,
    )
    db.session.add(entry)
    return entry
