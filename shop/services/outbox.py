"""The transactional outbox: messages are queued in the caller's transaction, delivered after.

Services queue what must follow a change (`queue_for_beneficiary`, `queue_for_user`) in the same
transaction as the change, so a rollback queues nothing. After the commit, the request tries to
deliver what it queued; `flask --app shop deliver` sends whatever is due (cron, or `--watch`).

Claiming a message is one conditional UPDATE that moves `next_attempt_at` forward (a lease) and
counts the attempt; on PostgreSQL the candidates are picked `FOR UPDATE SKIP LOCKED`, so several
dispatchers share the work without waiting on each other. A message is marked sent only once the
provider accepted it; a failure is retried with backoff for MESSAGE_RETRY_HOURS, then marked
failed (admins see it). No provider call is ever made while a transaction is open.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale
from sqlalchemy.dialects import postgresql, sqlite

from shop.extensions import db, sqlite_begin_mode
from shop.models import Beneficiary, Channel, Message, MessageStatus, User
from shop.models.types import utcnow
from shop.services import mail, sms, tx
from shop.services.message_templates import TEMPLATES, render, to_json

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a claimed message is left alone this long by other dispatchers
BATCH = 50
# Waits before each new attempt; the last repeats until MESSAGE_RETRY_HOURS have passed.
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 120, 240)]
# Values that open an account (single-use links): dropped from the row once the message is sent.
SECRET_VALUES = {"invitation": ("link",), "invitation_partner": ("link",), "password_reset": ("link",)}

_messages = Message.__table__


# --- Queueing (inside the caller's transaction) ------------------------------------------------

def queue_for_beneficiary(person: Beneficiary, key: str, values: dict, *, about=None, dedupe_key: str) -> list[Message]:
    """Queue one message per channel the person can be reached on: a text when they agreed to texts
    on a number, an e-mail when they gave an address; rendered at delivery in their language.
    Returns the rows queued (none if the same dedupe_key was queued before)."""
    template = TEMPLATES[key]
    queued = []
    if template.sms is not None and person.texts_allowed:
        queued += _queue(Channel.SMS, person.sms_phone, key, values, language=person.language, about=about,
                         dedupe_key=dedupe_key, beneficiary_id=person.id)
    if person.email and person.anonymised_at is None:
        queued += _queue(Channel.EMAIL, person.email, key, values, language=person.language, about=about,
                         dedupe_key=dedupe_key, beneficiary_id=person.id)
    return queued


def reachable(person: Beneficiary, key: str) -> bool:
    """Whether queue_for_beneficiary would queue anything (so callers can skip loading values)."""
    texts = TEMPLATES[key].sms is not None and person.texts_allowed
    return texts or bool(person.email and person.anonymised_at is None)


def queue_for_user(user: User, key: str, values: dict, *, about=None, dedupe_key: str,
                   language: str | None = None) -> list[Message]:
    """Queue an e-mail to a staff or partner account, in the language they use the shop in (the
    current request's when they are acting, else the shop's default)."""
    if not user.email:
        return []
    if language is None:
        from shop.i18n import current_language

        language = current_language() if has_request_context() else current_app.config["BABEL_DEFAULT_LOCALE"]
    return _queue(Channel.EMAIL, user.email, key, values, language=language, about=about,
                  dedupe_key=dedupe_key, user_id=user.id)


def _about(about) -> tuple[str | None, int | None]:
    if about is None:
        return None, None
    return about.__tablename__, about.id


def _queue(channel: Channel, address: str, key: str, values: dict, *, language: str, about, dedupe_key: str,
           beneficiary_id: int | None = None, user_id: int | None = None) -> list[Message]:
    if key not in TEMPLATES:
        raise KeyError(f"no message template {key!r}")
    about_type, about_id = _about(about)
    now = utcnow()
    row = dict(channel=channel, address=address, beneficiary_id=beneficiary_id, user_id=user_id, language=language,
               template=key, values=to_json(values), about_type=about_type, about_id=about_id,
               dedupe_key=dedupe_key[:120], status=MessageStatus.QUEUED, attempts=0, created_at=now,
               next_attempt_at=now)
    statement = _INSERT["postgresql" if db.session.get_bind().dialect.name == "postgresql" else "sqlite"]
    new_id = db.session.execute(statement, row).scalar()
    queued = [] if new_id is None else [db.session.get(Message, new_id)]
    if queued:
        _deliver_after_commit([m.id for m in queued])
    return queued


# One INSERT … ON CONFLICT DO NOTHING … RETURNING per dialect, built once (compiled once): the
# unique (dedupe_key, channel) holds "the same event never queues twice", even under races.
_INSERT = {
    name: dialect.insert(Message.__table__).on_conflict_do_nothing(index_elements=["dedupe_key", "channel"])
    .returning(Message.__table__.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _deliver_after_commit(ids: list[int]) -> None:
    if not current_app.config.get("OUTBOX_SEND_AFTER_COMMIT"):
        return
    session = db.session()
    root = session.get_transaction()
    pending = session.info.get("outbox_pending")
    if pending is None or pending[0] is not root:  # first message of this transaction
        pending = (root, [])
        session.info["outbox_pending"] = pending
        app = current_app._get_current_object()
        tx.after_commit(lambda: deliver(app, ids=pending[1]), session=session)
    pending[1].extend(ids)


# --- Delivering (outside any transaction) -----------------------------------------------------

@dataclass
class Report:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.cancelled


@dataclass
class _Claimed:
    id: int
    channel: Channel
    address: str
    language: str
    template: str
    values: dict
    attempts: int
    created_at: datetime
    beneficiary_id: int | None


def deliver(app=None, *, ids: list[int] | None = None, limit: int | None = None, now=None) -> Report:
    """Send what is due (or only `ids`), batch after batch, until nothing is left or `limit` is reached."""
    app = app or current_app._get_current_object()
    report = Report()
    # Claims and results are short writes: on SQLite take the write lock at BEGIN, so a dispatcher
    # waits its turn (busy_timeout) instead of failing to upgrade a read snapshot.
    token = sqlite_begin_mode.set("IMMEDIATE")
    try:
        with app.app_context():
            while limit is None or report.handled < limit:
                size = BATCH if limit is None else min(BATCH, limit - report.handled)
                claimed, cancelled = _claim(size, now=now, ids=ids)
                report.cancelled += cancelled
                if not claimed and not cancelled:
                    break
                for message in claimed:
                    _deliver_one(app, message, report, now=now)
    finally:
        sqlite_begin_mode.reset(token)
    return report


def _claim(size: int, *, now=None, ids=None) -> tuple[list[_Claimed], int]:
    """Take up to `size` due messages (one conditional UPDATE); texts without consent are cancelled."""
    now = now or utcnow()
    due = (sa.select(_messages.c.id)
           .where(_messages.c.status == MessageStatus.QUEUED.value, _messages.c.next_attempt_at <= now)
           .order_by(_messages.c.next_attempt_at, _messages.c.id).limit(size))
    if ids is not None:
        due = due.where(_messages.c.id.in_(ids))
    engine = db.engine
    if engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)  # SQLite: one writer at a time anyway
    claim = (sa.update(_messages)
             .where(_messages.c.id.in_(due.scalar_subquery()),
                    _messages.c.status == MessageStatus.QUEUED.value, _messages.c.next_attempt_at <= now)
             .values(next_attempt_at=now + LEASE, attempts=_messages.c.attempts + 1)
             .returning(_messages.c.id, _messages.c.channel, _messages.c.address, _messages.c.language,
                        _messages.c.template, _messages.c["values"], _messages.c.attempts, _messages.c.created_at,
                        _messages.c.beneficiary_id))
    with engine.begin() as conn:
        rows = [_Claimed(*row) for row in conn.execute(claim)]
        texts = [m.beneficiary_id for m in rows if m.channel == Channel.SMS]
        allowed = {}
        if texts:
            people = Beneficiary.__table__
            allowed = dict(conn.execute(
                sa.select(people.c.id, people.c.sms_phone)
                .where(people.c.id.in_(texts), people.c.sms_consent_at.is_not(None), people.c.anonymised_at.is_(None))
            ).all())
    claimed, cancelled = [], 0
    for message in sorted(rows, key=lambda m: m.id):
        # Consent is checked again at delivery: a STOP that came after queueing wins.
        if message.channel == Channel.SMS and allowed.get(message.beneficiary_id) != message.address:
            _record(message.id, status=MessageStatus.CANCELLED, error="no consent to texts on this number")
            cancelled += 1
            continue
        claimed.append(message)
    return claimed, cancelled


def _deliver_one(app, message: _Claimed, report: Report, *, now=None) -> None:
    try:
        with force_locale(message.language):
            text = render(message.template, message.values, message.language, sms=message.channel == Channel.SMS)
    except Exception as error:  # a template that cannot render will not render next time either
        log.exception("message %s cannot be rendered", message.id)
        _fail(message, report, f"cannot render: {type(error).__name__}: {error}")
        return
    try:
        if message.channel == Channel.SMS:
            provider_id = sms.gateway(app).send(message.address, text.body)
        else:
            provider_id = mail.send(message.address, text.subject, text.body)
    except (sms.SmsRejected, mail.MailRejected) as error:
        _fail(message, report, str(error))
    except (sms.SmsUnavailable, mail.MailUnavailable) as error:
        _retry(app, message, report, str(error), now=now)
    except Exception as error:  # an unexpected provider error: retried, never lost
        log.exception("message %s: provider error", message.id)
        _retry(app, message, report, f"{type(error).__name__}: {error}", now=now)
    else:
        values = None
        if message.template in SECRET_VALUES:
            values = {k: v for k, v in message.values.items() if k not in SECRET_VALUES[message.template]}
        _record(message.id, status=MessageStatus.SENT, sent_at=now or utcnow(), provider_id=str(provider_id)[:80],
                values=values)
        report.sent += 1


def _retry(app, message: _Claimed, report: Report, error: str, *, now=None) -> None:
    now = now or utcnow()
    if now - message.created_at >= timedelta(hours=app.config["MESSAGE_RETRY_HOURS"]):
        _fail(message, report, error)
        return
    delay = BACKOFF[min(message.attempts, len(BACKOFF)) - 1]
    _record(message.id, status=MessageStatus.QUEUED, next_attempt_at=now + delay, error=error)
    report.retried += 1
    report.errors.append(error)


def _fail(message: _Claimed, report: Report, error: str) -> None:
    log.error("message %s failed for good: %s", message.id, error)
    _record(message.id, status=MessageStatus.FAILED, error=error)
    report.failed += 1
    report.errors.append(error)


def _record(message_id: int, *, status: MessageStatus, error: str | None = None, sent_at=None, provider_id=None,
            next_attempt_at=None, values=None) -> None:
    changes = {"status": status.value, "last_error": (error or None) and error[:300]}
    if sent_at is not None:
        changes.update(sent_at=sent_at, provider_id=provider_id)
    if next_attempt_at is not None:
        changes["next_attempt_at"] = next_attempt_at
    if values is not None:
        changes["values"] = values
    with db.engine.begin() as conn:
        conn.execute(sa.update(_messages).where(_messages.c.id == message_id,
                                                _messages.c.status == MessageStatus.QUEUED.value).values(**changes))


# --- For admins --------------------------------------------------------------------------------

def needing_attention(limit: int = 200) -> list[Message]:
    """Failed messages, newest first, then what is still waiting (oldest first)."""
    failed = db.session.scalars(sa.select(Message).where(Message.status == MessageStatus.FAILED)
                                .order_by(Message.created_at.desc()).limit(limit)).all()
    waiting = db.session.scalars(sa.select(Message).where(Message.status == MessageStatus.QUEUED)
                                 .order_by(Message.next_attempt_at).limit(limit)).all()
    return list(failed) + list(waiting)


def counts() -> dict[MessageStatus, int]:
    rows = db.session.execute(sa.select(Message.status, sa.func.count()).group_by(Message.status)).all()
    return {MessageStatus(status): n for status, n in rows}
