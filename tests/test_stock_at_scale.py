"""Stock for staff at scale: the import command, and a stock page that pages, counts and searches."""

import sqlalchemy as sa

from shop.models import AuditEntry, Device
from tests import factories
from tests.test_stock_import import csv_bytes, generated


def _import(app, path, *args):
    return app.test_cli_runner().invoke(args=["import-devices", str(path), *args])


def test_the_import_command_imports_every_device_with_progress(app, db, tmp_path):
    point = factories.pickup_point()
    factories.batch(public=True, reference="EMM-2026-01")
    db.session.commit()
    path = tmp_path / "devices.csv"
    path.write_bytes(generated(30, batch="EMM-2026-01"))
    result = _import(app, path, "--pickup-point", point.slug)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Checking {path}") and "30 devices checked: no problem. Importing…" in lines[1]
    assert lines[-1] == f"Imported 30 devices at {point.name}."
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Device)) == 30
    assert db.session.scalar(sa.select(AuditEntry.action)) == "stock.import"


def test_the_import_command_lists_problems_and_imports_nothing(app, db, tmp_path):
    point = factories.pickup_point()
    db.session.commit()
    path = tmp_path / "devices.csv"
    path.write_bytes(generated(5, batch="", bad_line=4))
    result = _import(app, path, "--pickup-point", point.slug)
    assert result.exit_code == 1
    assert "line 4" in result.output and "nothing was imported" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Device)) == 0


def test_a_file_in_the_wrong_encoding_is_one_clear_line(app, db, tmp_path):
    point = factories.pickup_point()
    db.session.commit()
    path = tmp_path / "devices.csv"
    path.write_bytes("numero_serie;categorie\nSN-1;Écran\n".encode("latin-1"))
    result = _import(app, path, "--pickup-point", point.slug)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {path}: The file is not in UTF-8. Save it as “CSV UTF-8” in your spreadsheet "
                      "program, then send it again. Nothing was imported."]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Device)) == 0


def test_the_import_command_refuses_an_unknown_pickup_point(app, db, tmp_path):
    path = tmp_path / "devices.csv"
    path.write_bytes(csv_bytes("numero_serie;categorie"))
    result = _import(app, path, "--pickup-point", "nowhere")
    assert result.exit_code == 1 and "No pickup point 'nowhere'." in result.output


# --- The stock page ---------------------------------------------------------------------------------

import pytest  # noqa: E402

from shop.models import Category, DeviceStatus, Role  # noqa: E402
from shop.services import staff as staff_service  # noqa: E402
from tests.factories import without_bdi  # noqa: E402
from tests.test_staff import EN  # noqa: E402


@pytest.fixture
def shelves(db, monkeypatch):
    monkeypatch.setattr(staff_service, "STOCK_PAGE", 5)
    point = factories.pickup_point(name="Metz")
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    made = [factories.device(point=point, status=DeviceStatus.LISTED if n % 2 else DeviceStatus.REFURBISHED,
                             model=f"ThinkPad T{480 + n}") for n in range(12)]
    made.append(factories.device(point=point, category=Category.SMARTPHONE, brand="Fairphone", model="Fairphone 4"))
    db.session.commit()
    return dict(point=point, staff=staff, devices=made)


def _serials(html):
    """The serial numbers of the table's rows, in order."""
    import re

    return re.findall(r'<th scope="row" class="mono">(?:<a [^>]*>)?(SN-\d+)', without_bdi(html))


def test_the_stock_page_shows_one_page_and_links_the_next_with_totals_per_status(client, shelves):
    factories.signed_in(client, shelves["staff"])
    newest_first = [d.serial_number for d in reversed(shelves["devices"])]
    first = client.get("/staff/stock", headers=EN).text
    assert _serials(first) == newest_first[:5]
    assert "Next page" in first and "Back to the newest devices" not in first
    assert "On sale <strong>7</strong>" in without_bdi(first) and "Refurbished <strong>6</strong>" in without_bdi(first)
    seen, page = [], first
    for _ in range(5):
        seen += _serials(page)
        if 'rel="next"' not in page:
            break
        url = page.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        page = client.get(url, headers=EN).text
        assert "Back to the newest devices" in page
    assert seen == newest_first  # every device once, in order, over 3 pages


def test_the_stock_page_searches_serial_and_model_and_filters_by_kind(client, shelves):
    factories.signed_in(client, shelves["staff"])
    phone = shelves["devices"][-1]
    found = client.get("/staff/stock", query_string={"q": "fairPHONE"}, headers=EN).text
    assert _serials(found) == [phone.serial_number]
    by_serial = client.get("/staff/stock", query_string={"q": shelves["devices"][3].serial_number.lower()}, headers=EN).text
    assert _serials(by_serial) == [shelves["devices"][3].serial_number]
    kind = client.get("/staff/stock", query_string={"category": "smartphone"}, headers=EN).text
    assert _serials(kind) == [phone.serial_number]
    assert 'value="fairPHONE"' in found  # the search keeps what was typed
    nothing = client.get("/staff/stock", query_string={"q": "100%_"}, headers=EN).text
    assert _serials(nothing) == [] and "None." in nothing
    odd = client.get("/staff/stock", query_string={"category": "toaster", "before": "x"}, headers=EN)
    assert odd.status_code == 200  # an unknown filter is ignored


def test_the_stock_page_costs_the_same_queries_on_any_page(client, shelves, count_queries):
    factories.signed_in(client, shelves["staff"])
    client.get("/staff/stock", headers=EN)
    with count_queries() as first:
        client.get("/staff/stock", headers=EN)
    last_id = min(d.id for d in shelves["devices"]) + 3
    with count_queries() as later:
        client.get(f"/staff/stock?before={last_id}", headers=EN)
    assert later.count == first.count
