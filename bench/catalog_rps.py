"""What visitors do to the catalog, in requests per second against hello-world Flask, in one run.

The shop (page cache on), the same shop with its page cache off, and a hello-world app run side
by side under the gunicorn settings of docs/DEPLOY.md (4 workers) on 127.0.0.1, over 10,000
devices. wrk (Debian's package) measures, in short interleaved rounds: hello world; a mix of
300 distinct valid catalog URLs (categories x points x price x memory x sort x pages 1-3) with
the cache on, first while it fills, then full; the same mix with the cache off; a mix of 50
offer pages. Every figure is a ratio to hello world measured in the same rounds. See
bench/README.md.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
GUNICORN_SETTINGS = ["--workers", "4", "--threads", "1", "--worker-class", "sync", "--timeout", "30"]  # docs/DEPLOY.md
GOALS = {"mix, cache full": 0.60, "mix, cache off": 0.30}


def catalog_urls(points: list[int], count: int = 300, rng_seed: int = 7) -> list[str]:
    """`count` distinct catalog URLs a visitor could reach with the filter form and the page links."""
    from urllib.parse import urlencode

    from shop.models import Category

    rng = random.Random(rng_seed)
    urls: set[str] = set()
    while len(urls) < count:
        args = {
            "category": rng.choice([""] + [c.value for c in Category]),
            "point": rng.choice([""] + [str(p) for p in points]),
            "max_price": rng.choice(["", "100", "150"]),
            "min_ram": rng.choice(["", "", "8", "16"]),
            "sort": rng.choice(["price_asc", "price_desc"]),
            "page": rng.choice(["1", "1", "2", "3"]),
        }
        urls.add("/catalog?" + urlencode({k: v for k, v in args.items() if v}))
    return sorted(urls)


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
        offer_keys = sorted(set(db.session.scalars(sa.select(Device.offer_key))))
        db.session.remove()
        db.engine.dispose()
    return {"devices": devices, "offers": offers, "pickup_points": len(points), "points": points,
            "offer_keys": offer_keys}


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

    def wait_ready(self, path: str, timeout: float = 120) -> None:
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pids(process) -> list[int]:
    """A gunicorn master and its workers."""
    try:
        workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    except OSError:
        workers = []
    return [process.pid, *map(int, workers)]


WRK = shutil.which("wrk")
WRK_THREADS = 2  # one per core: wrk's own CPU stays small beside the server's
WRK_SCRIPT = """
local paths = {%s}
local threads = 0
function setup(thread)
  thread:set("first", threads * %d)
  threads = threads + 1
