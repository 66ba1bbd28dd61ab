""""Expired", "running", "awaits pickup", "can reserve" are each written once: the Python answer on a
loaded row and the SQL filter agree, whatever the time."""

from datetime import timedelta

import sqlalchemy as sa

from shop.extensions import db as _db
from shop.models import EligibilityCode, PaymentMethod, Reservation, ReservationStatus, User
from shop.models.stock import OFFER_KEY_LENGTH, looks_like_offer_key, offer_key_for
from shop.models.types import utcnow
from shop.services import codes, reservations
from tests import factories


def _sql(model, rule, now) -> set[int]:
    return set(_db.session.scalars(sa.select(model.id).where(rule(now))))


def test_code_rules_agree_in_python_and_sql(db):
    now = utcnow()
    live, _ = factories.code(categories=("tablet",))
    revoked, _ = factories.code(categories=("screen",))
    codes.revoke(revoked, worker=_db.session.get(User, revoked.issued_by_id), reason="lost")
    for moment in (now, live.expires_at - timedelta(seconds=1), live.expires_at, live.expires_at + timedelta(days=1)):
        rows = _db.session.scalars(sa.select(EligibilityCode)).all()
        assert _sql(EligibilityCode, EligibilityCode.is_expired, moment) == {c.id for c in rows if c.is_expired(moment)}
        assert _sql(EligibilityCode, EligibilityCode.is_valid, moment) == {c.id for c in rows if c.is_valid(moment)}
        assert live.can_reserve(None, moment) == (moment < live.expires_at)
        assert not revoked.can_reserve(None, moment)


def test_reservation_rules_agree_in_python_and_sql(db):
    now = utcnow()
    code, _ = factories.code()
    counter = reservations.reserve(code, factories.device().offer_key, method=PaymentMethod.COUNTER, now=now)
    other, _ = factories.code()
    online = reservations.reserve(other, factories.device().offer_key, method=PaymentMethod.CARD_ONLINE, now=now)
    assert not code.can_reserve(counter, now)
    for moment in (now, online.held_until, counter.held_until - timedelta(seconds=1), counter.held_until):
        rows = _db.session.scalars(sa.select(Reservation)).all()
        assert _sql(Reservation, Reservation.is_running, moment) == {r.id for r in rows if r.is_running(moment)}
        assert _sql(Reservation, Reservation.awaits_pickup, moment) == {r.id for r in rows if r.awaits_pickup(moment)}
        assert counter.awaits_pickup(moment) == (moment < counter.held_until)
        assert not online.awaits_pickup(moment)
        assert (online.state(moment) == ReservationStatus.EXPIRED) == (moment >= online.held_until)
    assert code.can_reserve(counter, counter.held_until)  # a hold that ran out frees the code


def test_offer_keys_have_one_shape():
    key = offer_key_for({})
    assert len(key) == OFFER_KEY_LENGTH and looks_like_offer_key(key)
    assert not looks_like_offer_key(key[:-1]) and not looks_like_offer_key(key[:-1] + "/")
    assert not looks_like_offer_key(None)
