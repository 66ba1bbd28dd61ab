"""The import pages: upload → preview → import, scoped to the staff member's pickup point."""

import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from shop.models import AuditEntry, Device, DeviceEvent, PendingImport, Role
from shop.services import stock_import
from tests import factories
from tests.factories import without_bdi
from tests.test_stock_import import FR_HEADER, csv_bytes, generated

EN = {"Accept-Language": "en"}
GOOD = csv_bytes(FR_HEADER, "SN-1;laptop;Dell;Latitude 5490;B;120;", "SN-2;smartphone;Samsung;Galaxy A52;A;95;")


@pytest.fixture
def world(db):
    metz, woippy = factories.pickup_point(name="Metz"), factories.pickup_point(name="Woippy")
    people = {"staff": factories.user(Role.STAFF, pickup_point_id=metz.id),
              "other_staff": factories.user(Role.STAFF, pickup_point_id=woippy.id),
              "admin": factories.user(Role.ADMIN)}
    db.session.commit()
    return dict(metz=metz, woippy=woippy, **people)



def upload(client, point, content, name="devices.csv"):
    # Encoded in memory: the test client would spool a large body to a temporary file that it
    # never closes when the app refuses the body unread.
    body, length, boundary = stream_encode_multipart(
        {"pickup_point": str(point.id), "file": FileStorage(io.BytesIO(content), filename=name, content_type="text/csv")},
        use_tempfile=False)
    return client.post("/staff/stock/import", headers=EN, input_stream=body, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


def count(db, model=Device):
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(model.id)))


def test_the_import_page_documents_the_columns_and_offers_the_sample(client, world):
    factories.signed_in(client, world["staff"])
    page = client.get("/staff/stock/import", headers=EN).text
    for name in ("numero_serie", "serial_number", "methode_effacement", "erasure_certificate"):
        assert name in page
    assert "/staff/stock/import/sample.csv" in page and 'enctype="multipart/form-data"' in page
    sample = client.get("/staff/stock/import/sample.csv")
    assert sample.status_code == 200 and sample.mimetype == "text/csv"
    assert sample.data.startswith(b"numero_serie;categorie;")
    assert "/staff/stock/import" in client.get("/staff/stock", headers=EN).text


def test_upload_preview_then_import_all(client, db, world):
    factories.signed_in(client, world["staff"])
    preview = upload(client, world["metz"], GOOD)
    assert preview.status_code == 200
    assert "2 devices ready to import" in preview.text and "Import 2 devices" in preview.text
    assert "SN-1" in preview.text and "2 lines checked" in preview.text
    assert count(db) == 0 and count(db, PendingImport) == 1
    token = db.session.scalar(sa.select(PendingImport.token))
    done = client.post("/staff/stock/import/confirm", data={"token": token}, headers=EN)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/staff/stock?point={world['metz'].id}")
    assert "2 devices imported at Metz" in without_bdi(client.get(done.headers["Location"], headers=EN).text)
    assert count(db) == 2 and count(db, DeviceEvent) == 2 and count(db, PendingImport) == 0
    events = db.session.scalars(sa.select(DeviceEvent)).all()
    assert {e.actor for e in events} == {world["staff"].email} and {e.note for e in events} == {"imported"}
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "stock.import"))
    # The same token cannot import twice.
    again = client.post("/staff/stock/import/confirm", data={"token": token})
    assert again.status_code == 303 and again.headers["Location"].endswith("/staff/stock/import")
    assert count(db) == 2


def test_a_file_with_problems_shows_them_all_and_imports_nothing(client, db, world):
    factories.signed_in(client, world["staff"])
    content = csv_bytes(FR_HEADER, "SN-1;laptop;Dell;X;B;120;", "SN-2;frigo;Dell;X;B;-5;", "SN-1;laptop;Dell;X;Q;1;")
    response = upload(client, world["metz"], content)
    assert response.status_code == 422
    text = response.text
    assert "4 problems: nothing will be imported" in text
    for fragment in ("Unknown kind of device “frigo”", "A price cannot be negative.", "already on line 2",
                     "Unknown grade “Q”", "categorie", "prix", "etat"):
        assert fragment in text, fragment
    assert "/staff/stock/import/confirm" not in text  # no import button
    assert count(db) == 0 and count(db, PendingImport) == 0


