"""Time `POST /api/v1/devices` with 5,000 devices in one request, then the same with one bad item.

    .venv/bin/python bench/api_import.py                      # a temporary SQLite file
    .venv/bin/python bench/api_import.py --url postgresql://shop:shop@127.0.0.1:5432/shop_test

Through the whole app (test client: auth, JSON schema, the CSV import's checks, bulk insert, commit).
Prints the time, the SQL statements of each request (constant in the number of devices) and the
problem of the bad request (its item and field). See bench/README.md.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import scratch_database  # noqa: E402 (bench/ is on the path when run as a script)


def devices(rows: int, prefix: str) -> list[dict]:
    models = [("laptop", "Lenovo", "ThinkPad T480", 12000), ("laptop", "HP", "EliteBook 840 G5", 11000),
              ("smartphone", "Samsung", "Galaxy A52", 9500)]
    items = []
    for n in range(rows):
        category, brand, model, price = models[n % len(models)]
        items.append({"serial_number": f"{prefix}-{n:07d}", "category": category, "brand": brand, "model": model,
                      "grade": "ABC"[n % 3], "batch": "BENCH-LOT", "ram_gb": 8, "storage_gb": 256, "price_cents": price,
                      "status": "refurbished", "erasure_method": "nist_800_88_purge", "erasure_tool": "Blancco",
                      "erased_on": "2026-04-02", "erasure_operator": f"Atelier {n % 4}"})
    return items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("SHOP_ENV", "development")
    with scratch_database(args.url) as url:
        run(url, args.rows)
    return 0


def run(url: str, rows: int) -> None:
    import flask_migrate
    import sqlalchemy as sa
    from datetime import date

    from shop import create_app
    from shop.extensions import db
    from shop.models import ApiRole, DonationBatch, Donor, DonorKind, PickupPoint
    from shop.services import api_tokens

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "RATELIMIT_ENABLED": False})
    try:
        with app.app_context():
            flask_migrate.upgrade()
            point = PickupPoint(slug="bench", name="Bench", address="1 rue", postcode="57000", town="Metz")
            donor = Donor(name="Bench donor", kind=DonorKind.PUBLIC_BODY)
            db.session.add_all([point, DonationBatch(donor=donor, reference="BENCH-LOT", received_on=date(2026, 3, 1))])
            db.session.flush()
            _token, raw = api_tokens.create(name="bench", role=ApiRole.REFURBISHER, donor_ids=[donor.id], actor=None)
            db.session.commit()
            point_id = point.id
            db.session.remove()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {raw}", "Accept-Language": "en"}
        client.get("/api/v1/token", headers=headers)  # the token's first use is noted once
        statements = []
        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute",
                        lambda *a: statements.append(a[2]) if not a[2].startswith(("SAVEPOINT", "RELEASE")) else None)

        def send(items, key):
            statements.clear()
            body = json.dumps({"pickup_point_id": point_id, "devices": items})
            started = time.perf_counter()
            response = client.post("/api/v1/devices", data=body, content_type="application/json",
                                   headers={**headers, "Idempotency-Key": key})
            return response, time.perf_counter() - started, len(body)

        response, seconds, size = send(devices(rows, "OK"), "bench-ok")
        assert response.status_code == 201, response.get_data(as_text=True)[:500]
        print(f"database: {engine.dialect.name}; body: {size / 1024:.0f} KB, {rows} devices")
        print(f"{rows} devices: {response.status_code} in {seconds:.2f} s, {len(statements)} statements")
        small, _s, _ = send(devices(10, "SMALL"), "bench-small")
        print(f"10 devices: {small.status_code}, {len(statements)} statements")
        bad = devices(rows, "BAD")
        bad[rows // 2]["price_cents"] = 25000  # over the legal cap of a public donor's laptop
        response, seconds, _ = send(bad, "bench-bad")
        problem = response.json
        with app.app_context():
            stored = db.session.scalar(sa.text("SELECT count(*) FROM devices WHERE serial_number LIKE 'BAD-%'"))
        print(f"{rows} devices, one bad: {response.status_code} in {seconds:.2f} s, {len(statements)} statements, "
              f"{stored} stored; problem: {problem['errors']}")
    finally:
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
