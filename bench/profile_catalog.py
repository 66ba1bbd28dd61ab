"""CPU of the uncached catalog and offer pages, in-process, and where it goes (cProfile).

A fresh SQLite database seeded as `catalog_rps.py` does; the page cache off; the 300-URL catalog
mix and 50 offer pages rendered through Flask's test client in several languages: the CPU time per
page (median of the passes), its SQL statements, then a cProfile of one more pass, the functions
with the most CPU first. `--snapshot DIR` writes every page's HTML there (one file per URL and
language) and `--compare DIR` checks the pages are byte for byte those of an earlier snapshot.

    .venv/bin/python bench/profile_catalog.py [--devices 2000] [--passes 3] [--top 40]
    .venv/bin/python bench/profile_catalog.py --snapshot /tmp/before --profile 0
    .venv/bin/python bench/profile_catalog.py --compare /tmp/before --profile 0
"""

import argparse
import cProfile
import hashlib
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from catalog_rps import catalog_urls, seed  # noqa: E402

LANGUAGES = ("fr", "en", "ar", "uk")
EXTRA_URLS = ["/catalog?max_price=abc&min_ram=3&page=0", "/catalog?page=999", "/catalog?category=screen&max_price=1"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--profile", type=int, default=1, help="passes under cProfile (0: none)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--only", choices=("catalog", "offer"), help="measure one kind of page only")
    parser.add_argument("--snapshot", type=Path, help="write each page's HTML in this folder")
    parser.add_argument("--compare", type=Path, help="compare each page's HTML with this snapshot")
    args = parser.parse_args()

    import sqlalchemy as sa

    with tempfile.TemporaryDirectory(prefix="profile-catalog-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'catalog.sqlite3'}"
        stock = seed(url, args.devices)
        from shop import create_app
        from shop.extensions import db

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PAGE_CACHE": False, "RATELIMIT_ENABLED": False})
        client = app.test_client()
        statements = [0]
        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute",
                            lambda *a: statements.__setitem__(0, statements[0] + 1))
        kinds = {
            "catalog": catalog_urls(stock["points"]) + EXTRA_URLS,
            "offer": [f"/offer/{key}" for key in stock["offer_keys"][:50]],
        }

        if args.only:
            kinds = {args.only: kinds[args.only]}

        def render(path: str, language: str) -> bytes:
            response = client.get(path, headers={"Accept-Language": language})
            assert response.status_code == 200, (path, response.status_code)
            return response.data

        for paths in kinds.values():  # warm: templates compiled, statements cached
            for path in paths[:20]:
                render(path, "fr")

        different = 0
        for folder in (args.snapshot, args.compare):
            if folder is None:
                continue
            args.snapshot and folder.mkdir(parents=True, exist_ok=True)
            for paths in kinds.values():
                for path in paths:
                    for language in LANGUAGES:
                        body = render(path, language)
                        name = hashlib.sha256(f"{language} {path}".encode()).hexdigest()[:16] + ".html"
                        if folder is args.snapshot:
                            (folder / name).write_bytes(body)
                        elif (folder / name).read_bytes() != body:
                            different += 1
                            if different <= 5:
                                print(f"DIFFERENT: {language} {path} ({folder / name})")
        if args.compare:
            count = sum(len(p) for p in kinds.values()) * len(LANGUAGES)
            print(f"compared {count} pages with {args.compare}: {different} different")

        for kind, paths in kinds.items():
            cpu, sent = [], []
            for _ in range(args.passes):
                began, statements[0] = time.process_time(), 0
                for n, path in enumerate(paths):
                    render(path, LANGUAGES[n % len(LANGUAGES)])
                cpu.append((time.process_time() - began) * 1000 / len(paths))
                sent.append(statements[0] / len(paths))
            print(f"{kind}: {len(paths)} URLs, {statistics.median(cpu):.2f} ms CPU a page, best {min(cpu):.2f} (passes: "
                  + ", ".join(f"{c:.2f}" for c in cpu) + f"), {max(sent):.2f} statements a page")

        if args.profile:
            total = cProfile.Profile()
            for kind, paths in kinds.items():
                profiler = cProfile.Profile()
                for _ in range(args.profile):
                    for n, path in enumerate(paths):
                        for one in (profiler, total):
                            one.enable()
                            render(path, LANGUAGES[n % len(LANGUAGES)])
                            one.disable()
                calls = pstats.Stats(profiler).total_calls / (args.profile * len(paths))
                print(f"{kind}: {calls:,.0f} Python function calls a page under cProfile "
                      "(a measure that does not move with the machine's load)")
            stats = pstats.Stats(total).strip_dirs()
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
        with app.app_context():
            db.engine.dispose()
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
