"""Importing a refurbisher's device file: every problem by line and column, then all rows or none."""

import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from shop.models import (
    AuditEntry, Category, Device, DeviceEvent, DeviceStatus, ErasureRecord, Grade, GridPrice, Role,
)
from shop.services import catalog, devices, pricing, stock_import
from shop.services.errors import DomainError
from tests import factories

SAMPLE = Path(__file__).resolve().parent.parent / "docs" / "sample-devices.csv"
FR_HEADER = "numero_serie;categorie;marque;modele;etat;prix;lot"
EN_HEADER = "serial_number,category,brand,model,grade,price,batch"
ERASURE = "methode_effacement;outil_effacement;version_outil;date_effacement;operateur;certificat"


def csv_bytes(*lines, bom=False) -> bytes:
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode()


def problems(checked):
    return [(p.line, p.column, str(p.message)) for p in checked.problems]


def generated(count: int, *, batch: str = "", bad_line: int | None = None, prefix="GEN") -> bytes:
    """`count` laptops (listing-ready erasure details), optionally one bad line."""
    lines = [f"{FR_HEADER};statut;{ERASURE}"]
    for n in range(count):
        category = "ordinateur portable" if n + 2 != bad_line else "grille-pain"
        lines.append(f"{prefix}-{n:06d};{category};Lenovo;ThinkPad T{480 + n % 5};{'ABC'[n % 3]};{90 + n % 4},50;{batch};"
                     f"refurbished;nist_800_88_purge;Blancco;7.11;2026-04-02;Atelier {n % 3};C-{n}")
    return csv_bytes(*lines)


@pytest.fixture
def point(db):
    return factories.pickup_point(name="Metz")


@pytest.fixture
def public_batch(db):
    return factories.batch(public=True, reference="EMM-2026-01")


def test_the_sample_file_imports_with_erasure_records_history_and_grid_prices(db, point):
    factories.batch(public=True, reference="EMM-2026-01")
    factories.batch(public=True, reference="EMM-2025-02")
    factories.batch(public=False, reference="MUT-2026-01")
    db.session.add(GridPrice(category=Category.LAPTOP, grade=Grade.C, price_cents=8500))
    db.session.flush()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    checked = stock_import.check(SAMPLE.read_bytes(), pickup_point=point)
    assert problems(checked) == []
    assert checked.row_count == 20 and checked.delimiter == ";"
    stock_import.import_devices(SAMPLE.read_bytes(), pickup_point=point, actor=staff)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Device.id))) == 20
    gridded = db.session.scalar(sa.select(Device).where(Device.serial_number == "CN0SAMPLE07"))
    assert gridded.price_cents == 8500 and gridded.status == DeviceStatus.ERASED
    phone = db.session.scalar(sa.select(Device).where(Device.serial_number == "F2LSAMPLE13"))
    assert phone.category == Category.SMARTPHONE and phone.screen_tenths == 61 and phone.status == DeviceStatus.REFURBISHED
    assert phone.offer_key == phone.compute_offer_key()
    assert [(r.tool, r.certificate_reference, r.succeeded) for r in phone.erasure_records] == [
        ("Apple Configurator", "AC-2026-0413", True)]
    assert [(e.from_status, e.to_status, e.note) for e in phone.events] == [(None, DeviceStatus.REFURBISHED, "imported")]
    assert db.session.scalar(sa.select(sa.func.count(ErasureRecord.id))) == 16
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "stock.import"))
    assert entry.target_id == point.id and '"count": 20' in entry.details


def test_english_headers_commas_and_a_bom_are_read(db, point, public_batch):
    content = csv_bytes(EN_HEADER, "SN-1,Laptop,Dell,Latitude 5490,b,\"99,90\",EMM-2026-01",
                        "SN-2,tablet,Apple,iPad,Like new,70.00,", bom=True)
    checked = stock_import.check(content, pickup_point=point)
    assert problems(checked) == [] and checked.delimiter == ","
    assert [(r["category"], r["grade"], r["price_cents"]) for r in checked.rows] == [
        (Category.LAPTOP, Grade.B, 9990), (Category.TABLET, Grade.A, 7000)]


