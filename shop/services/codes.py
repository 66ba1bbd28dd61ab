"""Eligibility codes: generation, normalisation, keyed hashing and their rules.

A code is 13 Crockford base-32 symbols (65 random bits from `secrets`) followed by one check
symbol (value mod 37), shown as `ABCD EFGH JKMN PQ`. Codes whose check symbol would be one of
`* ~ $ = U` are drawn again, so every code reads aloud as plain letters and digits (64.8 bits
remain). A code is stored only as an HMAC of its 13 symbols: the database never holds it in clear.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from shop.extensions import db
from shop.models import (
    Beneficiary, CodeCategory, CodeState, EligibilityCode, Organisation, QuotaUsage, User,
)
from shop.models.types import utcnow
from shop.services import audit, keys, yearly_limit
from shop.services.errors import Conflict, DomainError
from shop.services.tx import atomic

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
BODY_LENGTH = 13
_VALUES = {symbol: value for value, symbol in enumerate(CHECK_ALPHABET)}
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})

DEFAULT_VALIDITY_DAYS = 90
MAX_VALIDITY_DAYS = 365
PARIS = ZoneInfo("Europe/Paris")


class InvalidCode(DomainError):
    """The text typed is not a well-formed code (a typo): not a failed attempt."""


def check_symbol(body: str) -> str:
    return CHECK_ALPHABET[int_value(body) % 37]


def int_value(body: str) -> int:
    value = 0
    for symbol in body:
        value = value * 32 + _VALUES[symbol]
    return value


def generate() -> str:
    """A new random code with its check symbol, normalised (14 symbols, no separators)."""
    while True:
        number = secrets.randbits(5 * BODY_LENGTH)
        body = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(BODY_LENGTH)))
        check = check_symbol(body)
        if check in ALPHABET:  # never * ~ $ = U: easy to dictate and to type on a phone
            return body + check


def normalise(text: str) -> str:
    """Upper-case, drop spaces and dashes, read O as 0 and I/L as 1."""
    cleaned = "".join(ch for ch in text.upper() if not ch.isspace() and ch not in "-_.")
    return cleaned.translate(_FOLD)


def parse(text: str) -> str:
    """The 12-symbol body of a typed code, after checking its form and check symbol."""
    code = normalise(text or "")
    if len(code) != BODY_LENGTH + 1 or any(ch not in ALPHABET for ch in code[:-1]) or code[-1] not in CHECK_ALPHABET:
        raise InvalidCode(_l("This code is not complete or has a typo. Check the 14 characters on your slip."))
    if check_symbol(code[:-1]) != code[-1]:
        raise InvalidCode(_l("This code has a typo. Please check each character on your slip."))
    return code[:-1]


def display(code: str) -> str:
    """`ABCDEFGHJKMNPQ` → `ABCD EFGH JKMN PQ`."""
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def _key() -> bytes:
    configured = current_app.config.get("CODE_HASH_KEY")
    if configured:
        return configured.encode()
    return keys.derived_key("eligibility-code")


def hash_body(body: str) -> str:
    return hmac.new(_key(), body.encode(), hashlib.sha256).hexdigest()


def with_holder():
    """A select of codes with their holder joined in: using a code always checks the holder too."""
    return sa.select(EligibilityCode).options(joinedload(EligibilityCode.beneficiary, innerjoin=True))


# The code with its holder, in one query: using a code always checks the holder too.
_BY_HASH = with_holder().where(EligibilityCode.code_hash == sa.bindparam("hash"))
_BY_ID = with_holder().where(EligibilityCode.id == sa.bindparam("code_id"))


def find(text: str) -> EligibilityCode | None:
    """The code matching typed text (InvalidCode on a typo), or None if no such code exists."""
    return db.session.scalar(_BY_HASH, {"hash": hash_body(parse(text))})


def get(code_id: int) -> EligibilityCode | None:
    """The code with this id, and its holder."""
    return db.session.scalar(_BY_ID, {"code_id": code_id})


def month_key(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%Y-%m")


def quota_used(organisation_id: int, now: datetime | None = None) -> int:
    return db.session.scalar(
        sa.select(QuotaUsage.issued).where(
            QuotaUsage.organisation_id == organisation_id, QuotaUsage.month == month_key(now or utcnow())
        )
    ) or 0


def _take_quota_slot(organisation: Organisation, now: datetime) -> None:
    """Count one code against this month's quota, atomically: the last slot goes to one caller."""
    month = month_key(now)
    try:
        with db.session.begin_nested():
            db.session.add(QuotaUsage(organisation_id=organisation.id, month=month, issued=0))
    except sa.exc.IntegrityError:
        pass  # the month's row exists already (perhaps created by a concurrent caller)
    quota = sa.select(Organisation.monthly_quota).where(Organisation.id == organisation.id).scalar_subquery()
    result = db.session.execute(
        sa.update(QuotaUsage)
        .where(QuotaUsage.organisation_id == organisation.id, QuotaUsage.month == month, QuotaUsage.issued < quota)
        .values(issued=QuotaUsage.issued + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise DomainError(
            _l("Your structure has used all its codes for this month. Your partner admin can ask for more.")
        )


@atomic
def issue(
    beneficiary: Beneficiary,
    categories: list[CodeCategory],
    *,
    worker: User,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    replaces: EligibilityCode | None = None,
    now: datetime | None = None,
) -> tuple[EligibilityCode, str]:
    """Issue a code for a beneficiary of the worker's structure; returns (row, code in clear).

    Checks the structure is active, the monthly quota and the per-person limits. The clear code
    is returned once, for the slip, and never stored.
    """
    now = now or utcnow()
    categories = sorted({CodeCategory(c) for c in categories}, key=list(CodeCategory).index)
    if not categories:
        raise DomainError(_l("Choose at least one kind of device."))
    if not 1 <= validity_days <= MAX_VALIDITY_DAYS:
        raise DomainError(lazy_ngettext("The validity must be between 1 and %(num)d day.", "The validity must be between 1 and %(num)d days.", MAX_VALIDITY_DAYS))
    organisation = beneficiary.organisation
    if worker.organisation_id != organisation.id or not organisation.is_active:
        raise DomainError(_l("Your structure cannot issue codes at the moment."))
    if beneficiary.anonymised_at is not None:
        raise DomainError(_l("This person's record was anonymised."))
    yearly_limit.check_issue(beneficiary.id, categories, now, replaces_id=replaces.id if replaces else None)
    if replaces is None:  # a replacement for a lost slip does not count against the quota
        _take_quota_slot(organisation, now)
    code = generate()
    row = EligibilityCode(
        code_hash=hash_body(code[:-1]), beneficiary_id=beneficiary.id, organisation_id=organisation.id,
        issued_by_id=worker.id, categories=" ".join(c.value for c in categories), status=CodeState.ACTIVE,
        issued_at=now, expires_at=now + timedelta(days=validity_days), replaces_id=replaces.id if replaces else None,
    )
    db.session.add(row)
    beneficiary.last_activity_at = now
    db.session.flush()
    audit.record(worker, "code.issue", row, organisation_id=organisation.id,
                 categories=row.categories, days=validity_days)
    return row, code


def _set_status(code: EligibilityCode, expected: CodeState, new: CodeState, **values) -> None:
    result = db.session.execute(
        sa.update(EligibilityCode)
        .where(EligibilityCode.id == code.id, EligibilityCode.status == expected)
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(_l("This code changed in the meantime. Please reload the page."))
    db.session.expire(code)


def revoke(code: EligibilityCode, *, worker: User, reason: str, now: datetime | None = None) -> None:
    """Revoke an active code (even past its date), with a reason."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_l("Please give a reason."))
    if code.status != CodeState.ACTIVE:
        raise DomainError(_l("Only an active code can be revoked."))
    _set_status(code, CodeState.ACTIVE, CodeState.REVOKED, revoked_at=now, revoke_reason=reason[:200])
    audit.record(worker, "code.revoke", code, organisation_id=code.organisation_id, reason=reason[:200])


def extend(code: EligibilityCode, *, worker: User, days: int, reason: str, now: datetime | None = None) -> None:
    """Push back the end date of an active (or just expired) code, with a reason."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_l("Please give a reason."))
    if not 1 <= days <= MAX_VALIDITY_DAYS:
        raise DomainError(lazy_ngettext("The validity must be between 1 and %(num)d day.", "The validity must be between 1 and %(num)d days.", MAX_VALIDITY_DAYS))
    if code.status != CodeState.ACTIVE:
        raise DomainError(_l("Only an active or expired code can be extended."))
    new_end = max(code.expires_at, now) + timedelta(days=days)
    if new_end - code.issued_at > timedelta(days=MAX_VALIDITY_DAYS):
        raise DomainError(lazy_ngettext("A code cannot stay valid more than %(num)d day in all.", "A code cannot stay valid more than %(num)d days in all.", MAX_VALIDITY_DAYS))
    result = db.session.execute(
        sa.update(EligibilityCode)
        .where(EligibilityCode.id == code.id, EligibilityCode.status == CodeState.ACTIVE,
               EligibilityCode.expires_at == code.expires_at)
        .values(expires_at=new_end)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(_l("This code changed in the meantime. Please reload the page."))
    db.session.expire(code)
    audit.record(worker, "code.extend", code, organisation_id=code.organisation_id, days=days, reason=reason[:200])


@atomic
def reissue(code: EligibilityCode, *, worker: User, reason: str, now: datetime | None = None) -> tuple[EligibilityCode, str]:
    """Revoke a code (lost slip…) and issue a new one with the same categories and end date."""
    now = now or utcnow()
    remaining = max(1, (code.expires_at - now).days) if code.expires_at > now else DEFAULT_VALIDITY_DAYS
    categories = code.category_list
    beneficiary = code.beneficiary
    revoke(code, worker=worker, reason=reason, now=now)
    new, clear = issue(beneficiary, categories, worker=worker, validity_days=min(remaining, MAX_VALIDITY_DAYS),
                       replaces=code, now=now)
    audit.record(worker, "code.reissue", new, organisation_id=new.organisation_id, replaces=code.id)
    return new, clear
