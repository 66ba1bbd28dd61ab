"""Transaction helpers for services."""

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
