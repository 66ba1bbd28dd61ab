"""Reservations committed per second on PostgreSQL, with 50 concurrent clients.

Each client is a thread with its own database session (2 processes x 25 threads, so both
cores work), reserving devices with its own eligibility codes through the real service
(`shop.services.reservations.reserve`: conditional UPDATE, partial unique indexes, audit), one
transaction per reservation. The clients share a few database connections (4 by default, as the
4 gunicorn workers of docs/DEPLOY.md would; `--connections 50` gives each its own). Half of the
clients fight over the same few offers during the measured seconds, so lost races and sold-out
answers are part of the measure. Counts reservations committed, refusals and errors. See
bench/README.md.

    .venv/bin/python bench/reservations_pg.py --url postgresql://shop:shop@127.0.0.1:5432/shop_test
"""

import argparse
import json
import multiprocessing
import os
import random
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_database  # noqa: E402 (bench/ is on the path when run as a script)

GOAL = 200.0


def _app(url: str, connections: int = 5):
    from shop import create_app

    # A fixed pool: a client thread waits for a free connection as a request waits for a worker.
    return create_app({"SQLALCHEMY_DATABASE_URI": url,
                       "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": connections, "max_overflow": 0, "pool_timeout": 60,
                                                     "pool_pre_ping": False}})


