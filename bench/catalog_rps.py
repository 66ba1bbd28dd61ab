"""Requests per second of the catalog over 10,000 devices, against hello-world Flask.

Both apps run under gunicorn with the same fixed settings on 127.0.0.1; a small threaded load
generator measures each URL for a few seconds after a warm-up. The goal is that the catalog
serves at least 40 % of what an empty Flask app serves. See bench/README.md.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
GUNICORN_SETTINGS = ["--workers", "2", "--threads", "1", "--worker-class", "sync", "--timeout", "30"]
GOAL = 0.40
CATALOG_URLS = ["/catalog", "/catalog?category=laptop&page=2"]


def seed(database_url: str, devices: int, rng_seed: int = 2025) -> dict:
    """A fresh database: demo pickup points and batches, then `devices` listed devices in bulk."""
    import flask_migrate
    import sqlalchemy as sa

    from shop import create_app
    from shop.demo import MODELS, seed_demo
    from shop.extensions import db
    from shop.models import Device, DeviceStatus, DonationBatch, Grade, PickupPoint

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    rng = random.Random(rng_seed)
    with app.app_context():
        flask_migrate.upgrade()
        seed_demo(0)
        batches = list(db.session.scalars(sa.select(DonationBatch.id)))
        points = list(db.session.scalars(sa.select(PickupPoint.id)))
        rows = []
        for n in range(devices):
            category, brand, model, cpu, ram, storage, screen, os_name, keyboard, base = rng.choice(MODELS)
            grade = rng.choices([Grade.A, Grade.B, Grade.C], weights=[3, 5, 2])[0]
            price = base - {Grade.A: 0, Grade.B: 1000, Grade.C: 2000}[grade] - rng.choice([0, 0, 500, 1000])
            battery = rng.choice([78, 82, 85, 88, 91, 95]) if screen and category.value != "screen" else None
            values = dict(
                serial_number=f"BENCH-{n:06d}", category=category, brand=brand, model=model, cpu=cpu,
                ram_gb=ram, storage_gb=storage, screen_tenths=screen, os=os_name, keyboard_layout=keyboard,
                grade=grade, battery_health=battery, price_cents=max(price, 500), status=DeviceStatus.LISTED,
                pickup_point_id=rng.choice(points), batch_id=rng.choice(batches),
            )
            values["offer_key"] = Device(**values).compute_offer_key()
            rows.append(values)
        db.session.execute(sa.insert(Device), rows)
        db.session.commit()
        offers = db.session.scalar(sa.select(sa.func.count(sa.distinct(Device.offer_key))))
        db.session.remove()
        db.engine.dispose()
    return {"devices": devices, "offers": offers, "pickup_points": len(points)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One gunicorn master with the fixed settings, logging into a file."""

    def __init__(self, name: str, app: str, *, chdir: Path, env: dict, log_dir: Path):
        self.name = name
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        command = [str(GUNICORN), *GUNICORN_SETTINGS, "--bind", f"127.0.0.1:{self.port}", "--chdir", str(chdir), app]
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)

    def wait_ready(self, path: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                status, _ = get(self.port, path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit(f"{self.name} did not start; its log:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def measure(port: int, path: str, *, clients: int, warmup: float, duration: float) -> dict:
    """Requests per second answered 200 by `clients` threads in a loop, after a warm-up.

    Each client keeps its connection open when the server allows it (gunicorn's sync workers
    close it after each response, for both apps alike; http.client then reconnects).
    """
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + duration
    counts = [0] * clients
    errors = [0] * clients

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Accept-Encoding": "gzip", "User-Agent": "catalog-bench"}
        try:
            while (now := time.monotonic()) < stop_at:
                try:
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                    if response.will_close:
                        conn.close()
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()
                if now >= measure_from:
                    if ok:
                        counts[i] += 1
                    else:
                        errors[i] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"path": path, "requests": sum(counts), "errors": sum(errors), "rps": sum(counts) / duration}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before counting")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds counted per URL")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a ratio is below the goal")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="catalog-bench-") as tmp:
        tmp = Path(tmp)
        database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        began = time.monotonic()
        stock = seed(database_url, args.devices)
        print(f"Seeded {stock['devices']} listed devices ({stock['offers']} offers, "
              f"{stock['pickup_points']} pickup points) in {time.monotonic() - began:.1f} s")
        print(f"gunicorn {' '.join(GUNICORN_SETTINGS)}; {args.clients} clients, "
              f"{args.warmup:g} s warm-up then {args.duration:g} s per URL, Accept-Encoding: gzip\n")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN"))}
        env.update(DATABASE_URL=database_url, SHOP_ENV="development", PYTHONUNBUFFERED="1")
        env.pop("GUNICORN_CMD_ARGS", None)
        servers = {
            "shop": Server("shop", "shop:create_app()", chdir=ROOT, env=env, log_dir=tmp),
            "hello": Server("hello", "hello_app:app", chdir=HERE, env=env, log_dir=tmp),
        }
        results = []
        try:
            servers["shop"].wait_ready("/healthz")
            servers["hello"].wait_ready("/")
            # Hello world before and after the catalog, so a change in the machine's load during
            # the run weighs on both sides of the ratio.
            plan = [("hello", "/")] + [("shop", path) for path in CATALOG_URLS] + [("hello", "/")]
            for name, path in plan:
                port = servers[name].port
                status, body = get(port, path)
                if status != 200:
                    sys.exit(f"{name} {path} answered {status}, not 200")
                result = measure(port, path, clients=args.clients, warmup=args.warmup, duration=args.duration)
                result.update(app=name, response_bytes=len(body))
                results.append(result)
                print(f"{name:6} {path:36} {result['rps']:8.1f} req/s  "
                      f"({result['requests']} ok, {result['errors']} errors, {len(body)} bytes)")
        finally:
            for server in servers.values():
                server.stop()

    hello_runs = [r["rps"] for r in results if r["app"] == "hello"]
    hello = sum(hello_runs) / len(hello_runs)
    below = False
    print(f"\nhello world, mean of {len(hello_runs)} runs: {hello:.1f} req/s")
    for result in results:
        if result["app"] != "shop":
            continue
        ratio = result["rps"] / hello if hello else 0.0
        result["ratio_to_hello"] = round(ratio, 3)
        verdict = "ok" if ratio >= GOAL else "BELOW GOAL"
        below |= ratio < GOAL
        print(f"ratio {result['path']:36} / hello = {ratio:.2f}  (goal >= {GOAL:.2f}: {verdict})")

    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = out_dir / f"catalog_rps-{stamp}.json"
    out.write_text(json.dumps({"at": stamp, "settings": vars(args), "gunicorn": GUNICORN_SETTINGS,
                               "cpus": os.cpu_count(), "stock": stock, "results": results}, indent=2))
    print(f"\nSaved {out.relative_to(ROOT)}")
    return 1 if (below and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
