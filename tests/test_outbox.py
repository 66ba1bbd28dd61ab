"""The outbox: messages queued in the transaction of the change, delivered after the commit,
retried, never twice; SMS through Twilio (offline), consent, STOP, and 2 segments in every language."""

import re
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext

from shop.models import AuditEntry, Beneficiary, Category, Message, MessageStatus, PaymentMethod, Role
from shop.models.types import utcnow
from shop.services import outbox, partners, reservations, sms
from shop.services.errors import DomainError
from shop.services.message_templates import FSI, PDI, TEMPLATES, render, to_json
from tests import factories
from tests.sms_fake import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilioHTTP, signed_inbound

MOBILE = "+33612345678"


@pytest.fixture
def boxes(app):
    """What the test backends delivered: e-mails and texts."""
    mails = app.extensions.setdefault("mail_outbox", [])
    texts = app.extensions.setdefault("sms_outbox", [])
    mails.clear(), texts.clear()
    yield mails, texts
    mails.clear(), texts.clear()


@pytest.fixture
def twilio(app, monkeypatch):
    """The real Twilio backend, talking to a fake HTTP client."""
    fake = FakeTwilioHTTP()
    monkeypatch.setitem(app.config, "SMS_BACKEND", "twilio")
    monkeypatch.setitem(app.config, "TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setitem(app.config, "TWILIO_FROM", SENDER)
    monkeypatch.setitem(app.extensions, "twilio_http_client", fake)
    return fake


@pytest.fixture
def later(app, monkeypatch):
    """Requests and commits do not deliver by themselves: the test runs the dispatcher."""
    monkeypatch.setitem(app.config, "OUTBOX_SEND_AFTER_COMMIT", False)


def texting_person(**overrides):
    values = dict(phone="06 12 34 56 78", texts_allowed=True, language="ar", email="amina@example.org")
    values.update(overrides)
    return factories.beneficiary(**values)


def messages(db, **where):
    db.session.commit()  # end the test's read snapshot: see what the dispatcher wrote
    return db.session.scalars(sa.select(Message).filter_by(**where).order_by(Message.id)).all()


# --- Queued in the transaction, delivered after it ------------------------------------------

def test_a_reservation_queues_a_text_and_an_email_delivered_after_the_commit_in_arabic(app, db, boxes):
    mails, texts = boxes
    person = texting_person()
    code, _ = factories.code(person)
    device = factories.device()
    db.session.commit()

    reservation = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    queued = db.session.scalars(sa.select(Message)).all()  # in this transaction, not committed yet
    assert sorted(m.channel.value for m in queued) == ["email", "sms"]
    assert not texts and not mails  # nothing leaves before the commit
    db.session.commit()

    assert [t["to"] for t in texts] == [MOBILE]
    assert reservation.pickup_code in texts[0]["text"]
    assert re.search("[\u0600-\u06ff]", texts[0]["text"])  # in the person's language
    assert f"{FSI}{reservation.pickup_code}{PDI}" in texts[0]["text"]  # values isolated in a right-to-left text
    assert [m["To"] for m in mails] == ["amina@example.org"]
    assert all(m.status == MessageStatus.SENT and m.sent_at and m.provider_id for m in messages(db))


def test_a_rolled_back_change_queues_nothing(app, db, boxes):
    mails, texts = boxes
    person = texting_person()
    code, _ = factories.code(person)
    device = factories.device()
    db.session.commit()

    reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 2  # queued in the transaction
    db.session.rollback()

    assert messages(db) == [] and texts == [] and mails == []


def test_a_refused_change_queues_nothing(app, db, boxes):
    person = texting_person()
    code, _ = factories.code(person, categories=("smartphone",))
    laptop = factories.device()  # a laptop: the code does not allow it
    db.session.commit()
    with pytest.raises(DomainError):
        reservations.reserve(code, laptop.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    assert messages(db) == [] and boxes == ([], [])


def test_the_same_dedupe_key_twice_queues_nothing_new(app, db, later):
    person = texting_person()
    values = dict(category="Laptop", point="Metz", place=3)
    first = outbox.queue_for_beneficiary(person, "waitlist_joined", values, dedupe_key="joined:1")
    again = outbox.queue_for_beneficiary(person, "waitlist_joined", values, dedupe_key="joined:1")
    db.session.commit()
    assert len(first) == 2 and again == []
    assert len(messages(db)) == 2


def test_no_text_without_consent_and_no_email_without_an_address(app, db, later):
    silent = factories.beneficiary(phone="06 12 34 56 78")  # a phone, but no consent to texts
    assert outbox.queue_for_beneficiary(silent, "waitlist_joined", dict(category="Laptop", point="Metz", place=1),
                                        dedupe_key="x") == []
    texts_only = texting_person(email=None)
    rows = outbox.queue_for_beneficiary(texts_only, "waitlist_joined", dict(category="Laptop", point="Metz", place=1),
                                        dedupe_key="y")
    assert [r.channel.value for r in rows] == ["sms"] and rows[0].address == MOBILE


def test_values_are_stored_as_json_and_datetimes_come_back_in_paris_time(app, db, later):
    person = texting_person(language="fr", email=None)
    until = utcnow().replace(month=12, day=15, hour=17, minute=0, second=42, microsecond=0)
    [row] = outbox.queue_for_beneficiary(person, "waitlist_turn", dict(
        category="Ordinateur portable", point="Metz", address="1 rue X", town="Metz", hold_until=until,
        price_cents=4500, link="https://shop.example.org/reserve"), dedupe_key="turn:1")
    db.session.commit()
    stored = db.session.scalar(sa.select(Message.values).where(Message.id == row.id))
    assert stored["hold_until"] == {"datetime": until.isoformat()}
    with force_locale("fr"):
        text = render("waitlist_turn", stored, "fr", sms=True).body
        mail = render("waitlist_turn", stored, "fr", sms=False).body
    assert "15/12 18:00" in text and ":42" not in text  # Europe/Paris, no seconds
    assert "45,00" in mail and "1 rue X" in mail


# --- Retries and failures ---------------------------------------------------------------------

def test_a_provider_failing_three_times_then_accepting_delivers_one_message(app, db, twilio, later):
    twilio.script = [500, "timeout", 503]
    person = texting_person(email=None)
    outbox.queue_for_beneficiary(person, "waitlist_joined", dict(category="Laptop", point="Metz", place=2),
                                 dedupe_key="joined:2")
    db.session.commit()
    now = utcnow()
    for step in range(6):  # the dispatcher runs every few minutes
        outbox.deliver(app, now=now + timedelta(minutes=30 * step))
    [message] = messages(db)
    assert len(twilio.calls) == 4 and len(twilio.accepted) == 1
    assert message.status == MessageStatus.SENT and message.attempts == 4
    assert message.provider_id == twilio.accepted[0]["sid"]
    assert twilio.accepted[0]["To"] == MOBILE and twilio.accepted[0]["From"] == SENDER


def test_a_message_is_not_retried_before_its_backoff(app, db, twilio, later):
    twilio.script = [500]
    outbox.queue_for_beneficiary(texting_person(email=None), "waitlist_joined",
                                 dict(category="Laptop", point="Metz", place=2), dedupe_key="b")
    db.session.commit()
    now = utcnow()
    first = outbox.deliver(app, now=now)
    again = outbox.deliver(app, now=now + timedelta(seconds=10))
    assert (first.retried, again.handled) == (1, 0) and len(twilio.calls) == 1
    [message] = messages(db)
    assert message.status == MessageStatus.QUEUED and "500" in message.last_error


def test_a_provider_down_for_a_day_gives_a_failed_message_shown_to_admins(app, db, client, twilio, later):
    twilio.script = [500] * 1000
    outbox.queue_for_beneficiary(texting_person(email=None), "waitlist_joined",
                                 dict(category="Laptop", point="Metz", place=2), dedupe_key="down")
    db.session.commit()
    start = utcnow()
    hours = 0
    while messages(db)[0].status == MessageStatus.QUEUED and hours < 48:
        outbox.deliver(app, now=start + timedelta(hours=hours))
        hours += 1
    [message] = messages(db)
    assert message.status == MessageStatus.FAILED and twilio.accepted == []
    assert hours - 1 >= 24  # retried for at least a day
    assert 10 <= len(twilio.calls) <= 30  # with backoff, not every minute

    admin = factories.user(Role.ADMIN)
    factories.sign_in(client, admin.email)
    page = client.get("/admin/messages", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Failed" in page.text and "waitlist_joined" in page.text and "…5678" in page.text
    assert MOBILE not in page.text  # enough to tell messages apart, not the number


def test_a_number_the_provider_refuses_fails_at_once(app, db, twilio, later):
    twilio.script = [400]
    outbox.queue_for_beneficiary(texting_person(email=None), "waitlist_joined",
                                 dict(category="Laptop", point="Metz", place=2), dedupe_key="bad")
    db.session.commit()
    report = outbox.deliver(app)
    assert report.failed == 1 and messages(db)[0].status == MessageStatus.FAILED


def test_a_mail_server_down_keeps_the_reminder_queued_and_sends_it_later(app, db, monkeypatch, boxes):
    from shop.services import mail

    mails, _ = boxes
    person = factories.beneficiary(email="amina@example.org")
    code, _ = factories.code(person)
    reservation = reservations.reserve(code, factories.device().offer_key, method=PaymentMethod.COUNTER)
    db.session.execute(sa.update(type(reservation)).where(type(reservation).id == reservation.id)
                       .values(held_until=utcnow() + timedelta(days=1)))
    db.session.commit()
    mails.clear()

    def down(*args, **kwargs):
        raise mail.MailUnavailable("connection refused")

    monkeypatch.setattr(mail, "send", down)
    result = app.test_cli_runner().invoke(args=["expire-holds"])
    assert result.exit_code == 0, result.output
    reminder = messages(db, template="pickup_reminder", beneficiary_id=person.id)
    assert [m.status for m in reminder] == [MessageStatus.QUEUED] and "connection refused" in reminder[0].last_error
    monkeypatch.undo()

    later_on = utcnow() + timedelta(minutes=2)
    assert outbox.deliver(app, now=later_on).sent == 2  # the person's reminder and their worker's
    assert "amina@example.org" in [m["To"] for m in mails] and len(mails) == 2
    assert messages(db, template="pickup_reminder", beneficiary_id=person.id)[0].status == MessageStatus.SENT
    assert "sent 0 reminders" in app.test_cli_runner().invoke(args=["expire-holds"]).output  # queued once


def test_the_deliver_command_sends_what_is_due(app, db, boxes, later):
    outbox.queue_for_beneficiary(texting_person(email=None), "waitlist_joined",
                                 dict(category="Laptop", point="Metz", place=2), dedupe_key="cli")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["deliver"])
    assert result.exit_code == 0 and "Sent 1," in result.output
    assert len(boxes[1]) == 1


# --- Several dispatchers ----------------------------------------------------------------------

class RecordingBackend:
    def __init__(self):
        self.sent, self.lock = [], threading.Lock()

    def send(self, to, text):
        time.sleep(0.0005)  # a provider takes a moment: let the dispatchers overlap
        with self.lock:
            self.sent.append(text)
        return f"id-{len(self.sent)}"


def test_dispatchers_running_at_once_never_send_the_same_message_twice(app, db, monkeypatch, later):
    backend = RecordingBackend()
    monkeypatch.setitem(app.extensions, "sms_backend", backend)
    person = texting_person(email=None, language="en")
    deadline = utcnow() + timedelta(days=2)
    for i in range(120):
        outbox.queue_for_beneficiary(person, "pickup_reminder", dict(
            number="N", name="x", point="Metz", deadline=deadline, pickup_code=f"{i:06d}"), dedupe_key=f"r:{i}")
    db.session.commit()
    monkeypatch.setattr(outbox, "BATCH", 10)
    barrier = threading.Barrier(4)

    def dispatcher():
        barrier.wait()
        outbox.deliver(app)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = Counter(re.search(r"Code (\d{6})", text).group(1) for text in backend.sent)
    assert len(codes) == 120 and set(codes.values()) == {1}
    assert {m.status for m in messages(db)} == {MessageStatus.SENT}


# --- Consent and STOP -------------------------------------------------------------------------

def test_a_stop_reply_signed_by_twilio_ends_texts_and_cancels_what_was_queued(app, db, client, twilio, later):
    person = texting_person(email=None)
    outbox.queue_for_beneficiary(person, "waitlist_joined", dict(category="Laptop", point="Metz", place=2),
                                 dedupe_key="before-stop")
    db.session.commit()
    url = "http://localhost/sms/twilio/inbound"
    body, headers = signed_inbound(url, {"From": MOBILE, "To": SENDER, "Body": "Stop", "MessageSid": "SM1"})

    response = client.post("/sms/twilio/inbound", data=body, headers=headers)

    assert response.status_code == 200 and b"<Response>" in response.data
    db.session.expire_all()
    assert db.session.get(Beneficiary, person.id).texts_allowed is False
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "beneficiary.texts_stopped"))
    db.session.commit()  # the test's own read ends before the dispatcher writes
    report = outbox.deliver(app)
    assert report.cancelled == 1 and twilio.calls == []
    assert messages(db)[0].status == MessageStatus.CANCELLED


