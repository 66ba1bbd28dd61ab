"""The reservation journey over HTTP on PostgreSQL, side by side with the service-level bench.

50 client threads walk the journey a person makes, each time as a new person (own cookies, own
client address behind the proxy, own eligibility code): open the offer, open the code form, enter
the code, see the reserve page, reserve at the counter, see the confirmation. The shop runs under
the gunicorn settings of docs/DEPLOY.md (4 sync workers, PROXY_FIX=1, a private Redis for the rate
limits, the access log through shop.accesslog) on a throw-away schema of the given database. Half
of the clients fight over 5 offers, as in bench/reservations_pg.py, which runs in the same rounds
(before each HTTP round) so both are measured under the same load. See bench/README.md.

    .venv/bin/python bench/journey_http.py --url postgresql://shop:shop@127.0.0.1:5432/shop_test
"""

import argparse
import gzip
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
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from scratch import scratch_database  # noqa: E402

GUNICORN = Path(sys.executable).with_name("gunicorn")
GUNICORN_SETTINGS = ["--workers", "4", "--threads", "1", "--worker-class", "sync", "--timeout", "30"]  # docs/DEPLOY.md
APPLICATION_NAME = "shop-journey"  # finds the shop's PostgreSQL backends, to read their CPU
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
GOAL_RATIO, GOAL_P99 = 0.5, 0.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def typed_code(n: int) -> str:
    """The code bench/reservations_pg.py's seed hashed for the n-th person, as typed from a slip."""
    from shop.services import codes

    body = f"{n:013d}"
    return codes.display(body + codes.check_symbol(body))


class Browser:
    """One person's browser: cookies, a client address (seen through the proxy), gzip."""

    def __init__(self, port: int, address: str, measured: bool = False):
        self.port, self.address, self.cookies, self.measured = port, address, {}, measured
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        headers = {"Accept-Encoding": "gzip", "User-Agent": "journey-bench", "X-Forwarded-For": self.address,
                   "X-Forwarded-Proto": "http", "Accept-Language": "fr"}
        if self.measured:
            headers["X-Bench-Phase"] = "measure"  # counted by bench/gunicorn_cpu.py
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.will_close:
            self.conn.close()
        if response.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return response.status, response.getheader("Location", ""), data.decode("utf-8", "replace")

    def close(self):
        self.conn.close()


STEPS = ["open the offer", "code form", "enter the code", "reserve page", "reserve", "confirmation"]


def journey(browser: Browser, code: str, key: str, timings: list[float]) -> str:
    """One person's journey; 'committed', 'refused' (sold out, lost race) or 'error: …'."""
    def step(method, path, form=None):
        began = time.perf_counter()
        result = browser.request(method, path, form)
        timings.append(time.perf_counter() - began)
        return result

    status, _, _ = step("GET", f"/offer/{key}")
    if status == 410:
        return "refused"
    if status != 200:
        return f"error: offer page {status}"
    status, _, page = step("GET", f"/reserve?offer={key}")
    token = TOKEN.search(page)
    if status != 200 or not token:
        return f"error: code form {status}"
    status, location, _ = step("POST", f"/reserve?offer={key}",
                               {"csrf_token": token.group(1), "code": code, "offer": key, "then": ""})
    if status == 303 and location.endswith("/reserve/me"):
        # The shop sends a person whose offer sold out while they typed the code to their own page
        # (shop/reserve/views.py: enter_code checks the offer is still on sale). That is the
        # contested offers running out, not a fault, when the offer page now says "sold out" (410).
        status, _, _ = step("GET", f"/offer/{key}")
        return "refused" if status == 410 else f"error: enter the code 303 /reserve/me, offer page {status}"
    if status != 303 or "/reserve/offer/" not in location:
        return f"error: enter the code {status} {location[-40:]}"
    status, _, page = step("GET", f"/reserve/offer/{key}")
    if status == 410:
        return "refused"
    token = TOKEN.search(page)
    if status != 200 or not token:
        return f"error: reserve page {status}"
    status, location, _ = step("POST", f"/reserve/offer/{key}", {"csrf_token": token.group(1), "method": "counter"})
    if status in (409, 410):
        # 409: the last unit went to someone else during the reservation; 410: the offer sold out
        # between the reserve page and the POST (the view answers the sold-out page before taking).
        return "refused"
    if status != 303 or "/reserve/confirmation/" not in location:
        return f"error: reserve {status} {location[-40:]}"
    path = location[location.index("/reserve/confirmation/"):]
    status, _, _ = step("GET", path)
    return "committed" if status == 200 else f"error: confirmation {status}"