@pytest.mark.parametrize("bom", [True, False])
def test_french_headers_with_accents_and_semicolons_with_or_without_bom(db, point, bom):
    content = csv_bytes("Numéro série;Catégorie;Marque;Modèle;État;Prix", "SN-1;Écran;Dell;P2219H;A;25", bom=bom)
    checked = stock_import.check(content, pickup_point=point)
    assert problems(checked) == []
    assert checked.rows[0]["category"] == Category.SCREEN and checked.headers[0] == "Numéro série"


def test_five_thousand_rows_in_one_transaction_and_the_catalog_shows_them(db, point, count_queries):
    content = generated(5000)
    version_before = catalog.stock_version()  # the point's own creation moved "*"
    started = time.perf_counter()
    checked = stock_import.check(content, pickup_point=point)
    checked_in = time.perf_counter() - started
    assert checked.ok and len(checked.rows) == 5000
    with count_queries() as counter:
        started = time.perf_counter()
        stock_import.import_devices(content, pickup_point=point, actor="staff@example.org")
        db.session.commit()
        imported_in = time.perf_counter() - started
    print(f"\n5,000 rows on {db.engine.dialect.name}: check {checked_in:.2f} s, check + import + commit "
          f"{imported_in:.2f} s, {counter.count} statements")
    assert imported_in < 20
    assert counter.count <= 25  # bulk: a constant handful per 1,000 rows, never one per row
    assert db.session.scalar(sa.select(sa.func.count(Device.id))) == 5000
    assert db.session.scalar(sa.select(sa.func.count(DeviceEvent.id))) == 5000
    assert catalog.stock_version() == version_before  # received units are not on sale yet: no cached page is dropped
    # Listed by staff, they reach the catalog, grouped into offers with their counts.
    some = db.session.scalars(sa.select(Device).order_by(Device.id).limit(30)).all()
    for device in some:
        devices.transition(device.id, DeviceStatus.REFURBISHED, DeviceStatus.LISTED)
    db.session.commit()
    page = catalog.list_offers(catalog.OfferFilters(category=Category.LAPTOP), per_page=100)
    assert sum(o.count for o in page.offers) == 30
    assert {o.pickup_point_id for o in page.offers} == {point.id}


def test_one_bad_row_on_line_2718_imports_nothing_and_says_where(db, point):
    content = generated(5000, bad_line=2718)
    checked = stock_import.check(content, pickup_point=point)
    assert [(line, column) for line, column, _ in problems(checked)] == [(2718, "categorie")]
    assert "grille-pain" in problems(checked)[0][2]
    with pytest.raises(DomainError) as refused:
        stock_import.import_devices(content, pickup_point=point, actor="x")
    assert refused.value.details["problems"][0].line == 2718
    assert db.session.scalar(sa.select(sa.func.count(Device.id))) == 0


@pytest.mark.parametrize("content, expected", [
    (b"", [(None, None, "The file is empty.")]),
    (b"\xef\xbb\xbf\r\n", [(None, None, "The file is empty.")]),
    (FR_HEADER.encode() + b"\r\n", [(None, None, "The file has a header but no device.")]),
    ("numero_serie;categorie\nSN-1;Écran\n".encode("latin-1"), [(2, None, "The file is not in UTF-8.")]),
    (csv_bytes("serie;categorie;marque;modele;etat", "1;laptop;a;b;A"),
     [(1, "serie", "Unknown column “serie”."), (1, "numero_serie", "The column “numero_serie” (or “serial_number”) is missing.")]),
    (csv_bytes("numero_serie;serial_number;categorie;marque;modele;etat", "1;1;laptop;a;b;A"),
     [(1, "serial_number", "This column appears twice.")]),
    (csv_bytes(FR_HEADER, "SN-1;laptop;Dell;X;A;12"), [(2, None, "This line has 6 cells")]),
])
def test_malformed_files_are_refused_with_the_line(db, point, content, expected):
    found = problems(stock_import.check(content, pickup_point=point))
    assert [(line, column) for line, column, _ in found] == [(line, column) for line, column, _ in expected]
    for (_, _, message), (_, _, start) in zip(found, expected):
        assert message.startswith(start)


