"""The yearly limit lives in one module, used by code issue and by reservation alike."""

from datetime import timedelta

import pytest
from flask_babel import force_locale

from shop.models import CodeCategory, PaymentMethod, ReservationStatus
from shop.models.types import utcnow
from shop.services import yearly_limit
from shop.services.errors import DomainError
from tests import factories


def test_the_window_in_the_refusals_is_the_window_counted(app):
    """The texts say "12 months" in words: changing the window fails here until they are rewritten."""
    assert yearly_limit.WINDOW_MONTHS == 12 and yearly_limit.WINDOW == timedelta(days=365)
    now = utcnow()
    rows = [("laptop", ReservationStatus.PICKED_UP, now - timedelta(days=1))]
    with app.test_request_context(), force_locale("en"):
        with pytest.raises(DomainError) as refused:
            yearly_limit.check_reserve("desktop", rows, now)
        assert f"{yearly_limit.WINDOW_MONTHS} months" in str(refused.value)
        assert f"{yearly_limit.WINDOW_MONTHS} months" in str(yearly_limit.hint())


def test_only_limited_categories_count_and_a_run_out_hold_is_no_purchase(app):
    now = utcnow()
    rows = [("tablet", ReservationStatus.PICKED_UP, now),
            ("smartphone", ReservationStatus.CONFIRMED, now - timedelta(minutes=1)),  # ran out
            ("laptop", ReservationStatus.CONFIRMED, now + timedelta(days=1))]
    assert yearly_limit.bought(rows, now) == {CodeCategory.COMPUTER}
    yearly_limit.check_reserve("smartphone", rows, now)  # not refused
    yearly_limit.check_reserve("tablet", rows, now)  # not limited


def test_a_live_code_and_a_reservation_both_take_the_category(db):
    from shop.services import reservations

    person = factories.beneficiary()
    code, _ = factories.code(person, categories=("computer",))
    now = utcnow()
    assert yearly_limit.categories_in_use(person.id, now) == {CodeCategory.COMPUTER}
    assert yearly_limit.categories_in_use(person.id, now, exclude_code_id=code.id) == set()
    assert yearly_limit.categories_in_use(person.id, code.expires_at) == set()  # an expired code frees it
    reservations.reserve(code, factories.device().offer_key, method=PaymentMethod.COUNTER, now=now)
    assert yearly_limit.categories_bought(person.id, now) == {CodeCategory.COMPUTER}
    assert yearly_limit.categories_bought(person.id, now, exclude_code_id=code.id) == set()
    with pytest.raises(DomainError, match="12 months"):
        yearly_limit.check_issue(person.id, [CodeCategory.COMPUTER, CodeCategory.TABLET], now)
    yearly_limit.check_issue(person.id, [CodeCategory.SMARTPHONE], now)