def measure(port: int, keys: list[str], codes: list[str], *, clients: int, warmup: float, duration: float,
            pg_pids, server_pids) -> dict:
    hot, quiet = keys[:5], keys[5:]
    per_client = len(codes) // clients
    clock = {}
    start = threading.Barrier(clients + 1)
    results = []
    lock = threading.Lock()

    def client(index: int):
        rng = random.Random(1000 + index)
        mine = iter(codes[index * per_client:(index + 1) * per_client])
        contested = list(hot)
        local = []
        start.wait()
        n = 0
        while (began := time.monotonic()) < clock["end"]:
            code = next(mine, None)
            if code is None:
                local.append(("error: out of codes", 0.0, [], time.monotonic() >= clock["measured"]))
                break
            if began < clock["measured"]:
                key = rng.choice(quiet)
            else:
                key = rng.choice(contested) if index % 2 and contested else rng.choice(keys)
            n += 1
            browser = Browser(port, f"10.{index}.{n // 250}.{n % 250 + 1}", measured=began >= clock["measured"])
            timings: list[float] = []
            try:
                outcome = journey(browser, code, key, timings)
            except (OSError, http.client.HTTPException) as error:
                outcome = f"error: {type(error).__name__}"
            finally:
                browser.close()
            if outcome == "refused" and key in contested:
                contested.remove(key)  # told it is sold out: looks elsewhere, as a person would
            ended = time.monotonic()
            # A journey counts when it ends inside the measured seconds (rates: completions per second).
            local.append((outcome, ended - began, timings, clock["measured"] <= ended <= clock["end"]))
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    now = time.monotonic()
    clock.update(measured=now + warmup, end=now + warmup + duration)
    start.wait()
    time.sleep(max(0.0, clock["measured"] - time.monotonic()))
    backends = pg_pids()
    servers = server_pids()
    cpu_began = [sum(cpu_seconds(p) for p in servers), sum(cpu_seconds(p) for p in backends), time.process_time()]
    began = time.monotonic()
    time.sleep(max(0.0, clock["end"] - time.monotonic()))
    cpu_end = [sum(cpu_seconds(p) for p in servers), sum(cpu_seconds(p) for p in backends), time.process_time()]
    seconds = time.monotonic() - began
    for thread in threads:
        thread.join()
    counted = [r for r in results if r[3]]
    committed = [r for r in counted if r[0] == "committed"]
    refused = sum(1 for r in counted if r[0] == "refused")
    errors = [r[0] for r in counted if r[0].startswith("error")]
    latencies = sorted(r[1] for r in committed)
    done = max(len(committed) + refused, 1)

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    steps = [[] for _ in STEPS]
    for r in committed:
        for i, t in enumerate(r[2]):
            steps[i].append(t)
    return {
        "committed_per_s": round(len(committed) / seconds, 1), "committed": len(committed), "refused": refused,
        "errors": len(errors), "error_kinds": sorted(set(errors))[:5],
        "p50_s": round(pct(0.5), 3), "p99_s": round(pct(0.99), 3),
        "server_cpu_ms": round(1000 * (cpu_end[0] - cpu_began[0]) / done, 2),
        "pg_cpu_ms": round(1000 * (cpu_end[1] - cpu_began[1]) / done, 2),
        "client_cpu_ms": round(1000 * (cpu_end[2] - cpu_began[2]) / done, 2),
        "step_p50_ms": {name: round(1000 * sorted(v)[len(v) // 2], 1) for name, v in zip(STEPS, steps) if v},
        "load": round(os.getloadavg()[0], 2),
    }


def service_bench(url: str, out: Path, duration: float) -> dict:
    command = [sys.executable, str(HERE / "reservations_pg.py"), "--url", url, "--duration", str(duration),
               "--json", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", "postgresql://shop:shop@127.0.0.1:5432/shop_test"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--offers", type=int, default=400)
    parser.add_argument("--units", type=int, default=25)
    parser.add_argument("--no-service", action="store_true", help="only the HTTP journey")
    parser.add_argument("--strict", action="store_true", help="exit 1 below the goals (issue 16)")
    args = parser.parse_args()

    import reservations_pg
    import sqlalchemy as sa

    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    with tempfile.TemporaryDirectory(prefix="journey-bench-") as tmp, scratch_database(args.url, "journey") as url:
        tmp = Path(tmp)
        began = time.monotonic()
        reservations_pg.seed(url, offers=args.offers, units=args.units, codes=args.offers * args.units * 2)
        from shop import create_app
        from shop.extensions import db
        from shop.models import Device

        with create_app({"SQLALCHEMY_DATABASE_URI": url}).app_context():
            keys = sorted(set(db.session.scalars(sa.select(Device.offer_key))))
            codes = [typed_code(n) for n in range(args.offers * args.units * 2)]
            db.engine.dispose()
        print(f"Seeded {args.offers} offers x {args.units} units, {len(codes)} codes in {time.monotonic() - began:.1f} s")

        redis_port = free_port()
        redis = subprocess.Popen([redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.STDOUT)
        port = free_port()
        cpu_dir = tmp / "cpu"
        cpu_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN"))}
        env.update(DATABASE_URL=f"{url}&application_name={APPLICATION_NAME}", SHOP_ENV="development",
                   RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{redis_port}/0", PROXY_FIX="1",
                   SMS_FOLDER=str(tmp / "sms"), UPLOAD_FOLDER=str(tmp / "uploads"), BENCH_CPU_DIR=str(cpu_dir),
                   PYTHONUNBUFFERED="1")
        log = open(tmp / "gunicorn.log", "wb")
        server = subprocess.Popen(
            [str(GUNICORN), *GUNICORN_SETTINGS, "-c", str(HERE / "gunicorn_cpu.py"), "--bind", f"127.0.0.1:{port}",
             "--access-logfile", str(tmp / "access.log"), "--logger-class", "shop.accesslog.GunicornLogger",
             "shop:create_app()"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        engine = sa.create_engine(url.split("?")[0])

        def pg_pids():
            with engine.connect() as conn:
                return list(conn.scalars(sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                                         {"n": APPLICATION_NAME}))

        rounds = []
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if Browser(port, "10.255.0.1").request("GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("gunicorn did not start:\n" + (tmp / "gunicorn.log").read_text(errors="replace"))
                time.sleep(0.2)
            used = 0
            for n in range(args.rounds):
                service = None if args.no_service else service_bench(args.url, tmp / "service.json", args.duration)
                # Each round gets fresh codes (a code reserves once).
                share = codes[used:used + len(codes) // args.rounds]
                used += len(share)
                # Every worker serves each step a few times first (templates compiled, statements
                # prepared, connections open), as a server that has run for a while has.
                prime, share = share[:16], share[16:]
                for i, code in enumerate(prime):
                    browser = Browser(port, f"10.254.{n}.{i + 1}")
                    journey(browser, code, keys[-1 - i - 16 * n], [])
                    browser.close()
                http_figures = measure(port, keys, share, clients=args.clients, warmup=args.warmup,
                                       duration=args.duration, pg_pids=pg_pids,
                                       server_pids=lambda: [server.pid, *children(server.pid)])
                rounds.append({"service": service, "http": http_figures})
                if service:
                    print(f"round {n + 1} service bench: {service['committed_per_s']:.1f} committed/s, "
                          f"{service['errors']} errors, {service['client_cpu_ms']:.1f} ms Python + "
                          f"{service['server_cpu_ms']:.1f} ms PostgreSQL CPU an attempt (load {service['load']})")
                h = http_figures
                print(f"round {n + 1} HTTP journey:  {h['committed_per_s']:.1f} committed/s, p50 {h['p50_s']:.3f} s, "
                      f"p99 {h['p99_s']:.3f} s, {h['refused']} refused, {h['errors']} errors {h['error_kinds']}; "
                      f"CPU a journey: gunicorn {h['server_cpu_ms']:.1f} ms + PostgreSQL {h['pg_cpu_ms']:.1f} ms "
                      f"(clients {h['client_cpu_ms']:.1f} ms); load {h['load']}")
                print(f"         step p50 (ms): {h['step_p50_ms']}")
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
            log.close()
            redis.terminate()
            redis.wait(timeout=10)
            engine.dispose()
        per_request = {}
        for file in cpu_dir.glob("*.json"):
            for kind, (count, spent) in json.loads(file.read_text()).items():
                entry = per_request.setdefault(kind, [0, 0.0])
                entry[0] += count
                entry[1] += spent
    print("\nCPU per request in the gunicorn workers (every request of the run, warm-ups included):")
    for kind, (count, spent) in sorted(per_request.items(), key=lambda item: -item[1][1]):
        print(f"  {kind:40} {count:6d} requests  {1000 * spent / count:6.2f} ms")

    http_rate = sum(r["http"]["committed_per_s"] for r in rounds) / len(rounds)
    summary = {"http_committed_per_s": round(http_rate, 1),
               "p99_s": max(r["http"]["p99_s"] for r in rounds),
               "errors": sum(r["http"]["errors"] for r in rounds)}
    ok = summary["p99_s"] <= GOAL_P99 and summary["errors"] == 0
    if not args.no_service:
        service_rate = sum(r["service"]["committed_per_s"] for r in rounds) / len(rounds)
        summary.update(service_committed_per_s=round(service_rate, 1), ratio=round(http_rate / service_rate, 3))
        ok &= summary["ratio"] >= GOAL_RATIO
        print(f"\nHTTP journey {http_rate:.1f}/s ÷ service bench {service_rate:.1f}/s = {summary['ratio']:.3f} "
              f"(goal >= {GOAL_RATIO})", end="")
    print(f"; p99 {summary['p99_s']:.3f} s (goal <= {GOAL_P99}); errors {summary['errors']} (goal 0): "
          f"{'ok' if ok else 'BELOW GOAL'}")
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out_dir / f"journey_http-{stamp}.json").write_text(json.dumps(
        {"at": stamp, "settings": vars(args), "gunicorn": GUNICORN_SETTINGS, "rounds": rounds,
         "per_request_cpu_ms": {k: round(1000 * s / c, 2) for k, (c, s) in per_request.items()},
         "summary": summary}, indent=2))
    return 1 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
