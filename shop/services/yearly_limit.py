"""The yearly limit: one computer and one smartphone per person per rolling 12 months.

Checked when a code is issued (`services.codes.issue`) and again when it is used
(`services.reservations.reserve`): both ask this module, which owns the window, the limited code
categories, what counts (a live code, a running or picked-up reservation) and the refusal texts.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.models import ACTIVE_STATUSES, AftersaleCase, CaseOutcome, CodeCategory, Device, EligibilityCode, Reservation
from shop.services.errors import DomainError

# The texts below name the window in words ("12 months", "per year") so that each language can
# say it naturally; tests/test_yearly_limit.py fails if the window changes without them.
WINDOW_MONTHS = 12
WINDOW = timedelta(days=365)
# At most one code (or purchase) per window in these categories, per person.
LIMITED_CATEGORIES = (CodeCategory.COMPUTER, CodeCategory.SMARTPHONE)
# Reservations that count as a purchase: running (unless their hold ran out) or picked up, unless
# the device came back and was refunded (an after-sale case): that sale is undone, and the person
# may get another device of the kind (with a new code) within the 12 months.
LIVE = (*ACTIVE_STATUSES, "picked_up")
REFUNDED = sa.exists().where(AftersaleCase.reservation_id == Reservation.id,
                             AftersaleCase.outcome == CaseOutcome.REFUNDED)


def _in_order(categories) -> list[CodeCategory]:
    return sorted(categories, key=list(CodeCategory).index)


def limited(categories) -> set[CodeCategory]:
    """The limited ones among these code categories."""
    return set(categories) & set(LIMITED_CATEGORIES)


def bought(rows, now: datetime) -> set[CodeCategory]:
    """The limited categories among (device category, status, held_until) reservation rows that
    still count as bought: a hold that ran out is no purchase."""
    found = set()
    for category, status, held_until in rows:
        if status.value in ACTIVE_STATUSES and held_until <= now:
            continue
        found.add(CodeCategory.of(category))
    return limited(found)


def categories_bought(beneficiary_id: int, now: datetime, *, exclude_code_id: int | None = None) -> set[CodeCategory]:
    """Limited categories this person has reserved (still running) or picked up in the window."""
    rows = db.session.execute(
        sa.select(Device.category, Reservation.status, Reservation.held_until)
        .join(Device, Device.id == Reservation.device_id)
        .where(Reservation.beneficiary_id == beneficiary_id, Reservation.created_at > now - WINDOW,
               Reservation.status.in_(LIVE), Reservation.code_id != (exclude_code_id or -1), ~REFUNDED)
    )
    return bought(rows, now)


def categories_in_use(beneficiary_id: int, now: datetime, *, exclude_code_id: int | None = None) -> set[CodeCategory]:
    """Limited categories this person holds a live code for, or bought, in the window."""
    rows = db.session.scalars(
        sa.select(EligibilityCode.categories).where(
            EligibilityCode.beneficiary_id == beneficiary_id,
            EligibilityCode.issued_at > now - WINDOW,
            EligibilityCode.is_valid(now),
            EligibilityCode.id != (exclude_code_id or -1),
        )
    )
    taken = limited(CodeCategory(c) for categories in rows for c in categories.split())
    return taken | categories_bought(beneficiary_id, now)


def check_issue(beneficiary_id: int, categories, now: datetime, *, replaces_id: int | None = None) -> None:
    """Refuse a code for limited categories the person already holds a code or a device for."""
    clash = set(categories) & categories_in_use(beneficiary_id, now, exclude_code_id=replaces_id)
    if clash:
        raise DomainError(_l(
            "This person already has a code or a device for: %(categories)s. "
            "The limit is one per 12 months.",
            categories=", ".join(str(c.label) for c in _in_order(clash)),
        ))


def check_reserve(device_category, other_rows, now: datetime) -> None:
    """Refuse a reservation of a limited kind the holder already bought in the window.

    `other_rows`: the holder's reservations made with other codes in the window, as
    (device category, status, held_until) rows (the caller reads them with its own).
    """
    if limited({CodeCategory.of(device_category)}) & bought(other_rows, now):
        raise DomainError(_l(
            "You already have a device of this kind from the last 12 months. "
            "The limit is one per year."
        ))


def hint():
    """The rule in plain words, for the form that issues a code."""
    return _l("At most one computer and one smartphone per person in 12 months.")