def test_the_stock_changing_between_preview_and_confirm_imports_nothing(client, db, world):
    factories.signed_in(client, world["staff"])
    assert upload(client, world["metz"], GOOD).status_code == 200
    factories.device(point=world["metz"], serial_number="SN-2")
    db.session.commit()
    token = db.session.scalar(sa.select(PendingImport.token))
    response = client.post("/staff/stock/import/confirm", data={"token": token}, headers=EN)
    assert response.status_code == 422 and "nothing was imported" in response.text
    assert "already in the stock" in response.text
    assert count(db) == 1 and count(db, PendingImport) == 0


def test_a_token_from_another_session_or_user_imports_nothing(client, app, db, world):
    factories.signed_in(client, world["staff"])
    assert upload(client, world["metz"], GOOD).status_code == 200
    token = db.session.scalar(sa.select(PendingImport.token))
    other = app.test_client()
    factories.signed_in(other, world["admin"])
    refused = other.post("/staff/stock/import/confirm", data={"token": token})
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/staff/stock/import")
    assert count(db) == 0 and count(db, PendingImport) == 1


def test_staff_of_point_a_cannot_import_into_point_b(client, db, world):
    factories.signed_in(client, world["other_staff"])
    response = upload(client, world["metz"], GOOD)
    assert response.status_code == 422 and "Not a valid choice" in response.text
    assert count(db) == 0
    page = client.get("/staff/stock/import").text
    assert f'value="{world["metz"].id}"' not in page and f'value="{world["woippy"].id}"' in page


def test_an_admin_imports_into_any_open_point(client, db, world):
    factories.signed_in(client, world["admin"])
    assert upload(client, world["woippy"], GOOD).status_code == 200
    token = db.session.scalar(sa.select(PendingImport.token))
    assert client.post("/staff/stock/import/confirm", data={"token": token}).status_code == 303
    db.session.expire_all()
    assert {d.pickup_point_id for d in db.session.scalars(sa.select(Device))} == {world["woippy"].id}


def test_a_file_just_over_the_limit_is_refused_on_the_page(client, db, world):
    factories.signed_in(client, world["staff"])
    response = upload(client, world["metz"], b"x" * (stock_import.MAX_BYTES + 1))
    assert response.status_code == 413 and "larger than 5 MB" in response.text
    assert 'enctype="multipart/form-data"' in response.text  # the form, to send another file


@pytest.mark.parametrize("csrf", [False, True])
def test_a_50_mb_file_is_refused_before_it_is_read(client, app, db, world, csrf):
    """With CSRF on, the body is over the app's MAX_CONTENT_LENGTH before any view runs: the
    staff blueprint's 413 handler still shows the import page with the limit."""
    factories.signed_in(client, world["staff"])
    big = b"numero_serie;categorie\n" + b"x" * (50 * 1024 * 1024)
    app.config["WTF_CSRF_ENABLED"] = csrf
    try:
        response = upload(client, world["metz"], big)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 413 and "larger than 5 MB" in response.text
    assert count(db) == 0 and count(db, PendingImport) == 0


@pytest.mark.parametrize("role", [Role.SOCIAL_WORKER, Role.PARTNER_ADMIN])
def test_partner_users_reach_no_import_page(client, world, role):
    factories.signed_in(client, factories.user(role))
    assert client.get("/staff/stock/import").status_code == 403
    assert client.get("/staff/stock/import/sample.csv").status_code == 403
    assert upload(client, world["metz"], GOOD).status_code == 403
    assert client.post("/staff/stock/import/confirm", data={"token": "x"}).status_code == 403


def test_5000_rows_through_the_pages_and_one_bad_line_named(client, db, world):
    import time

    factories.signed_in(client, world["staff"])
    bad = upload(client, world["metz"], generated(5000, bad_line=2718))
    assert bad.status_code == 422
    assert "1 problem: nothing will be imported" in bad.text and "2,718" in bad.text and "categorie" in bad.text
    assert count(db) == 0 and count(db, PendingImport) == 0
    started = time.perf_counter()
    preview = upload(client, world["metz"], generated(5000))
    token = db.session.scalar(sa.select(PendingImport.token))
    done = client.post("/staff/stock/import/confirm", data={"token": token})
    elapsed = time.perf_counter() - started
    print(f"\n5,000 rows through upload + preview + confirm on {db.engine.dialect.name}: {elapsed:.2f} s")
    assert preview.status_code == 200 and "5000 devices ready to import" in preview.text
    assert "Import 5000 devices" in preview.text and "5000 lines checked" in preview.text
    assert done.status_code == 303 and count(db) == 5000
