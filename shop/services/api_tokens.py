"""API tokens: created by admins for one role and scope, shown once, stored hashed; the scope
every API query goes through; and the stored answers of POSTs sent with an Idempotency-Key."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.models import ApiRole, ApiToken, Device, DonationBatch, Donor, EligibilityCode, IdempotentRequest, Organisation
from shop.models.types import utcnow
from shop.services import audit, webhooks
from shop.services.errors import DomainError, NotFound
from shop.services.tx import atomic

PREFIX = "shop_"  # makes a token recognisable (in a query string, a log, a leaked file)
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most once a minute per token
IDEMPOTENCY_LIFETIME = timedelta(hours=24)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@atomic
def create(*, name: str, role: ApiRole, donor_ids: list[int] | None = None, organisation_id: int | None = None,
           expires_on: date | None = None, webhook_url: str | None = None, actor) -> tuple[ApiToken, str]:
    """A new token; returns it with its secret, which is never stored and shown only this once.
    A refurbisher's token may have a webhook URL: its signing secret is then on
    `token.webhook_secret_once`, for this one showing too (stored encrypted, to sign)."""
    role = ApiRole(role)
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("This field is required."), field="name")
    donors = []
    if role == ApiRole.PARTNER:
        if organisation_id is None or db.session.get(Organisation, organisation_id) is None:
            raise DomainError(_l("Choose the structure this token reads."), field="organisation")
    else:
        organisation_id = None
        donors = list(db.session.scalars(sa.select(Donor).where(Donor.id.in_(donor_ids or []))))
        if not donors or (role == ApiRole.DONOR and len(donors) != 1):
            raise DomainError(_l("A donor token reads one donor; a refurbisher token needs at least one."),
                              field="donors")
    expires_at = None
    if expires_on is not None:
        if expires_on <= utcnow().date():
            raise DomainError(_l("The end date must be in the future."), field="expires_on")
        expires_at = datetime.combine(expires_on, time(), tzinfo=timezone.utc)
    webhook_secret = webhook_once = None
    if webhook_url and webhook_url.strip():
        if role != ApiRole.REFURBISHER:
            raise DomainError(_l("Only a refurbisher token sends webhooks."), field="webhook_url")
        webhook_url = webhooks.check_url(webhook_url)
        webhook_once, webhook_secret = webhooks.new_secret()
    else:
        webhook_url = None
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name[:120], token_hash=hash_token(raw), prefix=raw[:12], role=role,
                     organisation_id=organisation_id, created_by_id=getattr(actor, "id", None), expires_at=expires_at,
                     webhook_url=webhook_url, webhook_secret=webhook_secret)
    token.webhook_secret_once = webhook_once
    token.donors = donors
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "api_token.create", token, role=role.value)
    return token, raw


def revoke(token: ApiToken, *, actor) -> bool:
    """The token stops working at once (a conditional UPDATE: revoking twice records it once)."""
    result = db.session.execute(sa.update(ApiToken).where(ApiToken.id == token.id, ApiToken.revoked_at.is_(None))
                                .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    if result.rowcount:
        audit.record(actor, "api_token.revoke", token)
        db.session.expire(token)
    return bool(result.rowcount)


def all_tokens() -> list[ApiToken]:
    return list(db.session.scalars(sa.select(ApiToken).order_by(ApiToken.revoked_at.is_not(None),
                                                                ApiToken.created_at.desc(), ApiToken.id.desc())))


def authenticate(raw: str | None, now: datetime | None = None) -> ApiToken | None:
    """The live token with this secret, else None; notes when it was last used (once a minute)."""
    now = now or utcnow()
    if not raw or len(raw) > 100 or not raw.startswith(PREFIX):
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None or not token.live(now):
        return None
    if token.last_used_at is None or token.last_used_at < now - TOUCH_EVERY:
        db.session.execute(sa.update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
                           .execution_options(synchronize_session=False))
        token.last_used_at = now
    return token


# --- What a token may see --------------------------------------------------------------------

@dataclass
class ApiScope:
    """Every query of the API goes through here, bound to the token's donors or structure:
    anything outside answers "not found", as if it did not exist."""

    token: ApiToken

    @property
    def donor_ids(self) -> list[int]:
        return [donor.id for donor in self.token.donors]

    def donor(self, donor_id: int) -> Donor:
        if donor_id not in self.donor_ids:
            raise NotFound(_l("Unknown donor."), field="donor_id")
        return db.session.get(Donor, donor_id)

    def batches(self, *, after_id: int = 0, limit: int = 50) -> list[DonationBatch]:
        return list(db.session.scalars(
            sa.select(DonationBatch).where(DonationBatch.donor_id.in_(self.donor_ids), DonationBatch.id > after_id)
            .order_by(DonationBatch.id).limit(limit)))

    def batch(self, batch_id: int) -> DonationBatch:
        batch = db.session.get(DonationBatch, batch_id)
        if batch is None or batch.donor_id not in self.donor_ids:
            raise NotFound(_l("This batch does not exist."))
        return batch

    def batch_references(self, references: set[str]) -> set[str]:
        """The references among these that belong to the token's donors."""
        if not references:
            return set()
        return set(db.session.scalars(sa.select(DonationBatch.reference).where(
            DonationBatch.reference.in_(sorted(references)), DonationBatch.donor_id.in_(self.donor_ids))))

    def _devices(self):
        return (sa.select(Device).join(DonationBatch, DonationBatch.id == Device.batch_id)
                .where(DonationBatch.donor_id.in_(self.donor_ids)))

    def device(self, serial: str) -> Device:
        device = db.session.scalar(self._devices().where(Device.serial_number == serial[:80]))
        if device is None:
            raise NotFound(_l("This device does not exist."))
        return device

    def devices(self, *, batch_id: int | None = None, after_id: int = 0, limit: int = 50) -> list[Device]:
        stmt = self._devices().where(Device.id > after_id).order_by(Device.id).limit(limit)
        if batch_id is not None:
            stmt = stmt.where(Device.batch_id == self.batch(batch_id).id)
        return list(db.session.scalars(stmt))

    def codes(self, *, after_id: int = 0, limit: int = 50) -> list[EligibilityCode]:
        return list(db.session.scalars(
            sa.select(EligibilityCode).where(EligibilityCode.organisation_id == self.token.organisation_id,
                                             EligibilityCode.id > after_id)
            .order_by(EligibilityCode.id).limit(limit)))


