"""Donors, their donation batches, and the secret links that show a donor its own report."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.models import Device, DonationBatch, Donor, DonorKind, DonorShareLink
from shop.models.types import utcnow
from shop.services import audit, keys
from shop.services.errors import DomainError, NotFound
from shop.services.tx import atomic


# --- Donors -------------------------------------------------------------------------------------

def donors() -> list[tuple[Donor, int, int]]:
    """Every donor with its number of batches and of devices received, by name."""
    batches = (sa.select(DonationBatch.donor_id, sa.func.count(DonationBatch.id).label("n"))
               .group_by(DonationBatch.donor_id).subquery())
    devices = (sa.select(DonationBatch.donor_id, sa.func.count(Device.id).label("n"))
               .join(Device, Device.batch_id == DonationBatch.id).group_by(DonationBatch.donor_id).subquery())
    return list(db.session.execute(
        sa.select(Donor, sa.func.coalesce(batches.c.n, 0), sa.func.coalesce(devices.c.n, 0))
        .outerjoin(batches, batches.c.donor_id == Donor.id)
        .outerjoin(devices, devices.c.donor_id == Donor.id)
        .order_by(Donor.name)
    ).tuples())


def _check_donor_name(name: str, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("This field is required."), field="name")
    clash = db.session.scalar(sa.select(Donor.id).where(sa.func.lower(Donor.name) == name.lower(),
                                                        Donor.id != (exclude_id or -1)))
    if clash is not None:
        raise DomainError(_l("A donor with this name exists already."), field="name")
    return name


@atomic
def create_donor(*, name: str, kind: DonorKind, actor) -> Donor:
    donor = Donor(name=_check_donor_name(name), kind=DonorKind(kind))
    db.session.add(donor)
    db.session.flush()
    audit.record(actor, "donor.create", donor)
    return donor


@atomic
def update_donor(donor: Donor, *, name: str, kind: DonorKind, actor) -> None:
    donor.name = _check_donor_name(name, donor.id)
    donor.kind = DonorKind(kind)
    db.session.flush()
    audit.record(actor, "donor.update", donor)


# --- Batches ------------------------------------------------------------------------------------

@dataclass
class BatchData:
    reference: str
    received_on: date
    declared_count: int
    collection_site: str | None = None
    notes: str | None = None


def _clean_batch(data: BatchData, exclude_id: int | None = None) -> dict:
    reference = (data.reference or "").strip()
    if not reference:
        raise DomainError(_l("This field is required."), field="reference")
    if data.declared_count is None or data.declared_count < 0:
        raise DomainError(_l("The declared count cannot be negative."), field="declared_count")
    if data.received_on > utcnow().date():
        raise DomainError(_l("The date received cannot be in the future."), field="received_on")
    clash = db.session.scalar(sa.select(DonationBatch.id).where(DonationBatch.reference == reference,
                                                                DonationBatch.id != (exclude_id or -1)))
    if clash is not None:
        raise DomainError(_l("A batch with this reference exists already."), field="reference")
    return dict(reference=reference, received_on=data.received_on, declared_count=data.declared_count,
                collection_site=(data.collection_site or "").strip() or None, notes=(data.notes or "").strip() or None)


@atomic
def create_batch(donor: Donor, data: BatchData, *, actor) -> DonationBatch:
    batch = DonationBatch(donor_id=donor.id, **_clean_batch(data))
    db.session.add(batch)
    db.session.flush()
    audit.record(actor, "batch.create", batch)
    return batch


@atomic
def update_batch(batch: DonationBatch, data: BatchData, *, actor) -> None:
    for name, value in _clean_batch(data, batch.id).items():
        setattr(batch, name, value)
    db.session.flush()
    audit.record(actor, "batch.update", batch)


@dataclass
class BatchCount:
    batch: DonationBatch
    received: int

    @property
    def difference(self) -> int:
        """Received minus declared: negative when devices are missing."""
        return self.received - self.batch.declared_count


def batch_counts(donor_id: int | None = None) -> list[BatchCount]:
    """Batches (of one donor, or all) with the number of devices received in each, newest first."""
    received = sa.func.count(Device.id)
    stmt = (sa.select(DonationBatch, received).outerjoin(Device, Device.batch_id == DonationBatch.id)
            .group_by(DonationBatch.id).order_by(DonationBatch.received_on.desc(), DonationBatch.id.desc()))
    if donor_id is not None:
        stmt = stmt.where(DonationBatch.donor_id == donor_id)
    return [BatchCount(batch, n) for batch, n in db.session.execute(stmt).tuples()]


def batch_devices(batch_id: int) -> list[Device]:
    return list(db.session.scalars(sa.select(Device).where(Device.batch_id == batch_id).order_by(Device.serial_number)))


# --- Share links --------------------------------------------------------------------------------

hash_token = keys.token_hash


def live_link(donor_id: int) -> DonorShareLink | None:
    return db.session.scalar(sa.select(DonorShareLink).where(DonorShareLink.donor_id == donor_id,
                                                             DonorShareLink.revoked_at.is_(None)))


@atomic
def create_share_link(donor: Donor, *, actor) -> str:
    """A new secret link for a donor, replacing any live one; returns the token, shown once."""
    revoke_share_links(donor, actor=actor)
    token, hashed = keys.new_token()
    db.session.add(DonorShareLink(donor_id=donor.id, token_hash=hashed, created_by_id=getattr(actor, "id", None)))
    db.session.flush()
    audit.record(actor, "donor.share_link.create", donor)
    return token


def revoke_share_links(donor: Donor, *, actor) -> int:
    """Every live link of the donor stops working at once."""
    revoked = db.session.execute(
        sa.update(DonorShareLink).where(DonorShareLink.donor_id == donor.id, DonorShareLink.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    if revoked:
        audit.record(actor, "donor.share_link.revoke", donor)
    return revoked


def donor_for_token(token: str) -> Donor:
    """The donor a live link belongs to; NotFound for an unknown or revoked link."""
    if not token or len(token) > 100:
        raise NotFound(_l("This link does not work."))
    donor = db.session.scalar(
        sa.select(Donor).join(DonorShareLink, DonorShareLink.donor_id == Donor.id)
        .where(DonorShareLink.token_hash == hash_token(token), DonorShareLink.revoked_at.is_(None))
    )
    if donor is None:
        raise NotFound(_l("This link does not work."))
    return donor
