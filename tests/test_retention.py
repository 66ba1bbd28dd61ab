from datetime import timedelta

import sqlalchemy as sa

from shop.models import AuditEntry, Beneficiary, PaymentMethod
from shop.models.types import utcnow
from shop.services import reservations, retention
from tests import factories


def _age(db, person, days):
    db.session.execute(sa.update(Beneficiary).where(Beneficiary.id == person.id)
                       .values(last_activity_at=utcnow() - timedelta(days=days)))


def test_purge_anonymises_quiet_people_keeps_busy_ones_and_is_safe_twice(app, db):
    quiet = factories.beneficiary(display_name="Amina", phone="06 12 34 56 78", email="a@example.org", birth_year=1987)
    recent = factories.beneficiary(display_name="Oleksandr")
    busy = factories.beneficiary(display_name="Nadia")
    code, _ = factories.code(busy, categories=("computer",))
    reservations.reserve(code, factories.device().offer_key, method=PaymentMethod.COUNTER)
    for person, days in ((quiet, 800), (recent, 100), (busy, 800)):
        _age(db, person, days)
    db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["purge"])
    assert first.exit_code == 0 and "Anonymised 1 people" in first.output
    db.session.expire_all()
    gone = db.session.get(Beneficiary, quiet.id)
    assert gone.display_name == f"#{quiet.id}" and gone.phone is None and gone.email is None
    assert gone.birth_year == 1980 and gone.anonymised_at is not None and gone.ground is not None
    assert db.session.get(Beneficiary, recent.id).display_name == "Oleksandr"
    assert db.session.get(Beneficiary, busy.id).display_name == "Nadia"
    db.session.rollback()  # the test's reads end, as the checks of another process would
    second = runner.invoke(args=["purge"])
    assert "Anonymised 0 people" in second.output


def test_purge_drops_audit_entries_older_than_a_year(db):
    factories.beneficiary()
    db.session.execute(sa.update(AuditEntry).values(at=utcnow() - timedelta(days=400)))
    assert retention.purge()["audit_entries_deleted"] >= 1
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0


def test_an_anonymised_person_is_gone_from_the_partner_portal(client, db):
    worker = factories.user()
    person = factories.beneficiary(worker, display_name="Amina")
    retention.anonymise(person, now=utcnow())
    db.session.commit()
    client.post("/login", data={"email": worker.email, "password": "correct horse battery staple"})
    assert client.get(f"/partner/beneficiaries/{person.id}").status_code == 404
    assert "Amina" not in client.get("/partner/").text


def test_a_person_on_the_other_ground_is_anonymised_without_breaking_the_constraint(db):
    """Found by the fuzzer: erasing the justification broke "ground other needs a justification"."""
    from shop.models import EligibilityGround

    person = factories.beneficiary(ground=EligibilityGround.OTHER, justification="Lives with her aunt, rue X")
    db.session.commit()
    retention.anonymise(person, now=utcnow())
    db.session.commit()
    assert person.anonymised_at is not None and "aunt" not in (person.justification or "")
