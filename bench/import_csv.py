"""Time the CSV import of 5,000 devices: check (the preview) and check + insert + commit.

    .venv/bin/python bench/import_csv.py                      # a temporary SQLite file
    .venv/bin/python bench/import_csv.py --url postgresql://shop:shop@127.0.0.1:5432/shop_test

On PostgreSQL a throw-away schema is created and dropped at the end. Prints the timings and the
number of SQL statements of the import. See bench/README.md.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import scratch_database  # noqa: E402 (bench/ is on the path when run as a script)

ERASURE = "methode_effacement;outil_effacement;version_outil;date_effacement;operateur;certificat"


def generate(rows: int) -> bytes:
    """`rows` refurbished laptops and phones of a public donor's batch, French headers, `;`."""
    lines = [f"numero_serie;categorie;marque;modele;processeur;ram_go;stockage_go;ecran_pouces;systeme;clavier;"
             f"etat;batterie;prix;lot;statut;{ERASURE}"]
    models = [("ordinateur portable", "Lenovo", "ThinkPad T480", "Intel Core i5-8350U", 8, 256, "14,0", "azerty"),
              ("ordinateur portable", "HP", "EliteBook 840 G5", "Intel Core i5-8250U", 8, 256, "14,0", "azerty"),
              ("smartphone", "Samsung", "Galaxy A52", "Snapdragon 720G", 6, 128, "6,5", "")]
    for n in range(rows):
        category, brand, model, cpu, ram, storage, screen, keyboard = models[n % len(models)]
        price = "95,00" if category == "smartphone" else f"{100 + n % 5 * 10},00"
        lines.append(f"BENCH-{n:07d};{category};{brand};{model};{cpu};{ram};{storage};{screen};Windows 11;{keyboard};"
                     f"{'ABC'[n % 3]};{80 + n % 15};{price};BENCH-LOT;reconditionné;nist_800_88_purge;"
                     f"Blancco Drive Eraser;7.11;2026-04-02;Atelier {n % 4};BL-{n:07d}")
    return ("\r\n".join(lines) + "\r\n").encode()


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
    from shop.models import DonationBatch, Donor, DonorKind, PickupPoint
    from shop.services import catalog, stock_import

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    try:
        with app.app_context(), app.test_request_context():
            flask_migrate.upgrade()
            point = PickupPoint(slug="bench", name="Bench", address="1 rue", postcode="57000", town="Metz")
            db.session.add_all([point, DonationBatch(donor=Donor(name="Bench donor", kind=DonorKind.PUBLIC_BODY),
                                                     reference="BENCH-LOT", received_on=date(2026, 3, 1))])
            db.session.commit()
            content = generate(rows)
            statements = []
            sa.event.listen(db.engine, "before_cursor_execute",
                            lambda *a: statements.append(a[2]) if not a[2].startswith(("SAVEPOINT", "RELEASE")) else None)
            started = time.perf_counter()
            checked = stock_import.check(content, pickup_point=point)
            check_s = time.perf_counter() - started
            check_queries = len(statements)
            assert checked.ok, checked.problems[:5]
            statements.clear()
            started = time.perf_counter()
            stock_import.import_devices(content, pickup_point=point, actor="bench")
            db.session.commit()
            import_s = time.perf_counter() - started
            import_queries = len(statements)
            offers = catalog.list_offers(catalog.OfferFilters(), per_page=10)
            count = db.session.scalar(sa.text("SELECT count(*) FROM devices"))
            print(f"database: {db.engine.dialect.name}; file: {len(content) / 1024:.0f} KB, {rows} rows")
            print(f"check (preview): {check_s:.2f} s, {check_queries} statements")
            print(f"check + import + commit: {import_s:.2f} s, {import_queries} statements")
            print(f"devices in the stock: {count}; offers on sale (none listed yet): {offers.total}")
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
