"""Erasure records: typed in by staff or imported from a CSV file that is all valid or not imported."""

import io

import pytest
import sqlalchemy as sa

from shop.models import DeviceStatus, ErasureRecord, ErasureResult, Role
from shop.services import erasure
from tests import factories

EN = {"Accept-Language": "en"}
HEADER = "serial_number;method;tool;tool_version;performed_on;operator;result;certificate_reference"



@pytest.fixture
def stock(db):
    metz, woippy = factories.pickup_point(), factories.pickup_point()
    return {
        "staff": factories.user(Role.STAFF, pickup_point_id=metz.id),
        "one": factories.device(point=metz, status=DeviceStatus.RECEIVED, serial_number="SER-ONE"),
        "two": factories.device(point=metz, status=DeviceStatus.RECEIVED, serial_number="SER-TWO"),
        "elsewhere": factories.device(point=woippy, status=DeviceStatus.RECEIVED, serial_number="SER-WOIPPY"),
    }


def records():
    return sa.select(sa.func.count(ErasureRecord.id))


def upload(client, text: str | bytes, **extra):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return client.post("/staff/erasures/import", data={"file": (io.BytesIO(raw), "erasures.csv"), **extra},
                       content_type="multipart/form-data", headers=EN)


GOOD = "\n".join([
    HEADER,
    "SER-ONE;nist_800_88_purge;Blancco Drive Eraser;7.9;2026-01-20;Valor'Emm;success;CERT-001",
    "SER-TWO;physical_destruction;Shredder;;21/01/2026;Valor'Emm;failure;",
])


@pytest.mark.parametrize("variant", ["semicolon", "comma_with_bom"])
def test_a_valid_file_is_previewed_then_imported_whole(client, db, stock, variant):
    factories.signed_in(client, stock["staff"])
    body = GOOD.encode()
    if variant == "comma_with_bom":
        body = "\ufeff".encode() + GOOD.replace(";", ",").encode()
    preview = upload(client, body)
    assert preview.status_code == 200 and "2 lines ready to import" in preview.text
    assert db.session.scalar(records()) == 0  # checked, not yet imported
    content = preview.text.split('name="content" type="hidden" value="')[1].split('"')[0]
    import html
    done = client.post("/staff/erasures/import", data={"content": html.unescape(content), "confirm": "1"})
    assert done.status_code == 303
    rows = db.session.scalars(sa.select(ErasureRecord).order_by(ErasureRecord.id)).all()
    assert [(r.device_id, r.result, r.certificate_reference) for r in rows] == [
        (stock["one"].id, ErasureResult.SUCCESS, "CERT-001"), (stock["two"].id, ErasureResult.FAILURE, None)]
    assert rows[1].performed_on.isoformat() == "2026-01-21"


def test_a_file_with_problems_lists_each_line_and_column_and_imports_nothing(client, db, stock):
    factories.signed_in(client, stock["staff"])
    bad = "\n".join([
        HEADER,
        "SER-ONE;nist_800_88_purge;Blancco;7.9;2026-01-20;Valor'Emm;success;CERT-1",   # fine
        "SER-UNKNOWN;nist_800_88_purge;Blancco;7.9;2026-01-20;Valor'Emm;success;CERT-2",
        "SER-WOIPPY;nist_800_88_purge;Blancco;7.9;2026-01-20;Valor'Emm;success;CERT-3",  # another point
        "SER-TWO;magic;Blancco;7.9;2099-01-01;;maybe;CERT-4",
        "SER-TWO;nist_800_88_purge;Blancco",
    ])
    response = upload(client, bad)
    assert response.status_code == 422 and "nothing was imported" in response.text
    problems = erasure.parse(bad, point_ids=[stock["one"].pickup_point_id]).problems
    found = {(p.line, p.column) for p in problems}
    assert found == {(3, "serial_number"), (4, "serial_number"), (5, "method"), (5, "performed_on"), (5, "operator"),
                     (5, "result"), (6, None)}
    assert "No device with this serial number in the stock." in response.text
    # The same confirmation sent by hand with a bad file imports nothing either.
    assert client.post("/staff/erasures/import", data={"content": bad, "confirm": "1"}).status_code == 422
    assert db.session.scalar(records()) == 0


@pytest.mark.parametrize("body, message", [
    (b"", "Choose a CSV file."),
    ("serial_number;method\nSER-ONE;x".encode(), "This column is missing."),
    (HEADER.encode() + b"\n", "The file has no lines after its header."),
    ("numéro;x\n".encode("latin-1"), "The file is not in UTF-8."),
])
def test_empty_incomplete_or_wrongly_encoded_files_are_refused(client, db, stock, body, message):
    factories.signed_in(client, stock["staff"])
    if body:
        response = upload(client, body)
    else:
        response = client.post("/staff/erasures/import", data={}, headers=EN)
    assert response.status_code == 422 and message in response.text
    assert db.session.scalar(records()) == 0


def test_staff_record_an_erasure_by_serial_number_at_their_point_only(client, db, stock):
    factories.signed_in(client, stock["staff"])
    form = {"serial_number": "SER-ONE", "method": "cryptographic_erase", "tool": "Vendor tool", "tool_version": "",
            "performed_on": "2026-02-01", "operator": "Valor'Emm", "result": "success", "certificate_reference": ""}
    assert client.get("/staff/erasures?serial=SER-ONE").text.count('value="SER-ONE"') == 1
    assert client.post("/staff/erasures", data=form).status_code == 303
    elsewhere = client.post("/staff/erasures", data=dict(form, serial_number="SER-WOIPPY"), headers=EN)
    assert elsewhere.status_code == 422 and "No device with this serial number in your stock." in elsewhere.text
    future = client.post("/staff/erasures", data=dict(form, performed_on="2099-01-01"), headers=EN)
    assert future.status_code == 422 and "cannot be in the future" in future.text
    assert 'value="Vendor tool"' in future.text  # what was typed is kept
    assert db.session.scalar(records()) == 1
