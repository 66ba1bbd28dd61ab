import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from shop.models import AuditEntry, CodeCategory, CodeState, EligibilityCode, Role
from shop.models.types import utcnow
from shop.services import codes
from shop.services.codes import ALPHABET, CHECK_ALPHABET, InvalidCode
from shop.services.errors import DomainError
from tests import factories

bodies = st.text(alphabet=ALPHABET, min_size=13, max_size=13)


def test_generated_codes_carry_over_60_bits_and_a_plain_check_symbol():
    seen = {codes.generate() for _ in range(2000)}
    assert len(seen) == 2000
    for code in seen:
        assert len(code) == 14 and all(ch in ALPHABET for ch in code)  # no * ~ $ = U to dictate
        assert codes.check_symbol(code[:13]) == code[13]
    assert len(ALPHABET) ** 13 * 32 / 37 > 2 ** 64  # the redraws leave more than 64 bits


@given(bodies, st.sampled_from([" ", "-", "  ", ""]), st.booleans())
def test_normalisation_round_trips_display_case_and_separators(body, separator, lower):
    code = body + codes.check_symbol(body)
    typed = codes.display(code).replace(" ", separator)
    if lower:
        typed = typed.lower()
    assert codes.parse(typed) == body


@given(bodies)
def test_ambiguous_letters_are_folded(body):
    code = body + codes.check_symbol(body)
    typed = code.replace("0", "O").replace("1", "I")
    assert codes.parse(typed) == body
    assert codes.parse(code.replace("1", "l")) == body


@given(bodies, st.integers(0, 13), st.sampled_from(CHECK_ALPHABET))
def test_check_symbol_catches_every_single_substitution(body, position, replacement):
    code = body + codes.check_symbol(body)
    if code[position] == replacement or (position < 13 and replacement not in ALPHABET):
        return
    typo = code[:position] + replacement + code[position + 1:]
    with pytest.raises(InvalidCode):
        codes.parse(typo)


@given(bodies, st.integers(0, 12))
def test_check_symbol_catches_every_adjacent_swap(body, position):
    code = body + codes.check_symbol(body)
    if code[position] == code[position + 1]:
        return
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2:]
    if position == 12 and swapped[13] not in CHECK_ALPHABET:
        return
    with pytest.raises(InvalidCode):
        codes.parse(swapped)


@pytest.mark.parametrize("text", ["", "ABC", "A" * 200, "ABCD EFGH JKMN", "!!!!!!!!!!!!!", "ÀBCDEFGHJKMNP", "\x00" * 13])
def test_malformed_input_is_a_typo_not_a_crash(text):
    with pytest.raises(InvalidCode):
        codes.parse(text)


def test_the_database_never_holds_a_code_in_clear(db):
    row, clear = factories.code()
    db.session.commit()
    dumps = []
    for table in db.metadata.sorted_tables:
        for record in db.session.execute(sa.select(table)).all():
            dumps.append(" ".join(str(v) for v in record))
    everything = "\n".join(dumps).upper()
    assert clear not in everything and clear[:13] not in everything
    assert codes.display(clear) not in everything
    assert row.code_hash == codes.hash_body(clear[:13])
    assert codes.find(codes.display(clear).lower()) == row


def test_issue_records_an_audit_entry_and_defaults_to_90_days(db):
    row, _ = factories.code()
    assert (row.expires_at - row.issued_at) == timedelta(days=90)
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.target_type == "eligibility_codes", AuditEntry.target_id == row.id)) == "code.issue"


def test_expiry_is_derived_from_the_date_without_any_job(db):
    row, _ = factories.code(validity_days=1)
    assert row.state() == CodeState.ACTIVE
    assert row.state(utcnow() + timedelta(days=2)) == CodeState.EXPIRED
    assert row.status == CodeState.ACTIVE


