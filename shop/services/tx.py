"""Transaction helpers for services."""

import logging
from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shop.extensions import db


def atomic(service):
    """Run a service all or nothing, inside the request's one transaction (committed at the edge).

    If the transaction has already written something, the service runs in a SAVEPOINT: a refusal
    undoes the service's own writes and the request's transaction goes on. If nothing has been
    written yet (the usual case: a request reads, then calls one service), a savepoint would protect
    nothing, so a refusal rolls the whole transaction back instead: same outcome, two statements and
    about half a millisecond less on every reservation.
    """

    @wraps(service)
    def wrapper(*args, **kwargs):
        session = db.session()
        if has_written(session):
            with session.begin_nested():
                return service(*args, **kwargs)
        try:
            return service(*args, **kwargs)
        except BaseException:
            session.rollback()
            raise

    return wrapper


def has_written(session: Session) -> bool:
    """Whether the session's transaction holds writes (sent or pending) that a rollback would lose."""
    return bool(session.info.get("wrote") or session.new or session.deleted or session.dirty)


@sa.event.listens_for(Session, "do_orm_execute")
def _note_statement(state) -> None:
    if not state.is_select:  # INSERT, UPDATE, DELETE, and any text() statement, to be safe
        state.session.info["wrote"] = True


@sa.event.listens_for(Session, "after_flush")
def _note_flush(session, _context) -> None:
    session.info["wrote"] = True


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_writes(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (committed or rolled back)
        session.info.pop("wrote", None)


# --- After the commit -----------------------------------------------------------------------
# Outward effects (mail, SMS, files) are not in the database transaction. They are registered
# here and run once the outermost transaction has committed, or, for clean-up, once it has ended
# without a commit. Savepoints do not count: only the real transaction decides.

log = logging.getLogger(__name__)


def after_commit(fn: Callable[[], None], *, session: Session | None = None) -> None:
    """Run `fn` once the current transaction has committed; never if it rolls back.

    `fn` runs after the database released its locks; it may use a session of its own, not this
    one. An error in `fn` is logged, not raised: the commit has already happened.
    """
    session = session or db.session()
    if not session.in_transaction():
        _run([fn])  # nothing is pending: there is no commit to wait for
        return
    session.info.setdefault("after_commit", []).append(fn)


def after_rollback(fn: Callable[[], None], *, session: Session | None = None) -> None:
    """Run `fn` once the current transaction has ended without committing (undo an outward effect)."""
    session = session or db.session()
    if not session.in_transaction():
        return
    session.info.setdefault("after_rollback", []).append(fn)


def _run(callbacks) -> None:
    for fn in callbacks:
        try:
            fn()
        except Exception:  # the commit stands; a failed side effect must not turn it into an error
            log.exception("after-commit callback %r failed", fn)


@sa.event.listens_for(Session, "after_commit")
def _run_after_commit(session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the real commit is still to come
        return
    session.info.pop("after_rollback", None)
    _run(session.info.pop("after_commit", []))


@sa.event.listens_for(Session, "after_transaction_end")
def _run_after_rollback(session, transaction) -> None:
    if transaction.parent is None:  # ended without after_commit having taken the callbacks
        session.info.pop("after_commit", None)
        _run(session.info.pop("after_rollback", []))
