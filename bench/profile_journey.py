"""CPU of each request of the reservation journey, in-process, and where it goes (cProfile).

Runs the journey of bench/journey_http.py through Flask's test client on a throw-away database
(SQLite file, or a schema of --url), one person after another: the CPU time of each step (median),
its SQL statements, then a cProfile of --profile journeys, the functions with the most CPU first.

    .venv/bin/python bench/profile_journey.py [--url postgresql://…] [--journeys 200] [--profile 100]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="")
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--profile", type=int, default=100, help="journeys under cProfile (0: none)")
    parser.add_argument("--top", type=int, default=30)
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

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
        with app.app_context():
            keys = sorted(set(db.session.scalars(sa.select(Device.offer_key))))
            codes = [typed_code(n) for n in range(total)]
        statements = [0]

        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
        cpu = {name: [] for name in STEPS}
        queries = {name: [] for name in STEPS}
        number = iter(range(total))

        def journey(record: bool):
            n = next(number)
            key = keys[n % len(keys)]
            client = app.test_client()
            headers = {"Accept-Language": "fr", "Accept-Encoding": "gzip"}

            def step(name, method, path, **kwargs):
                began, before = time.process_time(), statements[0]
                response = client.open(path, method=method, headers=headers, **kwargs)
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
        for _ in range(args.journeys):
            journey(True)
        print(f"{args.journeys} journeys in-process on {url.split(':')[0]}, CPU per step (median) and statements:")
        for name in STEPS:
            print(f"  {name:16} {1000 * statistics.median(cpu[name]):6.2f} ms  {max(queries[name])} statements")
        print(f"  {'journey':16} {sum(1000 * statistics.median(cpu[name]) for name in STEPS):6.2f} ms")
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU, not waits on the database
            profiler.enable()
            for _ in range(args.profile):
                journey(False)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top * 2)
        with app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
