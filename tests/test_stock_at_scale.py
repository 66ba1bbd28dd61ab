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