@pytest.mark.parametrize("row, column, message", [
    ("SN-1;frigo;Dell;X;A;12;", "categorie", "Unknown kind of device “frigo”"),
    ("SN-1;laptop;Dell;X;Z;12;", "etat", "Unknown grade “Z”"),
    ("SN-1;laptop;Dell;X;A;-12;", "prix", "A price cannot be negative."),
    ("SN-1;laptop;Dell;X;A;douze;", "prix", "“douze” is not a price in euros"),
    ("SN-1;laptop;Dell;X;A;12,505;", "prix", "“12,505” is not a price in euros"),
    ("SN-1;laptop;Dell;X;A;180,01;EMM-2026-01", "prix", "A device given by a public body cannot cost more than"),
    ("SN-1;smartphone;Dell;X;A;100,01;EMM-2026-01", "prix", "A device given by a public body cannot cost more than"),
    ("SN-1;laptop;Dell;X;A;12;NOPE-1", "lot", "Unknown donation batch “NOPE-1”"),
    ("SN-1;laptop;Dell;X;A;;", "prix", "The price grid has no price"),
    ("SN-1;laptop;;X;A;12;", "marque", "This cell must be filled in."),
    ("SN-EXISTING;laptop;Dell;X;A;12;", "numero_serie", "A device with serial number “SN-EXISTING” is already"),
])
def test_bad_cells_are_reported_by_line_and_column(db, point, public_batch, row, column, message):
    factories.device(point=point, serial_number="SN-EXISTING")
    content = csv_bytes(FR_HEADER, "SN-0;laptop;Dell;X;A;12;", row)
    found = problems(stock_import.check(content, pickup_point=point))
    assert len(found) == 1, found
    assert found[0][:2] == (3, column) and found[0][2].startswith(message), found


def test_the_legal_cap_does_not_bind_private_donors(db, point):
    factories.batch(public=False, reference="MUT-1")
    checked = stock_import.check(csv_bytes(FR_HEADER, "SN-1;laptop;Dell;X;A;250;MUT-1"), pickup_point=point)
    assert problems(checked) == [] and checked.rows[0]["price_cents"] == 25000


def test_duplicate_serials_in_the_file_name_both_lines(db, point):
    content = csv_bytes(FR_HEADER, "SN-1;laptop;Dell;X;A;12;", "SN-2;laptop;Dell;X;A;12;", "SN-1;laptop;Dell;Y;B;12;")
    assert problems(stock_import.check(content, pickup_point=point)) == [
        (4, "numero_serie", "Serial number “SN-1” is already on line 2.")]


def test_erased_or_refurbished_devices_need_their_erasure_details(db, point):
    header = f"{FR_HEADER};statut;{ERASURE}"
    content = csv_bytes(header,
                        "SN-1;laptop;Dell;X;A;12;;refurbished;nist_800_88_purge;Blancco;7;2026-04-02;Op;",
                        "SN-2;laptop;Dell;X;A;12;;effacé;;;;;;",
                        "SN-3;laptop;Dell;X;A;12;;reçu;nist_800_88_purge;Blancco;;2026-04-02;Op;",
                        "SN-4;laptop;Dell;X;A;12;;erased;shredder;Blancco;;2026-04-02;Op;",
                        "SN-5;laptop;Dell;X;A;12;;sold;;;;;;",
                        "SN-6;laptop;Dell;X;A;12;;erased;cryptographic_erase;Tool;;2099-01-01;Op;")
    found = problems(stock_import.check(content, pickup_point=point))
    assert [(line, column) for line, column, _ in found] == [
        (3, "methode_effacement"), (4, "statut"), (5, "methode_effacement"), (6, "statut"), (7, "date_effacement")]
    assert found[0][2].startswith("A device that is “Data erased” needs its erasure details")


def test_a_closed_pickup_point_takes_no_import(db):
    closed = factories.pickup_point(active=False)
    found = problems(stock_import.check(csv_bytes(FR_HEADER, "SN-1;laptop;Dell;X;A;12;"), pickup_point=closed))
    assert found == [(None, None, "This pickup point is closed: choose another one.")]


def test_a_file_over_the_size_limit_is_refused_before_reading(db, point):
    found = problems(stock_import.check(b"x" * (stock_import.MAX_BYTES + 1), pickup_point=point))
    assert found == [(None, None, "This file is larger than 5 MB. Split it into smaller files.")]


def test_confirming_rechecks_against_the_database(db, point):
    content = csv_bytes(FR_HEADER, "SN-1;laptop;Dell;X;A;12;", "SN-2;laptop;Dell;X;A;12;")
    assert stock_import.check(content, pickup_point=point).ok
    factories.device(point=point, serial_number="SN-2")  # added by hand between preview and confirm
    with pytest.raises(DomainError) as refused:
        stock_import.import_devices(content, pickup_point=point, actor="x")
    assert [p.line for p in refused.value.details["problems"]] == [3]
    assert db.session.scalar(sa.select(sa.func.count(Device.id))) == 1


