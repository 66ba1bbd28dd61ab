"""A person's data on request (export, erasure) and the admin audit viewer."""

import csv
import io
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shop.models import (
    AuditEntry, Beneficiary, CodeState, DeviceStatus, EligibilityCode, PaymentChannel, PaymentMethod, Reservation,
    ReservationStatus, Role,
)
from shop.models.types import utcnow
from shop.services import audit, privacy, reservations, retention
from tests import factories


@pytest.fixture
def client(client):
    client.set_cookie("lang", "en")
    return client


@pytest.fixture
def world(db):
    point = factories.pickup_point()
    org_a, org_b = factories.organisation(name="CCAS A"), factories.organisation(name="Asso B")
    worker_a = factories.user(Role.SOCIAL_WORKER, org=org_a)
    worker_b = factories.user(Role.SOCIAL_WORKER, org=org_b)
    person = factories.beneficiary(worker_a, display_name="Amina Haddad", phone="06 12 34 56 78")
    other = factories.beneficiary(worker_a, display_name="Zoé Other")
    code, _ = factories.code(person, categories=("computer",), worker=worker_a)
    device = factories.device(point=point)
    booked = reservations.reserve(code, device.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    return dict(point=point, worker_a=worker_a, worker_b=worker_b, person=person, other=other, code=code,
                device=device, reservation=booked)


def actions(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


# --- Export -----------------------------------------------------------------------------------------

def test_worker_exports_everything_about_one_person_and_nothing_about_others(client, db, world):
    factories.sign_in(client, world["worker_a"].email)
    person = world["person"]

    response = client.get(f"/partner/beneficiaries/{person.id}/data.json")

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["person"]["name"] == "Amina Haddad" and data["person"]["phone"] == "+33612345678"
    assert [c["state"] for c in data["codes"]] == ["active"]
    assert data["reservations"][0]["number"] == world["reservation"].number
    assert data["reservations"][0]["price_cents"] == world["reservation"].amount_cents
    text = response.data.decode()
    assert "Zoé Other" not in text and world["worker_a"].email not in text and world["worker_a"].name not in text

    page = client.get(f"/partner/beneficiaries/{person.id}/data")
    assert page.status_code == 200 and "Amina Haddad" in page.text and world["reservation"].number in page.text
    assert len(actions(db, "beneficiary.export")) == 2


def test_a_worker_of_another_structure_cannot_export_or_erase(client, db, world):
    factories.sign_in(client, world["worker_b"].email)
    person = world["person"]

    for path in (f"/partner/beneficiaries/{person.id}/data", f"/partner/beneficiaries/{person.id}/data.json",
                 f"/partner/beneficiaries/{person.id}/erase"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/partner/beneficiaries/{person.id}/erase", data={"confirm": "y"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Beneficiary, person.id).anonymised_at is None
    assert actions(db, "beneficiary.export") == []


# --- Erasure ----------------------------------------------------------------------------------------

def test_erasure_needs_confirmation(client, db, world):
    factories.sign_in(client, world["worker_a"].email)
    person = world["person"]
    page = client.get(f"/partner/beneficiaries/{person.id}/erase")
    assert page.status_code == 200 and "1 running reservation will be cancelled" in page.text

    refused = client.post(f"/partner/beneficiaries/{person.id}/erase", data={})

    assert refused.status_code == 422 and "Tick the box" in refused.text
    db.session.expire_all()
    assert db.session.get(Beneficiary, person.id).display_name == "Amina Haddad"


def test_erasure_cancels_the_running_reservation_revokes_codes_and_anonymises(client, db, world):
    factories.sign_in(client, world["worker_a"].email)
    person, device = world["person"], world["device"]

    response = client.post(f"/partner/beneficiaries/{person.id}/erase", data={"confirm": "y"})

    assert response.status_code == 303
    db.session.expire_all()
    person = db.session.get(Beneficiary, person.id)
    assert person.anonymised_at is not None and person.display_name == f"#{person.id}" and person.phone is None
    assert person.birth_year == 1980 and person.organisation_id == world["worker_a"].organisation_id
    assert db.session.get(Reservation, world["reservation"].id).status == ReservationStatus.CANCELLED
    assert db.session.get(type(device), device.id).status == DeviceStatus.LISTED  # back on sale
    assert db.session.get(EligibilityCode, world["code"].id).status == CodeState.REVOKED
    entry = actions(db, "beneficiary.erase")[0]
    assert entry.actor_id == world["worker_a"].id and "Amina" not in (entry.details or "")
    # The other person of the same structure is untouched; erased people vanish from the portal.
    assert db.session.get(Beneficiary, world["other"].id).anonymised_at is None
    assert client.get(f"/partner/beneficiaries/{person.id}").status_code == 404


def test_erasure_after_a_hand_over_keeps_the_sale_without_the_name(db, world):
    staff = factories.user(Role.STAFF, pickup_point_id=world["point"].id)
    booked = world["reservation"]
    reservations.hand_over(booked, actor=staff, channel=PaymentChannel.CASH)
    person = world["person"]
    assert privacy.erasure_preview(person)["handed_over"] == [booked]

    summary = privacy.erase(person, actor=world["worker_a"])

    assert summary == {"cancelled": 0, "revoked": 0, "handed_over": 1}
    db.session.expire_all()
    assert db.session.get(Reservation, booked.id).status == ReservationStatus.PICKED_UP
    assert db.session.get(Beneficiary, person.id).display_name.startswith("#")


def test_admin_exports_and_erases_any_structures_person(client, db, world):
    admin = factories.user(Role.ADMIN)
    factories.sign_in(client, admin.email)
    person = world["person"]

    assert client.get(f"/admin/beneficiaries/{person.id}/data").status_code == 200
    assert client.post(f"/admin/beneficiaries/{person.id}/erase", data={"confirm": "y"}).status_code == 303
    assert actions(db, "beneficiary.erase")[0].actor_id == admin.id
    assert client.get(f"/admin/beneficiaries/{person.id}/data").status_code == 404


# --- Audit of views ----------------------------------------------------------------------------------

def test_views_of_a_person_slip_and_reservation_are_audited(client, db, world):
    staff = factories.user(Role.STAFF, pickup_point_id=world["point"].id)
    factories.sign_in(client, world["worker_a"].email)
    person, booked = world["person"], world["reservation"]
    client.get(f"/partner/beneficiaries/{person.id}")
    client.get(f"/partner/beneficiaries/{person.id}/edit")
    client.get(f"/partner/reservations/{booked.number}")
    counter = client.application.test_client()
    factories.sign_in(counter, staff.email)
    counter.get(f"/staff/reservations/{booked.number}")

    assert len(actions(db, "beneficiary.view")) == 2
    viewers = sorted(e.actor_id for e in actions(db, "reservation.view"))
    assert viewers == sorted([world["worker_a"].id, staff.id])


# --- Audit viewer -----------------------------------------------------------------------------------

def test_audit_viewer_filters_pages_and_exports(client, db, world, count_queries):
    admin = factories.user(Role.ADMIN)
    for _ in range(60):
        audit.record(world["worker_a"], "beneficiary.view", world["person"], organisation_id=world["person"].organisation_id)
    audit.record(world["worker_b"], "code.revoke", ("eligibility_codes", 9), organisation_id=world["worker_b"].organisation_id)
    db.session.commit()
    factories.sign_in(client, admin.email)

    def row(label):
        return f'<th scope="row">{label}</th>'

    first = client.get("/admin/audit?action=beneficiary.view")
    assert first.status_code == 200 and row("Person&#39;s page viewed") in first.text
    assert first.text.count("<tr>") == 51  # header + 50 rows
    assert "Older entries" in first.text

    with count_queries() as counter:
        client.get("/admin/audit?action=beneficiary.view&before=30")
    with count_queries() as counter_many:
        client.get("/admin/audit")
    assert counter.count == counter_many.count  # constant, whatever the page

    only_b = client.get(f"/admin/audit?actor={world['worker_b'].email}")
    assert row("Code revoked") in only_b.text and row("Person&#39;s page viewed") not in only_b.text
    by_org = client.get(f"/admin/audit?organisation={world['worker_b'].organisation_id}")
    assert row("Code revoked") in by_org.text and row("Person&#39;s page viewed") not in by_org.text
    by_target = client.get("/admin/audit?target_type=eligibility_codes&target_id=9")
    assert by_target.text.count("<tr>") == 2

    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    assert "No entry matches" in client.get(f"/admin/audit?since={tomorrow}").text

    exported = client.get("/admin/audit.csv?action=code.", headers={"Accept-Language": "en"})
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["Entry", "When", "Who", "Structure", "Action"]
    assert {r[4] for r in rows[1:]} <= {"code.issue", "code.revoke", "code.slip_print"} and len(rows) >= 3


def test_audit_export_neutralises_formulas(client, db, world):
    admin = factories.user(Role.ADMIN)
    audit.record(admin, "code.revoke", None, reason="=HYPERLINK(\"http://evil\")")
    db.session.commit()
    factories.sign_in(client, admin.email)

    body = client.get("/admin/audit.csv", headers={"Accept-Language": "en"}).data.decode("utf-8-sig")

    assert "=HYPERLINK" in body
    assert not any(cell.startswith("=") for row in csv.reader(io.StringIO(body)) for cell in row)


def test_purge_drops_audit_entries_older_than_twelve_months_only(db, world):
    old = utcnow() - timedelta(days=400)
    db.session.execute(sa.insert(AuditEntry).values(at=old, action="beneficiary.view"))
    db.session.execute(sa.insert(AuditEntry).values(at=utcnow() - timedelta(days=300), action="beneficiary.view"))
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))

    assert retention.purge()["audit_entries_deleted"] == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before - 1
    assert retention.purge()["audit_entries_deleted"] == 0


def test_privacy_notice_lists_retention_and_the_rights_to_export_and_erase(client, db, app):
    app.config["RETENTION_MONTHS"] = 18
    try:
        page = client.get("/privacy").text
    finally:
        app.config["RETENTION_MONTHS"] = 24
    assert "18 months after your last activity" in page
    assert "deleted after 12 months" in page
    assert "download" in page and "erase your data" in page