def test_per_person_limit_one_computer_per_12_months(db):
    person = factories.beneficiary()
    factories.code(person, categories=("computer",))
    with pytest.raises(DomainError, match="12"):
        factories.code(person, categories=("computer", "tablet"))
    factories.code(person, categories=("smartphone",))
    with pytest.raises(DomainError):
        factories.code(person, categories=("smartphone",))
    factories.code(person, categories=("tablet",))  # tablets are not limited


def test_an_expired_or_revoked_code_does_not_count_against_the_limit(db):
    person = factories.beneficiary()
    old, _ = factories.code(person, categories=("computer",), now=utcnow() - timedelta(days=100))
    factories.code(person, categories=("computer",))  # the old one has expired
    person2 = factories.beneficiary()
    row, _ = factories.code(person2, categories=("computer",))
    worker = db.session.get(type(factories.user()), row.issued_by_id)
    codes.revoke(row, worker=worker, reason="lost")
    factories.code(person2, categories=("computer",))


def test_monthly_quota_is_enforced_and_a_refusal_changes_nothing(db):
    org = factories.organisation(monthly_quota=2)
    worker = factories.user(Role.SOCIAL_WORKER, org=org)
    people = [factories.beneficiary(worker) for _ in range(3)]
    factories.code(people[0], worker=worker)
    factories.code(people[1], worker=worker)
    before = db.session.scalar(sa.select(sa.func.count(EligibilityCode.id)))
    with pytest.raises(DomainError, match="month"):
        factories.code(people[2], worker=worker)
    assert db.session.scalar(sa.select(sa.func.count(EligibilityCode.id))) == before
    assert codes.quota_used(org.id) == 2


def test_worker_cannot_issue_for_another_structure(db):
    person = factories.beneficiary()
    stranger = factories.user(Role.SOCIAL_WORKER)
    with pytest.raises(DomainError):
        codes.issue(person, [CodeCategory.COMPUTER], worker=stranger)


@pytest.mark.parametrize("days", [0, -5, 366, 10_000])
def test_validity_out_of_range_is_refused(db, days):
    with pytest.raises(DomainError):
        factories.code(validity_days=days)


def test_revoke_extend_reissue(db):
    row, clear = factories.code(categories=("computer",))
    worker = db.session.get(type(factories.user()), row.issued_by_id)
    end = row.expires_at
    codes.extend(row, worker=worker, days=30, reason="hospital stay")
    assert row.expires_at == end + timedelta(days=30)
    with pytest.raises(DomainError):
        codes.extend(row, worker=worker, days=30, reason="")
    new, new_clear = codes.reissue(row, worker=worker, reason="slip lost")
    assert row.status == CodeState.REVOKED and new.replaces_id == row.id and new_clear != clear
    assert new.category_list == [CodeCategory.COMPUTER]
    with pytest.raises(DomainError):
        codes.revoke(row, worker=worker, reason="again")
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"code.extend", "code.revoke", "code.issue"} <= actions


def test_two_workers_taking_the_last_quota_slot_at_once_get_one_code(app, db):
    org = factories.organisation(monthly_quota=1)
    workers = [factories.user(Role.SOCIAL_WORKER, org=org) for _ in range(2)]
    people = [factories.beneficiary(w).id for w in workers]
    worker_ids = [w.id for w in workers]
    db.session.commit()
    barrier = threading.Barrier(2, timeout=30)
    results = []

    def attempt(worker_id, person_id):
        from shop.extensions import db as _db
        from shop.models import Beneficiary, User

        with app.app_context():
            worker = _db.session.get(User, worker_id)
            person = _db.session.get(Beneficiary, person_id)
            _db.session.commit()  # end the read transaction: on SQLite it holds the write lock
            barrier.wait()
            try:
                codes.issue(person, [CodeCategory.COMPUTER], worker=worker)
                _db.session.commit()
                results.append("issued")
            except DomainError:
                _db.session.rollback()
                results.append("refused")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(worker_ids, people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["issued", "refused"]
    assert db.session.scalar(sa.select(sa.func.count(EligibilityCode.id))) == 1
    assert codes.quota_used(org.id) == 1
