"""Admin pages for donors and donation batches: declared versus received, devices per batch."""

import sqlalchemy as sa

from shop.models import AuditEntry, DonationBatch, Donor, DonorKind, DeviceStatus, Role
from tests import factories

EN = {"Accept-Language": "en"}



def test_admin_adds_a_donor_and_a_batch_and_sees_the_difference(client, db):
    factories.signed_in(client, factories.user(Role.ADMIN))
    response = client.post("/admin/donors", data={"name": "Ville de Thionville", "kind": "public_body"})
    assert response.status_code == 303
    donor = db.session.scalar(sa.select(Donor).where(Donor.name == "Ville de Thionville"))
    assert donor.kind == DonorKind.PUBLIC_BODY
    response = client.post(f"/admin/donors/{donor.id}/batches", data={
        "reference": "THI-2026-01", "received_on": "2026-02-10", "declared_count": "3", "collection_site": "Mairie"})
    assert response.status_code == 303
    batch = db.session.scalar(sa.select(DonationBatch).where(DonationBatch.reference == "THI-2026-01"))
    factories.device(batch_id=batch.id, serial_number="THI-1")
    factories.device(batch_id=batch.id, serial_number="THI-2", status=DeviceStatus.RECEIVED)
    page = client.get(f"/admin/donors/{donor.id}", headers=EN).text
    assert "THI-2026-01" in page and "1 missing" in page
    batch_page = client.get(f"/admin/batches/{batch.id}", headers=EN).text
    assert "THI-1" in batch_page and "THI-2" in batch_page and "1 missing" in batch_page
    assert "CERT-THI-1" in batch_page  # the erasure record of the device
    assert "/staff/erasures?serial=THI-2" in batch_page  # the one still to erase
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"donor.create", "batch.create"} <= actions


def test_refused_donor_and_batch_changes_keep_what_was_typed_and_change_nothing(client, db):
    factories.signed_in(client, factories.user(Role.ADMIN))
    batch = factories.batch(reference="KEEP-1")
    other = factories.batch(reference="OTHER-1")
    clash = client.post("/admin/donors", data={"name": batch.donor.name.upper(), "kind": "company"}, headers=EN)
    assert clash.status_code == 422 and "exists already" in clash.text
    response = client.post(f"/admin/batches/{batch.id}", data={
        "reference": "OTHER-1", "received_on": "2026-01-01", "declared_count": "4", "notes": "typed"}, headers=EN)
    assert response.status_code == 422 and "A batch with this reference exists already." in response.text
    assert "typed" in response.text
    future = client.post(f"/admin/batches/{batch.id}", data={
        "reference": "KEEP-1", "received_on": "2099-01-01", "declared_count": "4"}, headers=EN)
    assert future.status_code == 422 and "cannot be in the future" in future.text
    negative = client.post(f"/admin/donors/{batch.donor_id}/batches", data={
        "reference": "NEG", "received_on": "2026-01-01", "declared_count": "-1"}, headers=EN)
    assert negative.status_code == 422
    db.session.expire_all()
    assert db.session.get(DonationBatch, batch.id).reference == "KEEP-1"
    assert db.session.get(DonationBatch, batch.id).declared_count == 10
    assert db.session.scalar(sa.select(sa.func.count(DonationBatch.id))) == 2 and other.id


def test_admin_edits_a_batch(client, db):
    factories.signed_in(client, factories.user(Role.ADMIN))
    batch = factories.batch(reference="EDIT-1")
    response = client.post(f"/admin/batches/{batch.id}", data={
        "reference": "EDIT-2", "received_on": "2026-01-05", "declared_count": "12", "collection_site": "Depot"})
    assert response.status_code == 303
    db.session.expire_all()
    edited = db.session.get(DonationBatch, batch.id)
    assert (edited.reference, edited.declared_count, edited.collection_site) == ("EDIT-2", 12, "Depot")


def test_unknown_donor_or_batch_is_a_404(client, db):
    factories.signed_in(client, factories.user(Role.ADMIN))
    for url in ("/admin/donors/999", "/admin/batches/999", "/admin/donors/999/report"):
        assert client.get(url).status_code == 404
