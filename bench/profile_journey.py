"""CPU of each request of the reservation journey, in-process, and where it goes (cProfile).

Runs the journey of bench/journey_http.py through Flask's test client on a throw-away database
(SQLite file, or a schema of --url), one person after another: the CPU time of each step (median),
its SQL statements, then a cProfile of --profile journeys, the functions with the most CPU first.

    .venv/bin/python bench/profile_journey.py [--url postgresql://…] [--journeys 200] [--profile 100]
    .venv/bin/python bench/profile_journey.py --step "reserve page"   # cProfile of that step only
"""

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from scratch import scratch_database  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
STEPS = ["open the offer", "code form", "enter the code", "reserve page", "reserve", "confirmation"]


def time_hooks(app) -> dict[str, float]:
    """Wrap every app-wide hook (before/after request, context processors, the session's open and
    save, the user loader) with a CPU timer; returns the totals by hook, filled as requests run."""
    spent: dict[str, float] = {}

    def timed(name, func):
        def wrapper(*args, **kwargs):
            began = time.process_time()
            try:
                return func(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - began
        return wrapper

    def label(kind, func):
        func = getattr(func, "func", func)  # functools.partial
        return f"{kind} {func.__module__}.{func.__qualname__.replace('.<locals>', '')}"

    for funcs, kind in ((app.before_request_funcs, "before"), (app.after_request_funcs, "after"),
                        (app.teardown_request_funcs, "teardown"), (app.template_context_processors, "context")):
        for blueprint, hooks in funcs.items():
            kind_here = kind if blueprint is None else f"{kind}[{blueprint}]"
            hooks[:] = [timed(label(kind_here, f), f) for f in hooks]
    import shop  # the parts of the after-request hook `finish`: commit, headers, compression

    shop._gzip = timed("  finish: gzip", shop._gzip)
    shop.set_security_headers = timed("  finish: security headers", shop.set_security_headers)
    shop.rollback_quietly = timed("  finish: rollback", shop.rollback_quietly)
    from shop.extensions import db

    with app.app_context():
        db.session.registry().__class__.commit = timed("  finish: commit (and the services' writes)",
                                                       db.session.registry().__class__.commit)
    session = app.session_interface
    session.open_session = timed("session open (cookie read, signature)", session.open_session)
    session.save_session = timed("session save (cookie written)", session.save_session)
    login = app.login_manager
    if login._user_callback:
        login._user_callback = timed("user loader", login._user_callback)
    return spent


def cached_page_cost(app, key: str, n: int) -> None:
    """CPU per request, through the test client, of hello world (bench/hello_app.py) and of cached
    pages of the shop (a visitor without cookies): what every request pays besides its view."""
    from hello_app import app as hello

    def cpu(flask_app, path, headers):
        client = flask_app.test_client()
        for _ in range(50):  # filled and warm
            client.get(path, headers=headers)
        best = float("inf")
        for _ in range(5):  # the least disturbed of 5 passes
            began = time.process_time()
            for _ in range(n // 5):
                client.get(path, headers=headers)
            best = min(best, (time.process_time() - began) / (n // 5))
        return best

    headers = {"Accept-Language": "fr", "Accept-Encoding": "gzip"}
    base = cpu(hello, "/", headers)
    print(f"CPU per request through the test client (best of 5 passes of {n // 5}):")
    print(f"  {'hello world':28} {1000 * base:6.3f} ms")
    for name, path in (("cached /catalog", "/catalog"), ("cached offer page", f"/offer/{key}")):
        spent = cpu(app, path, headers)
        print(f"  {name:28} {1000 * spent:6.3f} ms = {spent / base:.2f}x hello world's")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="")
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--profile", type=int, default=100, help="journeys under cProfile (0: none)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--step", choices=STEPS, help="profile this step of each journey only")
    parser.add_argument("--hooks", action="store_true", help="also the CPU of each request hook, per request")
    parser.add_argument("--cached", type=int, default=0,
                        help="also the CPU of N cached catalog and offer pages against N hello-world requests")
    args = parser.parse_args()

    import reservations_pg
    import sqlalchemy as sa

    from journey_http import typed_code

    with scratch_database(args.url, "profile") as url:
        total = args.journeys + args.profile + 10
        reservations_pg.seed(url, offers=max(40, total // 20), units=25, codes=total)
        from shop import create_app
        from shop.extensions import db
        from shop.models import Device

        # The rate limits stay on (in memory), as under gunicorn: their hooks are part of each
        # request's cost. Every journey comes from the same address here, so the code limit is wide.
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "CODE_RATE_LIMIT": "1000000 per minute"})
        hook_cpu = time_hooks(app) if args.hooks else {}
        with app.app_context():
            keys = sorted(set(db.session.scalars(sa.select(Device.offer_key))))
            codes = [typed_code(n) for n in range(total)]
        statements = [0]

        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
        cpu = {name: [] for name in STEPS}
        queries = {name: [] for name in STEPS}
        number = iter(range(total))

        def journey(record: bool, profiler=None):
            n = next(number)
            key = keys[n % len(keys)]
            client = app.test_client()
            headers = {"Accept-Language": "fr", "Accept-Encoding": "gzip"}

            def step(name, method, path, **kwargs):
                began, before = time.process_time(), statements[0]
                profiling = profiler is not None and name == args.step
                if profiling:
                    profiler.enable()
                response = client.open(path, method=method, headers=headers, **kwargs)
                if profiling:
                    profiler.disable()
                if record:
                    cpu[name].append(time.process_time() - began)
                    queries[name].append(statements[0] - before)
                return response

            step("open the offer", "GET", f"/offer/{key}")
            page = step("code form", "GET", f"/reserve?offer={key}")
            token = TOKEN.search(page.get_data(as_text=True)) if page.headers.get("Content-Encoding") != "gzip" else None
            if token is None:
                import gzip

                token = TOKEN.search(gzip.decompress(page.get_data()).decode())
            response = step("enter the code", "POST", f"/reserve?offer={key}",
                            data={"csrf_token": token.group(1), "code": codes[n], "offer": key})
            assert response.status_code == 303, response.status_code
            step("reserve page", "GET", f"/reserve/offer/{key}")
            response = step("reserve", "POST", f"/reserve/offer/{key}", data={"csrf_token": token.group(1),
                                                                              "method": "counter"})
            assert response.status_code == 303, response.status_code
            step("confirmation", "GET", response.headers["Location"])

        for _ in range(10):
            journey(False)  # templates compiled, statements cached
        hook_cpu.clear()
        for _ in range(args.journeys):
            journey(True)
        print(f"{args.journeys} journeys in-process on {url.split(':')[0]}, CPU per step (median) and statements:")
        for name in STEPS:
            print(f"  {name:16} {1000 * statistics.median(cpu[name]):6.2f} ms  {max(queries[name])} statements")
        print(f"  {'journey':16} {sum(1000 * statistics.median(cpu[name]) for name in STEPS):6.2f} ms")
        if hook_cpu:
            requests = args.journeys * len(STEPS)
            print(f"CPU of each hook, per request (mean over the {requests} requests of the measured journeys):")
            for name, spent in sorted(hook_cpu.items(), key=lambda item: -item[1]):
                print(f"  {name:60} {1e6 * spent / requests:7.1f} µs")
        if args.cached:
            cached_page_cost(app, keys[0], args.cached)
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU, not waits on the database
            if not args.step:
                profiler.enable()
            hook_cpu.clear()
            for _ in range(args.profile):
                journey(False, profiler if args.step else None)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top * 2)
        with app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