# --- Idempotency-Key ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Stored:
    status_code: int | None
    body: str | None
    same_request: bool


def claim_key(token: ApiToken, key: str, fingerprint: str) -> IdempotentRequest | Stored:
    """Take the key for this request (a conditional insert), or what an earlier one stored.

    The INSERT runs in a savepoint: on a duplicate key it fails and only the savepoint is undone.
    On PostgreSQL a request sent at the same moment with the same key waits on the unique index
    until the first one commits (then reads its answer) or rolls back (then goes on itself).
    """
    row = IdempotentRequest(token_id=token.id, key=key, fingerprint=fingerprint)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
        return row
    except IntegrityError:
        pass
    earlier = db.session.execute(sa.select(IdempotentRequest.fingerprint, IdempotentRequest.status_code,
                                           IdempotentRequest.body)
                                 .where(IdempotentRequest.token_id == token.id, IdempotentRequest.key == key)).first()
    if earlier is None:  # the earlier request rolled back meanwhile: ask to send again
        return Stored(None, None, same_request=True)
    return Stored(earlier.status_code, earlier.body, same_request=earlier.fingerprint == fingerprint)


def store_answer(row: IdempotentRequest, status_code: int, body: str) -> None:
    db.session.execute(sa.update(IdempotentRequest).where(IdempotentRequest.id == row.id)
                       .values(status_code=status_code, body=body).execution_options(synchronize_session=False))


def forget_old_answers(now: datetime | None = None) -> int:
    """Answers are kept 24 hours (called by `flask purge`)."""
    return db.session.execute(sa.delete(IdempotentRequest).where(
        IdempotentRequest.created_at < (now or utcnow()) - IDEMPOTENCY_LIFETIME)).rowcount