def seed(url: str, *, offers: int, units: int, codes: int) -> list[str]:
    """A fresh schema: structures, people, codes (hashed as the shop does), listed devices."""
    import flask_migrate
    import sqlalchemy as sa

    from shop.extensions import db
    from shop.models import (
        Beneficiary, Category, CodeState, Device, DeviceStatus, EligibilityCode, EligibilityGround, Grade,
        Organisation, OrganisationKind, OrganisationStatus, PickupPoint,
    )
    from shop.models.types import utcnow
    from shop.services import codes as code_service

    app = _app(url)
    with app.app_context():
        flask_migrate.upgrade()
        org = Organisation(name="Bench structure", kind=OrganisationKind.CCAS, town="Metz",
                           status=OrganisationStatus.ACTIVE, monthly_quota=1_000_000)
        point = PickupPoint(slug="bench", name="Bench point", address="1 rue du Banc", postcode="57000", town="Metz")
        db.session.add_all([org, point])
        db.session.flush()
        now = utcnow()
        issued = now - timedelta(days=3)  # codes issued a few days ago: reserving writes the person's activity
        db.session.execute(sa.insert(Beneficiary), [
            dict(organisation_id=org.id, display_name=f"P{n}", name_key=f"p{n}", birth_year=1980, language="fr",
                 ground=EligibilityGround.RSA, created_at=issued, last_activity_at=issued) for n in range(codes)])
        people = list(db.session.scalars(sa.select(Beneficiary.id).order_by(Beneficiary.id)))
        db.session.execute(sa.insert(EligibilityCode), [
            dict(code_hash=code_service.hash_body(f"{n:013d}"), beneficiary_id=person, organisation_id=org.id,
                 categories="computer", status=CodeState.ACTIVE, issued_at=issued, expires_at=now + timedelta(days=90))
            for n, person in enumerate(people)])
        rows = []
        for offer in range(offers):
            for unit in range(units):
                values = dict(serial_number=f"B-{offer}-{unit}", category=Category.LAPTOP, brand="Dell",
                              model=f"Model {offer}", ram_gb=8, storage_gb=256, grade=Grade.B, price_cents=9000,
                              pickup_point_id=point.id, status=DeviceStatus.LISTED, created_at=now, updated_at=now)
                values["offer_key"] = Device(**values).compute_offer_key()
                rows.append(values)
        db.session.execute(sa.insert(Device), rows)
        db.session.commit()
        keys = sorted(set(db.session.scalars(sa.select(Device.offer_key))))
        code_ids = list(db.session.scalars(sa.select(EligibilityCode.id).order_by(EligibilityCode.id)))
        db.engine.dispose()
    return keys, code_ids


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process on this machine (0 if it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker(url: str, threads: int, connections: int, code_ids: list[int], keys: list[str], warmup: float,
           duration: float, queue, repeat_sold_out: bool = False) -> None:
    import sqlalchemy as sa

    from shop.extensions import db
    from shop.models import PaymentMethod
    from shop.services import codes, reservations
    from shop.services.errors import DomainError
    from shop.services.reservations import SoldOut

    app = _app(url, connections)
    backends: set[int] = set()  # PostgreSQL server processes serving this worker (CPU read from /proc)
    with app.app_context():
        sa.event.listen(db.engine, "connect", lambda dbapi, record: backends.add(dbapi.info.backend_pid))
    hot, quiet = keys[:5], keys[5:]  # contested offers, kept whole for the measured seconds
    per_thread = len(code_ids) // threads
    counts = {"committed": 0, "refused": 0, "errors": 0}
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)
    clock = {}

    def run(index: int) -> None:
        rng = random.Random(index)
        mine = iter(code_ids[index * per_thread:(index + 1) * per_thread])
        contested = list(hot)
        local = {"committed": 0, "refused": 0, "errors": 0}
        with app.app_context():
            start.wait()
            used = 0
            while (began := time.monotonic()) < clock["end"]:
                if began < clock["measured"] and used >= per_thread // 2:
                    # A fast warm-up keeps half of the codes for the measure (small test runs).
                    time.sleep(clock["measured"] - began)
                    continue
                code_id = next(mine, None)
                if code_id is None:
                    break
                used += 1
                if began < clock["measured"]:
                    key = rng.choice(quiet)  # warm-up: connections, prepared statements, caches
                else:
                    key = rng.choice(contested) if index % 2 and contested else rng.choice(keys)
                try:
                    reservations.reserve(codes.get(code_id), key, method=PaymentMethod.COUNTER)
                    db.session.commit()
                    outcome = "committed"
                except SoldOut:
                    db.session.rollback()
                    outcome = "refused"
                    if not repeat_sold_out and key in contested:
                        contested.remove(key)  # told it is sold out: this client looks elsewhere
                except DomainError:
                    db.session.rollback()
                    outcome = "refused"
                except Exception:  # noqa: BLE001 - counted and reported, the bench goes on
                    db.session.rollback()
                    outcome = "errors"
                finally:
                    db.session.remove()
                if began >= clock["measured"]:  # attempts begun during the warm-up are not counted
                    local[outcome] += 1
        with lock:
            for name, value in local.items():
                counts[name] += value

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    now = time.monotonic()
    clock.update(measured=now + warmup, end=now + warmup + duration)
    start.wait()
    time.sleep(max(0.0, clock["measured"] - time.monotonic()))
    began, cpu_began = time.monotonic(), time.process_time()
    server_began = sum(_cpu_seconds(pid) for pid in backends)
    for t in pool:
        t.join()
    counts["seconds"] = time.monotonic() - began
    counts["client_cpu"] = time.process_time() - cpu_began
    counts["server_cpu"] = sum(_cpu_seconds(pid) for pid in backends) - server_began  # read while they are alive
    with app.app_context():
        db.engine.dispose()
    queue.put(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", "postgresql://shop:shop@127.0.0.1:5432/shop_test"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4,
                        help="database connections, shared by all clients (split over the processes); 4 as the "
                             "4 gunicorn workers of docs/DEPLOY.md; --connections 50 gives each client its own")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of reservations before the measure, not counted (connections, plans, caches)")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--offers", type=int, default=400)
    parser.add_argument("--units", type=int, default=25)
    parser.add_argument("--repeat-sold-out", action="store_true",
                        help="contested clients keep asking for offers they were told are sold out "
                             "(by default a client looks elsewhere after that answer, as a person would)")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 below {GOAL:.0f} reservations/s or on any error")
    parser.add_argument("--json", help="also write the figures to this file (bench/journey_http.py reads them)")
    args = parser.parse_args()

    with scratch_database(args.url) as url:
        keys, code_ids = seed(url, offers=args.offers, units=args.units, codes=args.offers * args.units * 2)
        threads = args.clients // args.processes
        connections = max(1, args.connections // args.processes)
        share = len(code_ids) // args.processes
        spawn = multiprocessing.get_context("spawn")
        queue = spawn.Queue()
        procs = [spawn.Process(target=worker, args=(url, threads, connections, code_ids[i * share:(i + 1) * share], keys,
                                                    args.warmup, args.duration, queue, args.repeat_sold_out))
                 for i in range(args.processes)]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
    committed = sum(r["committed"] for r in results)
    refused = sum(r["refused"] for r in results)
    errors = sum(r["errors"] for r in results)
    seconds = max(r["seconds"] for r in results)
    rate = committed / seconds
    done = max(committed + refused, 1)
    client_ms = 1000 * sum(r["client_cpu"] for r in results) / done
    server_ms = 1000 * sum(r["server_cpu"] for r in results) / done
    print(f"{args.clients} clients ({args.processes} processes x {threads} threads) sharing "
          f"{connections * args.processes} database connections, "
          f"{args.warmup:.0f} s of warm-up then {seconds:.1f} s measured, "
          f"{args.offers} offers x {args.units} units, half of the clients on 5 contested offers"
          f"{' (asked again when sold out)' if args.repeat_sold_out else ''}")
    print(f"committed {committed}, refused (sold out / lost race) {refused}, errors {errors}")
    print(f"CPU per attempt (committed or refused): {client_ms:.1f} ms in the clients (Python), "
          f"{server_ms:.1f} ms in PostgreSQL; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"reservations committed per second: {rate:.1f}  (goal >= {GOAL:.0f}: {'OK' if rate >= GOAL else 'BELOW GOAL'})")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "committed_per_s": round(rate, 1), "committed": committed, "refused": refused, "errors": errors,
            "client_cpu_ms": round(client_ms, 2), "server_cpu_ms": round(server_ms, 2),
            "load": round(os.getloadavg()[0], 2)}))
    if args.strict and (rate < GOAL or errors):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
