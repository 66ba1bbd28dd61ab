"""Donor report and impact dashboard timings on 10,000 devices and 5,000 reservations.

Seeds a fresh database with fast bulk inserts (one INSERT per table), then times, for the donor
with most devices: the report service, the report page, its printable view (every certificate)
and its CSV, and the dashboard service and page over 12 months; each the best of --repeat runs,
with the number of SQL statements. Goal: under 1 s each, and a number of statements that does not
grow with the data. See bench/README.md.

    .venv/bin/python bench/report.py                      # a temporary SQLite file
    .venv/bin/python bench/report.py --url postgresql://shop:shop@127.0.0.1:5432/shop_x
    (on PostgreSQL, everything happens in a new schema that is dropped at the end)
"""

import argparse
import json
import random
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_database  # noqa: E402 (bench/ is on the path when run as a script)

GOAL_SECONDS = 1.0
PASSWORD = "bench-password-not-secret"


def _app(url: str):
    from shop import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                       "ARGON2_FAST": True, "SERVER_NAME": None})


def seed(app, *, devices: int, reservations: int, seed: int = 6) -> int:
    """Bulk-insert the data set; returns the id of the donor whose report is timed."""
    import flask_migrate
    import pyotp
    import sqlalchemy as sa

    from shop.extensions import db
    from shop.models import (
        Beneficiary, Category, CodeState, Device, DeviceEvent, DeviceStatus, DonationBatch, Donor, DonorKind,
        EligibilityCode, EligibilityGround, ErasureMethod, ErasureRecord, ErasureResult, Organisation,
        OrganisationKind, OrganisationStatus, PaymentMethod, PickupPoint, Reservation, ReservationStatus, Role,
    )
    from shop.models.types import utcnow
    from shop.services import accounts, twofactor

    S, R = DeviceStatus, ReservationStatus
    rng = random.Random(seed)
    now = utcnow()
    with app.app_context():
        flask_migrate.upgrade()
        session = db.session
        points = [PickupPoint(slug=f"p{i}", name=f"Point {i}", address="1 rue", postcode="57000", town="Metz")
                  for i in range(3)]
        donors = [Donor(name="Eurométropole (bench)", kind=DonorKind.PUBLIC_BODY),
                  Donor(name="Company (bench)", kind=DonorKind.COMPANY)]
        orgs = [Organisation(name=f"Structure {i}", kind=OrganisationKind.CCAS, town="Metz",
                             status=OrganisationStatus.ACTIVE, monthly_quota=500) for i in range(8)]
        session.add_all(points + donors + orgs)
        session.flush()
        batches = [DonationBatch(donor_id=donors[0 if i < 8 else 1].id, reference=f"BENCH-{i:02d}",
                                 received_on=date(2026, 1, 1) + timedelta(days=20 * i), declared_count=devices // 10)
                   for i in range(10)]
        session.add_all(batches)
        admin = accounts.create_user(email="admin@bench.example", name="Bench admin", role=Role.ADMIN,
                                     password=PASSWORD, check_policy=False)
        twofactor.confirm_enrolment(admin, pyotp.TOTP(twofactor.start_enrolment(admin)).now())  # required for admins
        session.flush()

        categories = list(Category)
        grounds = list(EligibilityGround)
        sold, held, back = int(reservations * 0.8), int(reservations * 0.1), reservations - int(reservations * 0.9)
        statuses = [S.SOLD] * sold + [S.RESERVED] * held + [S.LISTED] * back
        others = [S.RECEIVED, S.ERASED, S.REFURBISHED, S.LISTED, S.WITHDRAWN, S.RECYCLED]
        statuses += [others[i % len(others)] for i in range(devices - len(statuses))]
        rng.shuffle(statuses)
        device_rows = [dict(
            serial_number=f"BENCH-SN-{n:06d}", category=categories[n % len(categories)], brand="Dell", model=f"M{n % 40}",
            grade="B", price_cents=5000 + 1000 * (n % 8), status=statuses[n], pickup_point_id=points[n % 3].id,
            batch_id=batches[n % 10].id, offer_key=f"{n % 300:016x}", created_at=now - timedelta(days=n % 360),
            updated_at=now, held_until=now + timedelta(days=7) if statuses[n] == S.RESERVED else None,
        ) for n in range(devices)]
        session.execute(sa.insert(Device), device_rows)
        ids = dict(session.execute(sa.select(Device.serial_number, Device.id)).tuples().all())
        device_ids = [ids[row["serial_number"]] for row in device_rows]

        session.execute(sa.insert(ErasureRecord), [dict(
            device_id=device_ids[n], method=ErasureMethod.NIST_PURGE, tool="Blancco Drive Eraser", tool_version="7.9",
            performed_on=date(2026, 2, 1), operator="Valor'Emm", result=ErasureResult.SUCCESS,
            certificate_reference=f"CERT-{n:06d}", created_at=now,
        ) for n in range(devices) if statuses[n] != S.RECEIVED])
        reasons = ["Broken screen", "Motherboard failure", "Too old to refurbish", None]
        session.execute(sa.insert(DeviceEvent), [dict(
            device_id=device_ids[n], from_status=S.RECEIVED, to_status=S.RECYCLED, actor="bench",
            note=reasons[n % len(reasons)], at=now,
        ) for n in range(devices) if statuses[n] == S.RECYCLED])

        session.execute(sa.insert(Beneficiary), [dict(
            organisation_id=orgs[n % len(orgs)].id, display_name=f"Person {n}", name_key=f"person {n}",
            birth_year=1950 + n % 50, language="fr", ground=grounds[n % (len(grounds) - 1)],
            created_at=now, last_activity_at=now,
        ) for n in range(reservations)])
        people = list(session.scalars(sa.select(Beneficiary.id).order_by(Beneficiary.id)))
        session.execute(sa.insert(EligibilityCode), [dict(
            code_hash=uuid.uuid4().hex, beneficiary_id=people[n], organisation_id=orgs[n % len(orgs)].id,
            categories="computer smartphone tablet screen printer accessory",
            status=CodeState.USED if n < sold else CodeState.ACTIVE,
            issued_at=now - timedelta(days=n % 300 + 1), expires_at=now + timedelta(days=60),
            used_at=now - timedelta(days=n % 300) if n < sold else None,
        ) for n in range(reservations)])
        code_ids = list(session.scalars(sa.select(EligibilityCode.id).order_by(EligibilityCode.id)))
        taken = [device_ids[n] for n in range(devices) if statuses[n] == S.SOLD]
        taken += [device_ids[n] for n in range(devices) if statuses[n] == S.RESERVED]
        taken += [device_ids[n] for n in range(devices) if statuses[n] == S.LISTED][:back]
        rows = []
        for n in range(reservations):
            status = R.PICKED_UP if n < sold else R.CONFIRMED if n < sold + held else R.CANCELLED
            when = now - timedelta(days=n % 300)
            rows.append(dict(
                number=f"B{n:07d}", device_id=taken[n], code_id=code_ids[n], beneficiary_id=people[n],
                organisation_id=orgs[n % len(orgs)].id, pickup_point_id=points[n % 3].id, status=status,
                payment_method=PaymentMethod.COUNTER, amount_cents=6000, paid_cents=6000 if n < sold else 0,
                pickup_code=f"{n % 1000000:06d}", held_until=now + timedelta(days=7), created_at=when,
                confirmed_at=when, picked_up_at=when if status == R.PICKED_UP else None,
                ended_at=when if status != R.CONFIRMED else None,
            ))
        session.execute(sa.insert(Reservation), rows)
        session.commit()
        donor_id = donors[0].id
        db.session.remove()
        return donor_id


@contextmanager
def counting(engine):
    import sqlalchemy as sa

    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def measure(app, donor_id: int, repeat: int) -> dict:
    from shop.extensions import db
    import sqlalchemy as sa

    from shop.models import Donor, User
    from shop.models.types import utcnow
    from shop.services import impact, twofactor

    client = app.test_client()
    assert client.post("/login", data={"email": "admin@bench.example", "password": PASSWORD}).status_code == 303
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.email == "admin@bench.example"))
        code = twofactor.current_code(admin, time.time() + 30)  # the next step: enrolment used this one
        db.session.remove()
    assert client.post("/login/code", data={"code": code}).status_code == 303
    today = utcnow().date()
    period = impact.date_range(today - timedelta(days=365), today)

    def report_service():
        with app.app_context():
            report = impact.donor_report(db.session.get(Donor, donor_id))
            db.session.remove()
            return report

    def dashboard_service():
        with app.app_context():
            impact.dashboard(period)
            db.session.remove()

    def page(url):
        def get():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return len(response.get_data())
        return get

    cases = {
        "donor report (service)": report_service,
        "donor report page": page(f"/admin/donors/{donor_id}/report"),
        "donor report, printable (every certificate)": page(f"/admin/donors/{donor_id}/report?format=print"),
        "donor report CSV": page(f"/admin/donors/{donor_id}/report?format=csv"),
        "dashboard (service)": dashboard_service,
        "dashboard page": page("/admin/impact"),
        "dashboard CSV": page("/admin/impact?format=csv"),
    }
    results = {}
    with app.app_context():
        engine = db.engine
    for name, run in cases.items():
        run()  # warm-up: templates compiled, caches filled
        best = None
        for _ in range(repeat):
            with counting(engine) as statements:
                started = time.perf_counter()
                run()
                elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        results[name] = {"seconds": round(best, 3), "queries": len(statements)}
    with app.app_context():
        report = impact.donor_report(db.session.get(Donor, donor_id))
        results["_donor_devices"] = report.received
        results["_certificates"] = len(report.certificates)
        db.session.remove()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--reservations", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with scratch_database(args.url, prefix="bench_report") as url:
        app = _app(url)
        started = time.perf_counter()
        donor_id = seed(app, devices=args.devices, reservations=args.reservations)
        seeded = time.perf_counter() - started
        results = measure(app, donor_id, args.repeat)
        with app.app_context():
            from shop.extensions import db

            backend = db.engine.dialect.name
            db.engine.dispose()
    print(f"{backend}: {args.devices} devices, {args.reservations} reservations, seeded in {seeded:.1f} s; "
          f"timed donor has {results.pop('_donor_devices')} devices, {results.pop('_certificates')} certificates")
    slow = []
    for name, figures in results.items():
        flag = "" if figures["seconds"] < GOAL_SECONDS else "  (over the goal)"
        print(f"  {name:45s} {figures['seconds']:6.3f} s  {figures['queries']:3d} queries{flag}")
        if figures["seconds"] >= GOAL_SECONDS:
            slow.append(name)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"report-{backend}.json").write_text(json.dumps(results, indent=2))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
