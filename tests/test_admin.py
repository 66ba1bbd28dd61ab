"""Admin pages: partner structures (create, approve, deactivate, quota), accounts (invite,
deactivate), who may reach them; and the public list of structures that give codes."""

import re

import pytest
import sqlalchemy as sa
from flask import url_for

from shop.models import (
    AuditEntry, EligibilityGround, Organisation, OrganisationAudience, OrganisationKind, OrganisationStatus, Role, User,
)
from shop.services import partners
from tests import factories
from tests.factories import without_bdi



# --- Helpers ----------------------------------------------------------------------------------

@pytest.fixture
def client(client):
    client.set_cookie("lang", "en")
    return client


@pytest.fixture
def outbox(app):
    box = app.extensions.setdefault("mail_outbox", [])
    box.clear()
    yield box
    box.clear()


@pytest.fixture
def admin(client, db):
    """An admin, signed in on `client`."""
    user = factories.user(Role.ADMIN, email="coordinator@example.org")
    factories.sign_in(client, user.email)
    return user


def new_client(app):
    other = app.test_client()
    other.set_cookie("lang", "en")
    return other


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def reload(db, model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def actions(db, action_prefix: str) -> list[str]:
    return list(db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.action.like(f"{action_prefix}%")).order_by(AuditEntry.id)
    ))


STRUCTURE = {"name": "Association Pas à Pas", "kind": "association", "town": "Thionville",
             "contact_email": "Contact@PasAPas.example.org", "contact_phone": "03 82 12 34 56", "monthly_quota": "30"}


# --- Structures -----------------------------------------------------------------------------------

def test_admin_creates_a_structure_that_waits_for_approval(client, db, admin):
    response = client.post("/admin/organisations", data=STRUCTURE)

    assert response.status_code == 303
    org = db.session.scalar(sa.select(Organisation))
    assert response.headers["Location"] == f"/admin/organisations/{org.id}"
    assert (org.name, org.kind, org.town, org.monthly_quota) == (
        "Association Pas à Pas", OrganisationKind.ASSOCIATION, "Thionville", 30)
    assert org.contact_email == "contact@pasapas.example.org"
    assert org.status == OrganisationStatus.PENDING
    assert actions(db, "organisation.") == ["organisation.create"]
    page = client.get(response.headers["Location"]).text
    assert "Association Pas à Pas" in page and "Waiting for approval" in page
    assert "Association Pas à Pas" in client.get("/admin/").text


def test_structure_with_a_name_already_taken_is_refused(client, db, admin):
    factories.organisation(name="Association Pas à Pas")

    response = client.post("/admin/organisations", data={**STRUCTURE, "name": "  association PAS À PAS "})

    assert response.status_code == 422
    assert "A structure with this name already exists." in response.text
    assert 'value="Thionville"' in response.text
    assert count(db, Organisation) == 1


@pytest.mark.parametrize("quota", ["10001", "-1", "250000"])
def test_quota_out_of_range_is_refused_keeping_what_was_typed(client, db, admin, quota):
    response = client.post("/admin/organisations", data={**STRUCTURE, "monthly_quota": quota})

    assert response.status_code == 422
    assert "The monthly quota must be between 0 and 10,000 codes." in response.text
    page = response.text
    assert f'value="{quota}"' in page
    assert 'value="Association Pas à Pas"' in page and 'value="Thionville"' in page
    assert 'value="03 82 12 34 56"' in page
    assert re.search(r'<option selected value="association">|<option value="association" selected>', page)
    assert count(db, Organisation) == 0


@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "This field is required."),
    ({"town": ""}, "This field is required."),
    ({"monthly_quota": "twelve"}, "The monthly quota must be between 0 and 10,000 codes."),  # not "required"
    ({"monthly_quota": ""}, "This field is required."),
    ({"contact_email": "not-an-address"}, "not valid"),
    ({"kind": "bank"}, "Not a valid choice"),
])
def test_bad_structure_form_is_refused_with_a_message_and_stores_nothing(client, db, admin, change, message):
    response = client.post("/admin/organisations", data={**STRUCTURE, **change})

    assert response.status_code == 422
    assert message in response.text
    assert count(db, Organisation) == 0


