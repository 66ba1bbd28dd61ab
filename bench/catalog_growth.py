"""Uncached render CPU of the public pages as the stock grows, in-process, with SQL statements.

For each stock size, a fresh SQLite database is seeded as `catalog_rps.py` does; then, with the
page cache off, each page is rendered a few times through the test client and the CPU time of
the process (`time.process_time`) per render is kept (median of the rounds), with the statements
each render sends. Each size is measured in a process of its own, started after the seeding: the
seeding's 100,000 Python rows, built and freed, would otherwise slow the process that measures
(the size measured second looked slower, whichever it was). See bench/README.md.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from catalog_rps import seed  # noqa: E402

GOALS = {"ratio": 1.3, "catalog_ms": 15.0, "statements": 4}


def pages(app) -> dict:
    import sqlalchemy as sa

    from shop.extensions import db
    from shop.models import OfferRow

    with app.app_context():
        key = db.session.scalar(sa.select(OfferRow.offer_key).where(OfferRow.listed > 0)
                                .order_by(OfferRow.listed.desc(), OfferRow.offer_key).limit(1))
    return {"/catalog": "/catalog", "filtered": "/catalog?category=laptop&min_ram=8&sort=price_desc&page=2",
            "offer": f"/offer/{key}", "/": "/"}


def measure(database_url: str, *, rounds: int) -> dict:
    import sqlalchemy as sa

    from shop import create_app
    from shop.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "PAGE_CACHE": False, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    results = {}
    statements = []
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
    for name, url in pages(app).items():
        for _ in range(3):  # warm: templates compiled, statements cached
            assert client.get(url, headers={"Accept-Language": "fr"}).status_code == 200, url
        times = []
        for _ in range(rounds):
            statements.clear()
            began = time.process_time()
            client.get(url, headers={"Accept-Language": "fr"})
            times.append((time.process_time() - began) * 1000)
        results[name] = {"cpu_ms": round(statistics.median(times), 2), "statements": len(statements)}
    return results


def measure_in_a_fresh_process(database_url: str, *, rounds: int) -> dict:
    command = [sys.executable, __file__, "--measure", database_url, "--rounds", str(rounds)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--measure", metavar="DATABASE_URL", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, rounds=args.rounds)))
        return 0
    table = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="catalog-growth-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'growth.sqlite3'}"
            began = time.monotonic()
            stock = seed(url, size)
            seeded = time.monotonic() - began
            table[size] = {"stock": stock, "seconds_to_seed": round(seeded, 1), "pages": measure_in_a_fresh_process(url, rounds=args.rounds)}
        row = table[size]["pages"]
        print(f"{size:>7} devices ({stock['offers']} offers, seeded in {seeded:.0f} s): "
              + "  ".join(f"{name} {r['cpu_ms']:.1f} ms/{r['statements']} stmts" for name, r in row.items()))
    sizes = sorted(table)
    small, large = table[sizes[0]]["pages"]["/catalog"], table[sizes[-1]]["pages"]["/catalog"]
    ratio = large["cpu_ms"] / small["cpu_ms"]
    statements = {r["statements"] for size in sizes for r in table[size]["pages"].values()}
    print(f"\n/catalog CPU {sizes[-1]:,} / {sizes[0]:,} devices: {ratio:.2f}x (goal <= {GOALS['ratio']}); "
          f"at {sizes[-1]:,}: {large['cpu_ms']:.1f} ms (goal <= {GOALS['catalog_ms']:g}); "
          f"statements per page: {sorted(statements)} (goal <= {GOALS['statements']}, constant)")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out / f"catalog_growth-{stamp}.json").write_text(json.dumps({"at": stamp, "table": table, "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
