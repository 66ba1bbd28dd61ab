"""URL-encoded form bodies are capped to what the largest form can hold: a megabyte field gets a
clear 413 page in the visitor's language and never reaches a validator or a service."""

import io

import sqlalchemy as sa
from flask_babel import force_locale, gettext

from shop.models import DonationBatch, Role
from shop.services import reservations
from tests import factories

MEGABYTE = "A" * (1024 * 1024)


def _refused(response, language):
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert f'lang="{language}"' in page
    with force_locale(language):
        assert gettext("Too much sent at once") in page


def test_a_megabyte_field_is_refused_before_any_validator(client, monkeypatch):
    seen = []
    monkeypatch.setattr(reservations, "open_code", lambda *args, **kwargs: seen.append(args))
    client.set_cookie("lang", "ar")
    _refused(client.post("/reserve", data={"code": MEGABYTE}), "ar")
    assert seen == []


def test_a_chunked_body_without_length_is_cut_at_the_cap_too(client):
    # As gunicorn passes a chunked body: no Content-Length, the stream says where it ends.
    body = ("code=" + MEGABYTE).encode()
    response = client.post("/reserve", input_stream=io.BytesIO(body),
                           headers={"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    _refused(response, "fr")


def test_a_refused_body_changes_nothing(db, client):
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    device = factories.device(point=point)
    db.session.commit()
    assert factories.sign_in(client, staff.email).status_code == 303
    response = client.post(f"/staff/stock/{device.id}/move/withdrawn", data={"back_status": MEGABYTE})
    _refused(response, "fr")
    db.session.commit()
    db.session.refresh(device)
    assert device.status.value == "listed"


def test_the_largest_form_still_fits(db, client):
    """2,000 characters of Arabic notes (the longest field), percent-encoded, are accepted."""
    admin = factories.user(Role.ADMIN)
    batch = factories.batch()
    db.session.commit()
    assert factories.sign_in(client, admin.email).status_code == 303
    notes = "ملاحظة " * 285 + "ملاح"
    assert len(notes) == 1999
    response = client.post(f"/admin/donors/{batch.donor_id}/batches", data={
        "reference": "LOT-NOTES", "received_on": "2026-01-05", "declared_count": "3", "notes": notes})
    assert response.status_code == 303
    db.session.commit()
    assert db.session.scalar(sa.select(DonationBatch.notes).where(DonationBatch.reference == "LOT-NOTES")) == notes