def test_structure_with_a_quota_of_zero_can_be_created(client, db, admin):
    """Zero is in the allowed range: a structure may be set up before it gets codes."""
    response = client.post("/admin/organisations", data={**STRUCTURE, "monthly_quota": "0"})

    assert response.status_code == 303
    assert db.session.scalar(sa.select(Organisation.monthly_quota)) == 0


def test_admin_approves_then_deactivates_a_structure(client, db, admin):
    org = factories.organisation(status=OrganisationStatus.PENDING)

    approved = client.post(f"/admin/organisations/{org.id}/status/active")
    assert approved.status_code == 303
    assert reload(db, Organisation, org.id).status == OrganisationStatus.ACTIVE
    assert "Active" in client.get(approved.headers["Location"]).text

    assert client.post(f"/admin/organisations/{org.id}/status/deactivated").status_code == 303
    assert reload(db, Organisation, org.id).status == OrganisationStatus.DEACTIVATED
    assert actions(db, "organisation.") == ["organisation.active", "organisation.deactivated"]


def test_unknown_status_or_structure_is_refused(client, db, admin):
    org = factories.organisation(status=OrganisationStatus.PENDING)

    assert client.post(f"/admin/organisations/{org.id}/status/closed").status_code == 400
    assert client.post("/admin/organisations/999999/status/active").status_code == 404
    assert client.get("/admin/organisations/999999").status_code == 404
    assert reload(db, Organisation, org.id).status == OrganisationStatus.PENDING


