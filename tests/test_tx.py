"""`atomic`: a service is all or nothing, with a SAVEPOINT only when there is something to keep."""

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from shop.extensions import db as _db
from shop.models import AuditEntry
from shop.services import audit
from shop.services.errors import DomainError
from shop.services.tx import atomic, has_written


@atomic
def write_then_refuse(action="service.write"):
    audit.record(None, action)
    raise DomainError("refused")


@atomic
def write(action="service.write"):
    audit.record(None, action)


@atomic
def write_then_call_a_refusing_service():
    write("outer.write")
    write_then_refuse("inner.write")


@contextmanager
def savepoints(db):
    seen = []

    def note(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SAVEPOINT"):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def actions(db):
    return db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()


def test_a_refusal_before_any_write_rolls_everything_back_without_a_savepoint(db):
    db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))  # the request has read something
    with savepoints(db) as seen, pytest.raises(DomainError):
        write_then_refuse()
    assert seen == []
    assert not has_written(db.session)
    db.session.commit()
    assert actions(db) == []


def test_a_refusal_after_a_write_keeps_the_earlier_write(db):
    audit.record(None, "request.write")
    with savepoints(db) as seen, pytest.raises(DomainError):
        write_then_refuse()
    assert len(seen) == 1
    db.session.commit()
    assert actions(db) == ["request.write"]


def test_pending_objects_count_as_writes(db):
    db.session.add(AuditEntry(action="pending.entry"))  # not flushed yet
    with savepoints(db) as seen, pytest.raises(DomainError):
        write_then_refuse()
    assert len(seen) == 1
    db.session.commit()
    assert actions(db) == ["pending.entry"]


def test_writes_are_forgotten_once_the_transaction_ends(db):
    write()
    assert has_written(db.session)
    db.session.commit()
    assert not has_written(db.session)
    write()
    db.session.rollback()
    assert not has_written(db.session)


def test_a_refusal_deep_inside_undoes_the_whole_service(db):
    with pytest.raises(DomainError):
        write_then_call_a_refusing_service()
    db.session.commit()
    assert actions(db) == []


def test_a_refusal_deep_inside_keeps_what_the_request_wrote_before(db):
    audit.record(None, "request.write")
    with pytest.raises(DomainError):
        write_then_call_a_refusing_service()
    db.session.commit()
    assert actions(db) == ["request.write"]


def test_a_service_that_succeeds_keeps_its_writes_without_a_savepoint(db):
    with savepoints(db) as seen:
        write()
    _db.session.commit()
    assert seen == []
    assert actions(db) == ["service.write"]


# --- after_commit / after_rollback ----------------------------------------------------------

def test_after_commit_runs_once_the_transaction_has_committed(db):
    from shop.services.tx import after_commit

    ran = []
    audit.record(None, "service.write")

    def count_from_elsewhere():  # another connection sees the row: it is committed
        with db.engine.connect() as other:
            ran.append(other.scalar(sa.select(sa.func.count(AuditEntry.id))))

    after_commit(count_from_elsewhere)
    assert ran == []
    db.session.commit()
    assert ran == [1]
    db.session.commit()  # a later commit does not run it again
    assert ran == [1]


def test_after_commit_waits_for_the_real_commit_not_a_savepoint(db):
    from shop.services.tx import after_commit

    ran = []
    audit.record(None, "service.write")
    with db.session.begin_nested():
        audit.record(None, "inner.write")
        after_commit(lambda: ran.append("committed"))
    assert ran == []  # the savepoint was released; the transaction may still roll back
    db.session.commit()
    assert ran == ["committed"]


def test_a_rollback_drops_after_commit_and_runs_after_rollback(db):
    from shop.services.tx import after_commit, after_rollback

    ran = []
    audit.record(None, "service.write")
    after_commit(lambda: ran.append("committed"))
    after_rollback(lambda: ran.append("rolled back"))
    db.session.rollback()
    db.session.commit()
    assert ran == ["rolled back"]


def test_a_failing_after_commit_callback_does_not_undo_the_commit(db, caplog):
    from shop.services.tx import after_commit

    audit.record(None, "service.write")
    after_commit(lambda: 1 / 0)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 1
    assert "after-commit callback" in caplog.text