def test_a_kept_file_is_only_given_back_to_its_owner_unchanged_and_in_time(db, point):
    from datetime import timedelta

    from shop.services.errors import NotFound

    owner, other = factories.user(Role.STAFF, pickup_point_id=point.id), factories.user(Role.STAFF)
    pending = stock_import.keep(b"abc", filename="f.csv", pickup_point=point, user=owner)
    assert stock_import.pending_for(pending.token, user=owner, sha256=pending.sha256) is pending
    for user, digest in [(other, pending.sha256), (owner, "0" * 64), (owner, None)]:
        with pytest.raises(NotFound):
            stock_import.pending_for(pending.token, user=user, sha256=digest)
    other_pending = stock_import.keep(b"abc", filename="f.csv", pickup_point=point, user=owner)
    assert stock_import.claim(other_pending.id) is True
    assert stock_import.claim(other_pending.id) is False  # a second click imports nothing
    pending.created_at -= stock_import.PENDING_LIFETIME + timedelta(minutes=1)
    db.session.flush()
    with pytest.raises(NotFound):
        stock_import.pending_for(pending.token, user=owner, sha256=pending.sha256)
    assert stock_import.forget_expired() == 1


# --- The price grid and the legal caps ------------------------------------------------------------

def test_grid_prices_above_the_legal_cap_are_all_refused_and_nothing_is_saved(db):
    user = factories.user(Role.ADMIN)
    with pytest.raises(DomainError) as refused:
        pricing.set_grid({(Category.LAPTOP, Grade.A): 18001, (Category.SCREEN, Grade.B): 3001,
                          (Category.TABLET, Grade.C): 5000}, actor=user)
    assert set(refused.value.details["problems"]) == {(Category.LAPTOP, Grade.A), (Category.SCREEN, Grade.B)}
    assert "legal cap" in str(refused.value.details["problems"][(Category.LAPTOP, Grade.A)])
    assert pricing.grid() == {}


def test_grid_prices_are_saved_changed_and_removed(db):
    user = factories.user(Role.ADMIN)
    assert pricing.set_grid({(Category.LAPTOP, Grade.A): 18000, (Category.ACCESSORY, Grade.A): 500}, actor=user) == 2
    assert pricing.set_grid({(Category.LAPTOP, Grade.A): 15000, (Category.ACCESSORY, Grade.A): None}, actor=user) == 2
    assert pricing.grid() == {(Category.LAPTOP, Grade.A): 15000}


def test_a_device_added_without_a_price_takes_the_grid_price_or_is_refused(db, point):
    db.session.add(GridPrice(category=Category.TABLET, grade=Grade.B, price_cents=7000))
    db.session.flush()
    tablet = factories.device(point=point, category=Category.TABLET, grade=Grade.B, price_cents=None,
                              status=DeviceStatus.RECEIVED)
    assert tablet.price_cents == 7000
    with pytest.raises(DomainError) as refused:
        factories.device(point=point, category=Category.TABLET, grade=Grade.A, price_cents=None)
    assert refused.value.details["field"] == "price"


def test_no_device_can_be_added_at_a_closed_point(db):
    closed = factories.pickup_point(active=False)
    with pytest.raises(DomainError) as refused:
        factories.device(point=closed)
    assert refused.value.details["field"] == "pickup_point"


@pytest.mark.parametrize("text, cents", [("12", 1200), ("12,5", 1250), ("12.50", 1250), ("€ 1 200,00", 120000),
                                         ("", None)])
def test_euros_are_read_as_people_type_them(text, cents):
    assert pricing.parse_euros(text) == cents


def test_dates_in_both_orders(db, point):
    content = csv_bytes(f"{FR_HEADER};statut;{ERASURE}",
                        "SN-1;laptop;Dell;X;A;12;;erased;cryptographic_erase;T;;31/03/2026;Op;",
                        "SN-2;laptop;Dell;X;A;12;;erased;Effacement cryptographique;T;;2026-03-31;Op;")
    checked = stock_import.check(content, pickup_point=point)
    assert problems(checked) == []
    assert {r["_erasure"]["erased_on"] for r in checked.rows} == {date(2026, 3, 31)}