def test_deactivated_structures_workers_can_no_longer_sign_in_nor_reach_the_portal(app, client, db, admin):
    org = factories.organisation()
    worker = factories.user(Role.SOCIAL_WORKER, org=org)
    lead = factories.user(Role.PARTNER_ADMIN, org=org)
    desk = new_client(app)
    assert factories.sign_in(desk, worker.email).status_code == 303
    assert desk.get("/partner/").status_code == 200

    client.post(f"/admin/organisations/{org.id}/status/deactivated")

    answer = desk.get("/partner/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    for user in (worker, lead):
        refused = factories.sign_in(new_client(app), user.email)
        assert refused.status_code == 200 and "The e-mail address or the password is not right." in refused.text

    client.post(f"/admin/organisations/{org.id}/status/active")
    assert factories.sign_in(new_client(app), worker.email).status_code == 303


def test_pending_structures_workers_cannot_sign_in_until_it_is_approved(app, client, db, admin):
    org = factories.organisation(status=OrganisationStatus.PENDING)
    worker = factories.user(Role.SOCIAL_WORKER, org=org)

    assert factories.sign_in(new_client(app), worker.email).status_code == 200
    client.post(f"/admin/organisations/{org.id}/status/active")
    assert factories.sign_in(new_client(app), worker.email).status_code == 303


def test_admin_sets_the_monthly_quota(client, db, admin):
    org = factories.organisation(monthly_quota=20)

    response = client.post(f"/admin/organisations/{org.id}/quota", data={"monthly_quota": "45"})

    assert response.status_code == 303
    assert reload(db, Organisation, org.id).monthly_quota == 45
    assert "45" in client.get(f"/admin/organisations/{org.id}").text
    assert actions(db, "organisation.quota") == ["organisation.quota"]


def test_admin_can_set_the_quota_to_zero_to_pause_a_structure(client, db, admin):
    org = factories.organisation(monthly_quota=20)

    response = client.post(f"/admin/organisations/{org.id}/quota", data={"monthly_quota": "0"})

    assert response.status_code == 303
    assert reload(db, Organisation, org.id).monthly_quota == 0


@pytest.mark.parametrize("quota, message", [
    ("10001", "The monthly quota must be between 0 and 10,000 codes."),
    ("-5", "The monthly quota must be between 0 and 10,000 codes."),
    ("", "This field is required."),
])
def test_quota_out_of_range_is_refused_on_the_structure_page(client, db, admin, quota, message):
    org = factories.organisation(monthly_quota=20)

    response = client.post(f"/admin/organisations/{org.id}/quota", data={"monthly_quota": quota})

    assert response.status_code == 422
    assert message in response.text
    if quota:
        assert f'value="{quota}"' in response.text
    assert reload(db, Organisation, org.id).monthly_quota == 20


# --- Accounts -------------------------------------------------------------------------------------

def _invitation_link(message) -> str:
    found = re.search(r"http://localhost(/invitation/[A-Za-z0-9_\-]+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def test_admin_invites_a_partner_admin_to_a_structure(app, client, db, admin, outbox):
    org = factories.organisation()

    response = client.post(f"/admin/organisations/{org.id}/invite",
                           data={"name": "Léa Martin", "email": "lea.martin@example.org", "role": "partner_admin"})

    assert response.status_code == 303
    invited = db.session.scalar(sa.select(User).where(User.email == "lea.martin@example.org"))
    assert (invited.role, invited.organisation_id, invited.password_hash) == (Role.PARTNER_ADMIN, org.id, None)
    assert [m["To"] for m in outbox] == ["lea.martin@example.org"]
    assert "invitation not accepted yet" in client.get(f"/admin/organisations/{org.id}").text

    visitor = new_client(app)
    link = _invitation_link(outbox[0])
    visitor.post(link, data={"password": "quiet violet harbour lantern", "confirm": "quiet violet harbour lantern"})
    assert factories.sign_in(visitor, "lea.martin@example.org", "quiet violet harbour lantern").headers["Location"] == "/partner/"


def test_structure_page_invites_only_partner_roles(client, db, admin, outbox):
    org = factories.organisation()

    response = client.post(f"/admin/organisations/{org.id}/invite",
                           data={"name": "Sneaky", "email": "sneaky@example.org", "role": "admin"})

    assert response.status_code == 422
    assert db.session.scalar(sa.select(User).where(User.email == "sneaky@example.org")) is None
    assert outbox == []


def test_admin_invites_staff_for_a_pickup_point(client, db, admin, outbox):
    point = factories.pickup_point(name="Emmaüs Connect Metz")

    page = client.get("/admin/accounts").text
    assert f'<option value="{point.id}">Emmaüs Connect Metz</option>' in page
    response = client.post("/admin/accounts", data={"name": "Sam", "email": "sam@example.org", "role": "staff",
                                                    "pickup_point": str(point.id)})

    assert response.status_code == 303
    staff = db.session.scalar(sa.select(User).where(User.email == "sam@example.org"))
    assert (staff.role, staff.pickup_point_id, staff.organisation_id) == (Role.STAFF, point.id, None)
    assert [m["To"] for m in outbox] == ["sam@example.org"]
    assert _invitation_link(outbox[0])


def test_admin_invites_another_admin(client, db, admin, outbox):
    response = client.post("/admin/accounts", data={"name": "Camille", "email": "camille@example.org",
                                                    "role": "admin", "pickup_point": ""})

    assert response.status_code == 303
    assert db.session.scalar(sa.select(User.role).where(User.email == "camille@example.org")) == Role.ADMIN


@pytest.mark.parametrize("change, message", [
    ({"email": "coordinator@example.org"}, "An account already exists with this e-mail address."),
    ({"email": "not an address"}, "This e-mail address is not valid."),
    ({"role": "partner_admin"}, "Not a valid choice"),
    ({"pickup_point": "999999"}, "Not a valid choice"),
    ({"name": ""}, "This field is required."),
])
def test_bad_staff_invitation_is_refused_keeping_what_was_typed(client, db, admin, outbox, change, message):
    point = factories.pickup_point()
    data = {"name": "Sam", "email": "sam@example.org", "role": "staff", "pickup_point": str(point.id), **change}
    before = count(db, User)

    response = client.post("/admin/accounts", data=data)

    assert response.status_code == 422
    assert message in response.text
    if data["name"]:
        assert 'value="Sam"' in response.text
    assert count(db, User) == before and outbox == []


def test_admin_deactivates_and_reactivates_an_account(app, client, db, admin):
    staff = factories.user(Role.STAFF)
    counter = new_client(app)
    factories.sign_in(counter, staff.email)
    assert counter.get("/staff/").status_code == 200

    response = client.post(f"/admin/accounts/{staff.id}/deactivate")

    assert response.status_code == 303 and response.headers["Location"] == "/admin/accounts"
    assert reload(db, User, staff.id).active is False
    assert counter.get("/staff/").status_code == 302  # the open session ended
    assert factories.sign_in(new_client(app), staff.email).status_code == 200

    assert client.post(f"/admin/accounts/{staff.id}/activate").status_code == 303
    assert reload(db, User, staff.id).active is True
    assert factories.sign_in(new_client(app), staff.email).status_code == 303
    assert [a for a in actions(db, "user.") if a.endswith("activate")] == ["user.deactivate", "user.activate"]


def test_admin_cannot_deactivate_their_own_account(client, db, admin):
    response = client.post(f"/admin/accounts/{admin.id}/deactivate")

    assert response.status_code == 303
    assert reload(db, User, admin.id).active is True
    assert "You cannot deactivate your own account." in client.get(response.headers["Location"]).text
    assert client.get("/admin/").status_code == 200


def test_accounts_page_offers_no_button_to_deactivate_oneself(client, db, admin):
    other = factories.user(Role.STAFF)

    page = client.get("/admin/accounts").text

    assert f"/admin/accounts/{other.id}/deactivate" in page
    assert f"/admin/accounts/{admin.id}/deactivate" not in page


def test_unknown_account_or_change_is_refused(client, db, admin):
    staff = factories.user(Role.STAFF)

    assert client.post("/admin/accounts/999999/deactivate").status_code == 404
    assert client.post(f"/admin/accounts/{staff.id}/delete").status_code == 404
    assert reload(db, User, staff.id).active is True


# --- Who may reach the admin pages ----------------------------------------------------------------

def _admin_urls(app, ids):
    """(method, url) for every admin route; a new route with an unknown argument fails here."""
    values = {"organisation_id": ids["organisation_id"], "user_id": ids["user_id"], "status": "deactivated", "point_id": 1,
              "change": "deactivate", "beneficiary_id": 1, "template_id": 1, "closure_id": 1,
              "token_id": 1}
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("admin."):
                url = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    yield method, url


FORGED = {"name": "Mallory", "email": "mallory@example.org", "role": "admin", "pickup_point": "", "kind": "other",
          "town": "Metz", "monthly_quota": "9999"}


def _targets(db):
    org = factories.organisation(monthly_quota=20)
    victim = factories.user(Role.STAFF)
    db.session.commit()
    return {"organisation_id": org.id, "user_id": victim.id}


def _untouched(db, ids):
    db.session.expire_all()
    org = db.session.get(Organisation, ids["organisation_id"])
    assert (org.status, org.monthly_quota) == (OrganisationStatus.ACTIVE, 20)
    assert db.session.get(User, ids["user_id"]).active is True
    assert db.session.get(User, ids["user_id"]).has_two_factor is True
    assert db.session.scalar(sa.select(User.id).where(User.email == "mallory@example.org")) is None
    assert db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Mallory")) is None


@pytest.mark.parametrize("role", [Role.SOCIAL_WORKER, Role.PARTNER_ADMIN, Role.STAFF])
def test_admin_pages_are_403_for_everyone_but_admins(app, client, db, role):
    ids = _targets(db)
    factories.sign_in(client, factories.user(role).email)
    urls = list(_admin_urls(app, ids))
    assert len(urls) >= 8

    for method, url in urls:
        response = client.open(url, method=method, data=FORGED)
        assert response.status_code == 403, f"{role.value}: {method} {url} gave {response.status_code}"
    _untouched(db, ids)


def test_admin_pages_send_anonymous_visitors_to_sign_in(app, client, db):
    ids = _targets(db)

    for method, url in _admin_urls(app, ids):
        response = client.open(url, method=method, data=FORGED)
        assert response.status_code == 302, f"{method} {url}"
        assert response.headers["Location"].startswith("/login?next="), url
    _untouched(db, ids)


def test_admin_is_sent_back_to_the_admin_page_asked_for_after_sign_in(client, db):
    user = factories.user(Role.ADMIN)

    login_url = client.get("/admin/accounts").headers["Location"]
    response = factories.sign_in(client, user.email, url=login_url)

    assert response.headers["Location"] == "/admin/accounts"


# --- The public list of structures ----------------------------------------------------------------

def test_where_to_get_a_code_lists_only_active_structures_grouped_by_town(client, db):
    factories.organisation(name="CCAS de Metz", town="Metz", contact_phone="+33 3 87 00 00 01")
    factories.organisation(name="Association Pas à Pas", town="Thionville", kind=OrganisationKind.ASSOCIATION)
    factories.organisation(name="Mission Locale de Metz", town="Metz", kind=OrganisationKind.MISSION_LOCALE)
    factories.organisation(name="Structure en attente", town="Metz", status=OrganisationStatus.PENDING)
    factories.organisation(name="Structure fermée", town="Forbach", status=OrganisationStatus.DEACTIVATED)

    page = without_bdi(client.get("/where-to-get-a-code").text)

    towns = re.findall(r"<h2>([^<]+)</h2>", page)
    assert towns == ["Metz", "Thionville"]
    metz = page.split("<h2>Metz</h2>", 1)[1].split("<h2>", 1)[0]
    thionville = page.split("<h2>Thionville</h2>", 1)[1]
    assert re.findall(r"<h3>([^<]+)</h3>", metz) == ["CCAS de Metz", "Mission Locale de Metz"]
    assert re.findall(r"<h3>([^<]+)</h3>", thionville)[:1] == ["Association Pas à Pas"]
    assert "Structure en attente" not in page and "Structure fermée" not in page
    assert "Forbach" not in page


def test_where_to_get_a_code_follows_approval_and_deactivation(app, client, db, admin):
    org = factories.organisation(name="CCAS de Hayange", town="Hayange", status=OrganisationStatus.PENDING)
    visitor = new_client(app)
    assert "CCAS de Hayange" not in visitor.get("/where-to-get-a-code").text

    client.post(f"/admin/organisations/{org.id}/status/active")
    assert "CCAS de Hayange" in visitor.get("/where-to-get-a-code").text

    client.post(f"/admin/organisations/{org.id}/status/deactivated")
    assert "CCAS de Hayange" not in visitor.get("/where-to-get-a-code").text


def test_where_to_get_a_code_says_so_when_no_structure_is_listed(client, db):
    factories.organisation(status=OrganisationStatus.PENDING)

    page = client.get("/where-to-get-a-code").text

    assert "No place is listed yet." in page


def test_where_to_get_a_code_tells_where_when_and_for_whom_and_who_is_eligible(client, db):
    factories.organisation(name="CCAS de Metz", town="Metz", contact_phone="+33387000001",
                           address="22 rue du Wad Billy", postcode="57000", opening_hours="Du lundi au vendredi, 9 h à 12 h",
                           audience=OrganisationAudience.RESIDENTS)

    page = client.get("/where-to-get-a-code", headers={"Accept-Language": "en"}).text

    card = page.split("<h3><bdi>CCAS de Metz</bdi></h3>", 1)[1].split("</article>", 1)[0]
    assert "<bdi>22 rue du Wad Billy</bdi>" in card and "<bdi>57000 Metz</bdi>" in card
    assert 'href="tel:+33387000001"' in card
    assert "People who live in the town" in card
    # The hours are written by the structure, in French: marked so for screen readers.
    assert '<p lang="fr" dir="auto">Du lundi au vendredi, 9 h à 12 h</p>' in card
    # Who is eligible, said plainly, from the fixed list of grounds.
    assert "Who can get a code" in page
    for ground in (EligibilityGround.RSA, EligibilityGround.AAH, EligibilityGround.ASYLUM_REFUGEE):
        assert f"<li>{ground.label}</li>" in page


def test_the_code_entry_page_links_how_to_get_a_code_to_the_list_of_structures(client, db):
    page = client.get("/reserve").text
    assert re.search(r'<a href="/where-to-get-a-code">[^<]+</a>', page.split("<main", 1)[1])


def test_admin_sets_what_the_public_reads_about_a_structure(client, db, admin):
    org = factories.organisation(name="Secours Solidaire", town="Metz", kind=OrganisationKind.ASSOCIATION)

    response = client.post(f"/admin/organisations/{org.id}/details", data={
        "address": "  3 rue  Serpenoise ", "postcode": "57000", "contact_phone": "03 87 00 00 09",
        "contact_email": "", "opening_hours": "Mercredi, 14 h à 17 h", "audience": "refugees",
    })

    assert response.status_code == 303
    db.session.refresh(org)
    assert (org.address, org.postcode, org.contact_phone, org.opening_hours, org.audience) == (
        "3 rue Serpenoise", "57000", "+33387000009", "Mercredi, 14 h à 17 h", OrganisationAudience.REFUGEES)
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "organisation.details")) is not None