def test_a_stop_webhook_with_a_bad_signature_changes_nothing(app, db, client, twilio):
    person = texting_person(email=None)
    db.session.commit()
    body, headers = signed_inbound("http://localhost/sms/twilio/inbound", {"From": MOBILE, "Body": "STOP"},
                                   token="not-the-token")
    assert client.post("/sms/twilio/inbound", data=body, headers=headers).status_code == 400
    assert client.post("/sms/twilio/inbound", data={"From": MOBILE, "Body": "STOP"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Beneficiary, person.id).texts_allowed is True


def test_another_reply_than_stop_keeps_the_consent(app, db, client, twilio):
    person = texting_person(email=None)
    db.session.commit()
    url = "http://localhost/sms/twilio/inbound"
    body, headers = signed_inbound(url, {"From": MOBILE, "Body": "Merci, stop pas encore"})
    assert client.post("/sms/twilio/inbound", data=body, headers=headers).status_code == 200
    body, headers = signed_inbound(url, {"From": MOBILE, "Body": "arrêt"})
    assert client.post("/sms/twilio/inbound", data=body, headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.get(Beneficiary, person.id).texts_allowed is False  # « arrêt » is a French STOP


@pytest.mark.parametrize("number, message", [
    ("12", "This phone number is not valid."),
    ("03 87 00 00 00", "This number cannot receive text messages. Give a mobile number."),
    ("", "To send text messages, give the number the person agreed to."),
])
def test_the_worker_sees_a_clear_message_for_a_number_that_cannot_get_texts(app, db, client, number, message):
    worker = factories.user(Role.SOCIAL_WORKER)
    db.session.commit()
    factories.sign_in(client, worker.email)
    form = {"display_name": "Oleksandra", "birth_year": "1990", "language": "uk", "ground": "rsa",
            "texts_allowed": "y", "sms_phone": number}
    response = client.post("/partner/beneficiaries/new", data=form, headers={"Accept-Language": "fr"})
    assert response.status_code in (200, 422)
    with force_locale("fr"):
        assert gettext(message).replace("'", "&#39;") in response.text
    assert 'value="Oleksandra"' in response.text  # what was typed stays
    assert db.session.scalar(sa.select(sa.func.count(Beneficiary.id))) == 0


def test_the_worker_records_consent_and_turns_it_off(app, db, client):
    worker = factories.user(Role.SOCIAL_WORKER)
    db.session.commit()
    factories.sign_in(client, worker.email)
    form = {"display_name": "Oleksandra", "birth_year": "1990", "language": "uk", "ground": "rsa",
            "phone": "", "texts_allowed": "y", "sms_phone": "07 81 23 45 67"}
    assert client.post("/partner/beneficiaries/new", data=form).status_code == 303
    person = db.session.scalar(sa.select(Beneficiary))
    assert person.texts_allowed and person.sms_phone == "+33781234567" and person.sms_consent_at is not None
    page = client.get(f"/partner/beneficiaries/{person.id}")
    assert "+33781234567" in page.text

    form.pop("texts_allowed")
    assert client.post(f"/partner/beneficiaries/{person.id}/edit", data=form).status_code == 303
    db.session.expire_all()
    person = db.session.get(Beneficiary, person.id)
    assert not person.texts_allowed and person.sms_phone is None and person.sms_consent_at is None


# --- Segments and languages -------------------------------------------------------------------

def test_segments_are_counted_by_encoding():
    assert sms.encoding("Bonjour, à bientôt") == "UCS-2"  # ô is not in the GSM alphabet
    assert sms.encoding("Appareil réservé à Metz") == "GSM-7"
    assert (sms.segments("a" * 160), sms.segments("a" * 161), sms.segments("a" * 306), sms.segments("a" * 307)) == (1, 2, 2, 3)
    assert (sms.segments("€" * 80), sms.segments("€" * 81)) == (1, 2)  # two septets each
    assert (sms.segments("ж" * 70), sms.segments("ж" * 71), sms.segments("ж" * 134), sms.segments("ж" * 135)) == (1, 2, 2, 3)
    assert sms.segments("😀" * 35) == 1 and sms.segments("😀" * 36) == 2  # two UTF-16 units each


def test_phone_numbers_become_e164():
    assert sms.e164("06 12 34 56 78") == MOBILE
    assert sms.e164("+44 7911 123456") == "+447911123456"
    assert sms.e164("12") is None and sms.e164("not a number") is None


def _long_values(language: str) -> dict:
    """The longest values a message can carry (SMS shortens names to SMS_LIMITS)."""
    category = max((str(c.label) for c in Category), key=len)  # in the current language
    soon = utcnow() + timedelta(days=2)
    return to_json(dict(
        name="Anastasiia Kovalenko-Petrenko", number="AB12CD", pickup_code="123456",
        device="Lenovo ThinkPad T480s 14 pouces", point="Emmaüs Connect Metz-Borny centre social",
        address="12 boulevard de la Solidarité, bâtiment B", town="Montigny-lès-Metz-Nord",
        deadline=soon, expires_at=soon, hold_until=soon, when=soon, price_cents=18000, place=187, category=category,
        inviter="Jeanne Dupont", structure="CCAS de Metz",
        link="https://boutique.example.org/reserve/t/12345",  # links up to 45 characters
    ))


LANGUAGES = ["en", "fr", "ar", "uk", "fa", "ps", "tr", "ro", "ru"]  # every catalog: a test below checks none is missed


def test_every_translation_folder_is_covered():
    present = {p.parent.parent.name for p in Path("translations").glob("*/LC_MESSAGES/messages.po")}
    assert present <= set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_message_renders_and_every_text_fits_two_segments(app, key, language):
    with app.test_request_context(), force_locale(language):
        values = _long_values(language)
        mail = render(key, values, language, sms=False)
        assert mail.subject and mail.body and "%(" not in mail.body
        if TEMPLATES[key].sms is None:
            return
        text = render(key, values, language, sms=True).body
    assert "%(" not in text
    assert sms.segments(text) <= 2, (sms.encoding(text), len(text), text)
    if language in ("ar", "uk"):
        assert sms.encoding(text) == "UCS-2"


def test_a_right_to_left_value_is_isolated_in_a_left_to_right_message(app):
    values = to_json(dict(category="حاسوب محمول", point="Metz", place=1))
    with app.test_request_context(), force_locale("fr"):
        text = render("waitlist_joined", values, "fr", sms=True).body
    assert f"{FSI}حاسوب محمول{PDI}" in text and f"{FSI}Metz{PDI}" not in text


# --- Stop through the service -----------------------------------------------------------------

def test_stop_texts_turns_off_every_consent_on_that_number(db):
    one, two = texting_person(), texting_person(display_name="Other")
    assert partners.stop_texts(MOBILE, source="worker") == 2
    assert not one.texts_allowed and not two.texts_allowed


@pytest.mark.parametrize("body", [b"", b"From=%00&Body=%ff%fe", b"Body=" + b"x" * 100_000, b"From=not-a-number&Body=STOP"])
def test_a_hostile_inbound_sms_never_gives_a_500(app, db, client, twilio, body):
    texting_person(email=None)
    db.session.commit()
    unsigned = client.post("/sms/twilio/inbound", data=body, content_type="application/x-www-form-urlencoded")
    assert unsigned.status_code in (400, 413)  # 413: over the 64 KiB cap on form bodies
    params = dict(item.split("=", 1) for item in body.decode("latin-1").split("&") if "=" in item)
    signed_body, headers = signed_inbound("http://localhost/sms/twilio/inbound", params)
    assert client.post("/sms/twilio/inbound", data=signed_body, headers=headers).status_code in (200, 400, 413)
    db.session.commit()
    assert db.session.scalar(sa.select(Beneficiary)).texts_allowed is True  # nothing matched a consenting number