end
local n = 0
function init(args) n = first end
function request()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], {["Accept-Encoding"] = "gzip", ["User-Agent"] = "catalog-bench"})
end
"""


def measure(port: int, paths: list[str], *, clients: int, warmup: float, duration: float, pids=(),
            scripts: Path = Path(tempfile.gettempdir())) -> dict:
    """Requests per second answered by `clients` wrk connections going through `paths` in a loop
    (each wrk thread from its own starting point), after a warm-up run of `warmup` seconds.

    wrk, not Python: a threaded Python client holds the GIL for every request it builds and
    parses, so it runs out of CPU near 2,000 requests a second and caps hello world, which made
    every other target look nearer to it than it is (2026-12-07: hello world 2,063 req/s through
    the Python client, 4,500-4,650 through wrk, on the same server). gunicorn's sync workers close
    the connection after each response, for every app alike; wrk then reconnects.
    """
    script = scripts / f"paths-{abs(hash(tuple(paths)))}.lua"
    if not script.exists():
        quoted = ",\n".join(json.dumps(path) for path in paths)
        script.write_text(WRK_SCRIPT % (quoted, max(1, len(paths) // WRK_THREADS)))
    command = [WRK, f"-t{min(WRK_THREADS, clients)}", f"-c{clients}", "-s", str(script), f"http://127.0.0.1:{port}"]
    if warmup > 0:  # wrk counts whole seconds
        subprocess.run([*command[:1], f"-d{max(1, round(warmup))}s", *command[1:]], check=True, capture_output=True)
    cpu_began = sum(cpu_seconds(pid) for pid in pids)
    out = subprocess.run([*command[:1], f"-d{max(1, round(duration))}s", *command[1:]], check=True, capture_output=True,
                         text=True).stdout
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_began
    counted = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    requests, seconds = int(counted.group(1)), float(counted.group(2)) / (1000 if counted.group(3) == "ms" else 1)
    failed = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    failed += int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    return {"requests": requests - failed, "errors": failed, "rps": (requests - failed) / seconds,
            "cpu_ms": 1000 * cpu / max(requests, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every target")
    parser.add_argument("--warmup", type=int, default=1, help="seconds before counting, each time")
    parser.add_argument("--duration", type=int, default=3, help="seconds counted per target and round")
    parser.add_argument("--fill", type=int, default=20, help="seconds spent filling the caches before the rounds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a ratio is below its goal")
    args = parser.parse_args()
    if WRK is None:
        sys.exit("catalog_rps.py needs wrk, the HTTP load generator (Debian: apt-get install wrk; `make bench` installs it)")

    with tempfile.TemporaryDirectory(prefix="catalog-bench-") as tmp:
        tmp = Path(tmp)
        database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        began = time.monotonic()
        stock = seed(database_url, args.devices)
        urls = catalog_urls(stock["points"])
        offers = random.Random(11).sample(stock["offer_keys"], min(50, len(stock["offer_keys"])))
        offer_urls = [f"/offer/{key}" for key in offers]
        print(f"Seeded {stock['devices']} listed devices ({stock['offers']} offers, "
              f"{stock['pickup_points']} pickup points) in {time.monotonic() - began:.1f} s")
        print(f"gunicorn {' '.join(GUNICORN_SETTINGS)}; {args.clients} clients, {args.rounds} interleaved rounds of "
              f"{args.warmup:g} s warm-up + {args.duration:g} s per target, Accept-Encoding: gzip, wrk -t{WRK_THREADS}\n")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN"))}
        env.update(DATABASE_URL=database_url, SHOP_ENV="development", PYTHONUNBUFFERED="1")
        env.pop("GUNICORN_CMD_ARGS", None)
        servers = {
            "shop": Server("shop", "shop:create_app()", chdir=ROOT, env=env, log_dir=tmp),
            "shop-uncached": Server("shop-uncached", "shop:create_app()", chdir=ROOT, env=dict(env, PAGE_CACHE="0"),
                                    log_dir=tmp),
            "hello": Server("hello", "hello_app:app", chdir=HERE, env=env, log_dir=tmp),
        }
        targets = {
            "hello world": ("hello", ["/"]),
            "mix, cache full": ("shop", urls),
            "mix, cache off": ("shop-uncached", urls),
            "offer pages (50)": ("shop", offer_urls),
        }
        rounds: dict[str, list[float]] = {name: [] for name in targets}
        cpu_rounds: dict[str, list[float]] = {name: [] for name in targets}  # server CPU per request
        errors = dict.fromkeys(targets, 0)
        try:
            for server in servers.values():
                server.wait_ready("/healthz" if server.name.startswith("shop") else "/")
            for path in urls + offer_urls:
                status, _ = get(servers["shop"].port, path)
                if status != 200:
                    sys.exit(f"shop {path} answered {status}, not 200")
            servers["shop"].stop()  # a fresh start: its caches are empty
            servers["shop"] = Server("shop-fresh", "shop:create_app()", chdir=ROOT, env=env, log_dir=tmp)
            servers["shop"].wait_ready("/healthz")
            filling = measure(servers["shop"].port, urls, clients=args.clients, warmup=0, duration=args.duration,
                              scripts=tmp)
            print(f"{'mix, cache filling':22} {filling['rps']:8.1f} req/s (first {args.duration:g} s after a start)")
            # Every worker sees every URL (in every shape of statement): the caches are full.
            measure(servers["shop"].port, urls, clients=args.clients, warmup=0, duration=args.fill, scripts=tmp)
            measure(servers["shop-uncached"].port, urls + offer_urls, clients=args.clients, warmup=0,
                    duration=args.fill, scripts=tmp)
            for n in range(args.rounds):
                for name, (server, paths) in targets.items():
                    result = measure(servers[server].port, paths, clients=args.clients, warmup=args.warmup,
                                     duration=args.duration, pids=server_pids(servers[server].process), scripts=tmp)
                    rounds[name].append(result["rps"])
                    cpu_rounds[name].append(result["cpu_ms"])
                    errors[name] += result["errors"]
                    print(f"round {n + 1} {name:22} {result['rps']:8.1f} req/s, server CPU {result['cpu_ms']:5.2f} ms "
                          f"a request ({result['errors']} errors)")
        finally:
            for server in servers.values():
                server.stop()

    hello = sum(rounds["hello world"]) / len(rounds["hello world"])
    summary = {"mix, cache filling": {"rps": round(filling["rps"], 1), "ratio": round(filling["rps"] / hello, 3)}}
    below = False
    print(f"\nhello world, mean of {args.rounds} rounds: {hello:.1f} req/s; load average {os.getloadavg()[0]:.1f}")
    hello_cpu = sorted(cpu_rounds["hello world"])[len(cpu_rounds["hello world"]) // 2]
    for name, values in rounds.items():
        mean = sum(values) / len(values)
        cpu = sorted(cpu_rounds[name])[len(cpu_rounds[name]) // 2]  # median of the rounds
        summary[name] = {"rps": round(mean, 1), "ratio": round(mean / hello, 3), "errors": errors[name],
                         "cpu_ms": round(cpu, 2), "cpu_ratio": round(cpu / hello_cpu, 2) if hello_cpu else None}
    for name, figures in summary.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"  (goal >= {goal:.2f}: {'ok' if figures['ratio'] >= goal else 'BELOW GOAL'})"
        below |= goal is not None and figures["ratio"] < goal
        cpu = (f", server CPU {figures['cpu_ms']:.2f} ms a request = {figures['cpu_ratio']}x hello's"
               if "cpu_ms" in figures else "")
        print(f"{name:22} {figures['rps']:8.1f} req/s  ratio to hello {figures['ratio']:.3f}{cpu}{verdict}")

    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = out_dir / f"catalog_rps-{stamp}.json"
    stock = {k: v for k, v in stock.items() if k not in ("offer_keys", "points")}
    out.write_text(json.dumps({"at": stamp, "settings": vars(args), "gunicorn": GUNICORN_SETTINGS,
                               "cpus": os.cpu_count(), "stock": stock, "rounds": rounds, "cpu_ms": cpu_rounds,
                               "load": os.getloadavg()[0], "summary": summary},
                              indent=2))
    print(f"\nSaved {out.relative_to(ROOT)}")
    return 1 if (below and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