def test_a_wrong_phone_in_a_structure_s_details_is_refused_on_its_field_and_changes_nothing(client, db, admin):
    org = factories.organisation(name="Secours Solidaire", town="Metz", address="1 rue Haute")

    response = client.post(f"/admin/organisations/{org.id}/details", data={
        "address": "2 rue Basse", "postcode": "57000", "contact_phone": "12", "opening_hours": "", "audience": "anyone",
    })

    assert response.status_code == 422
    assert 'id="contact_phone-error"' in response.text
    assert 'value="2 rue Basse"' in response.text  # what was typed is kept
    db.session.refresh(org)
    assert org.address == "1 rue Haute"


def test_a_new_structure_helps_whom_its_kind_usually_helps_unless_told(db, admin):
    young = partners.create_organisation(name="ML", kind=OrganisationKind.MISSION_LOCALE, town="Metz", contact_email=None,
                                         contact_phone=None, monthly_quota=5, actor=admin)
    told = partners.create_organisation(name="ML 2", kind=OrganisationKind.MISSION_LOCALE, town="Metz", contact_email=None,
                                        contact_phone=None, monthly_quota=5, actor=admin,
                                        details=partners.PublicDetails(audience=OrganisationAudience.ANYONE))
    assert (young.audience, told.audience) == (OrganisationAudience.YOUNG_PEOPLE, OrganisationAudience.ANYONE)


def test_footer_privacy_and_accessibility_name_who_runs_the_shop(app, client, db):
    app.config.update(OPERATOR_NAME="Emmaüs Connect", OPERATOR_EMAIL="metz@example.org",
                      OPERATOR_ADDRESS="7 rue des Tanneurs, 57000 Metz")
    for path in ("/", "/privacy", "/accessibility"):
        page = client.get(path).text
        footer = page.split('<footer class="site-footer">', 1)[1]
        assert "<bdi>Emmaüs Connect</bdi>" in footer and 'href="mailto:metz@example.org"' in footer, path
    assert "<bdi>7 rue des Tanneurs, 57000 Metz</bdi>" in client.get("/privacy").text


def test_the_accessibility_statement_follows_the_rgaa_model(client, db):
    page = client.get("/accessibility", headers={"Accept-Language": "en"}).text
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert headings[:1] == ["Compliance status"]
    for heading in ("Content that is not accessible", "Feedback and contact", "If you get no answer"):
        assert heading in headings
    assert "RGAA" in page and "Défenseur des droits" in page and "Libre réponse 71120" in page
