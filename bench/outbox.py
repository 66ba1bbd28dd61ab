"""Outbox dispatcher throughput: messages per second to a fake SMS provider, 10,000 queued.

    .venv/bin/python bench/outbox.py                       # a temporary SQLite file, one dispatcher
    .venv/bin/python bench/outbox.py --url postgresql://shop:shop@127.0.0.1:5432/shop_x --dispatchers 4
    .venv/bin/python bench/outbox.py --twilio               # through the Twilio SDK and a fake HTTP client

Queues --messages texts for one person (in one transaction, as services do), then runs
--dispatchers threads of the real dispatcher (`outbox.deliver`) until nothing is due, and checks
that every message was sent exactly once. Only the local database is contacted.
"""

import argparse
import os
import re
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_database  # noqa: E402 (bench/ is on the path when run as a script)


class NullProvider:
    """Accepts every text at once (optionally after --latency-ms), and counts them."""

    def __init__(self, latency: float):
        self.latency, self.sent, self.lock = latency, [], threading.Lock()

    def send(self, to, text):
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.sent.append(text)
            return f"fake-{len(self.sent)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--dispatchers", type=int, default=1, help="dispatcher threads (PostgreSQL: SKIP LOCKED)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="time the fake provider takes per message")
    parser.add_argument("--twilio", action="store_true", help="send through the Twilio SDK (fake HTTP client)")
    args = parser.parse_args()
    os.environ.setdefault("SHOP_ENV", "development")
    with scratch_database(args.url, prefix="outbox") as url:
        return run(url, args)


def run(url: str, args) -> int:
    import flask_migrate

    from shop import create_app
    from shop.extensions import db
    from shop.models import EligibilityGround, Message, MessageStatus, Organisation, OrganisationKind, Role
    from shop.models.types import utcnow
    from shop.services import accounts, outbox, partners

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "OUTBOX_SEND_AFTER_COMMIT": False})
    provider = NullProvider(args.latency_ms / 1000)
    if args.twilio:
        from tests.sms_fake import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilioHTTP

        app.config.update(SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                          TWILIO_FROM=SENDER)
        fake_http = FakeTwilioHTTP()
        app.extensions["twilio_http_client"] = fake_http
    else:
        app.extensions["sms_backend"] = provider
    try:
        with app.app_context(), app.test_request_context():
            flask_migrate.upgrade()
            org = Organisation(name="Bench", kind=OrganisationKind.CCAS, town="Metz", monthly_quota=10)
            db.session.add(org)
            db.session.flush()
            worker = accounts.create_user(email="bench@example.org", name="Bench", role=Role.SOCIAL_WORKER,
                                          password="x", organisation=org, check_policy=False)
            person = partners.register_beneficiary(partners.BeneficiaryData(
                display_name="Bench", birth_year=1980, language="ar", ground=EligibilityGround.RSA,
                texts_allowed=True, sms_phone="06 12 34 56 78"), worker=worker)
            deadline = utcnow() + timedelta(days=2)
            started = time.perf_counter()
            for i in range(args.messages):
                outbox.queue_for_beneficiary(person, "pickup_reminder", dict(
                    number="BENCH", name="Bench", point="Emmaüs Connect Metz", deadline=deadline,
                    pickup_code=f"{i:06d}"), dedupe_key=f"bench:{i}")
            db.session.commit()
            queue_s = time.perf_counter() - started

        errors = []

        def dispatcher():
            try:
                outbox.deliver(app)
            except Exception as error:  # counted, and the bench fails
                errors.append(repr(error))

        threads = [threading.Thread(target=dispatcher) for _ in range(args.dispatchers)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deliver_s = time.perf_counter() - started

        with app.app_context():
            statuses = Counter(s.value for s in db.session.scalars(db.select(Message.status)))
            texts = [c["Body"] for c in fake_http.accepted] if args.twilio else provider.sent
        sent_codes = Counter(re.search(r"(\d{6})", t).group(1) for t in texts)
        twice = sum(1 for n in sent_codes.values() if n > 1)
        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"{backend}, {args.dispatchers} dispatcher(s), provider {'twilio SDK + fake HTTP' if args.twilio else 'null'}"
              f" ({args.latency_ms:g} ms a message)")
        print(f"queued {args.messages} in {queue_s:.2f} s ({args.messages / queue_s:,.0f} messages/s)")
        print(f"delivered {len(texts)} in {deliver_s:.2f} s ({len(texts) / deliver_s:,.0f} messages/s); "
              f"sent twice {twice}; statuses {dict(statuses)}; errors {len(errors)}")
        ok = (not errors and twice == 0 and len(sent_codes) == args.messages
              and statuses == {MessageStatus.SENT.value: args.messages})
        return 0 if ok else 1
    finally:
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
