"""The partner portal through its pages: register a person, issue a code, print the slip, follow
what became of it — and see nothing of any other structure."""

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import url_for
from flask_babel import force_locale, gettext
from markupsafe import escape

from shop.models import (
    AuditEntry, Beneficiary, CodeCategory, CodeState, EligibilityCode, EligibilityGround, Organisation,
    OrganisationKind, OrganisationStatus, Role, User,
    PaymentMethod, Reservation, ReservationStatus, WaitlistEntry, WaitlistStatus,
)
from shop.models.types import utcnow
from shop.services import codes, partners, qr, reservations, waitlist
from tests import factories
from tests.factories import without_bdi

PASSWORD = factories.PASSWORD
THIS_YEAR = utcnow().year


# --- Helpers ----------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def fast_hashing(app, monkeypatch):
    monkeypatch.setitem(app.config, "ARGON2_FAST", True)


@pytest.fixture
def client(client, db):
    """The test client, committing the test's own work before each request: on SQLite a
    request that writes waits for the lock an open test transaction would hold."""
    send = client.open

    def open_committed(*args, **kwargs):
        db.session.commit()
        return send(*args, **kwargs)

    client.open = open_committed
    return client


def structure(db, name: str, quota: int = 20) -> Organisation:
    organisation = Organisation(name=name, kind=OrganisationKind.ASSOCIATION, town="Metz", monthly_quota=quota,
                                status=OrganisationStatus.ACTIVE)
    db.session.add(organisation)
    db.session.flush()
    return organisation


def account(organisation: Organisation | None, role: Role = Role.SOCIAL_WORKER, email: str | None = None) -> User:
    email = email or f"{role.value}.{organisation.id if organisation else 'x'}@test.example.org"
    return factories.user(role, org=organisation, email=email, name=email.split("@")[0].title(), password=PASSWORD)


def person_of(worker: User, name: str = "Amina", **values) -> Beneficiary:
    data = dict(display_name=name, birth_year=1987, language="fr", ground=EligibilityGround.RSA)
    data.update(values)
    return partners.register_beneficiary(partners.BeneficiaryData(**data), worker=worker, override_reason="test")


def issued(person: Beneficiary, worker: User, categories=("computer",), **kwargs) -> tuple[EligibilityCode, str]:
    return codes.issue(person, [CodeCategory(c) for c in categories], worker=worker, **kwargs)


def translated(app, lang: str, message: str, **values) -> str:
    with app.test_request_context(), force_locale(lang):
        return gettext(message, **values)


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def actions(db, **where) -> list[str]:
    stmt = sa.select(AuditEntry.action).order_by(AuditEntry.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, key) == value)
    return list(db.session.scalars(stmt))


def people_listed(page: str) -> list[str]:
    """The names in the dashboard's table of people."""
    table = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r'<a href="/partner/beneficiaries/\d+">(?:<bdi>)?([^<]+)(?:</bdi>)?</a>', table)


def slip_code(page: str) -> str | None:
    """The code on the slip, its groups of four joined by spaces as they are read."""
    found = re.search(r'<p class="slip-code" dir="ltr">(.*?)</p>', page)
    return " ".join(re.findall(r'<span class="group">([^<]+)</span>', found.group(1))) or None if found else None


@pytest.fixture
def world(db):
    """Two structures, A and B, each with a social worker and a partner admin."""
    a, b = structure(db, "Structure Alpha"), structure(db, "Structure Beta")
    users = {
        "worker_a": account(a), "admin_a": account(a, Role.PARTNER_ADMIN),
        "worker_b": account(b), "admin_b": account(b, Role.PARTNER_ADMIN),
    }
    db.session.commit()
    return type("World", (), {"a": a, "b": b, **users})


REGISTRATION = {
    "display_name": "Amina", "birth_year": "1987", "language": "ar", "phone": "06 12 34 56 78",
    "email": "amina@example.net", "ground": "rsa", "justification": "",
}


# --- Registering a person -----------------------------------------------------------------------

def test_worker_registers_a_person_with_the_minimum_data_and_lands_on_their_page(client, db, world):
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.post("/partner/beneficiaries/new", data=REGISTRATION)

    person = db.session.scalar(sa.select(Beneficiary))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/partner/beneficiaries/{person.id}"
    assert (person.organisation_id, person.phone, person.language) == (world.a.id, "+33612345678", "ar")
    page = without_bdi(client.get(response.headers["Location"]).text)
    assert "Amina is registered" in page and "+33612345678" in page


BAD_REGISTRATIONS = {
    "invalid-phone": ({"phone": "12 34"}, "This phone number is not valid.", {}, "12 34"),
    "invalid-email": ({"email": "amina@"}, "This e-mail address is not valid.", {}, "amina@"),
    "birth-year-too-old": ({"birth_year": "1899"}, "The year of birth must be between %(min)d and %(max)d.",
                           {"min": 1900, "max": THIS_YEAR}, "1899"),
    "birth-year-in-future": ({"birth_year": str(THIS_YEAR + 1)},
                             "The year of birth must be between %(min)d and %(max)d.",
                             {"min": 1900, "max": THIS_YEAR}, str(THIS_YEAR + 1)),
    "birth-year-not-a-number": ({"birth_year": "19x7"}, "Enter the year with 4 digits, for example 1985.", {},
                                "19x7"),
    "other-without-justification": ({"ground": "other"}, "Please explain the reason when you choose “Other”.",
                                    {}, "amina@example.net"),
    "no-name": ({"display_name": "  "}, "This field is required.", {}, "amina@example.net"),
}


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("case", BAD_REGISTRATIONS)
def test_bad_registration_is_refused_in_the_users_language_keeping_what_was_typed(app, client, db, world, case, lang):
    changes, message, values, typed = BAD_REGISTRATIONS[case]
    factories.signed_in(client, world.worker_a, lang=lang)

    response = client.post("/partner/beneficiaries/new", data={**REGISTRATION, **changes})

    assert response.status_code == 200
    page = response.text
    expected = translated(app, lang, message, **values)
    assert str(escape(expected)) in page
    assert f'value="{typed}"' in page
    assert '<option lang="ar" selected value="ar">' in page
    assert 'aria-invalid="true"' in page or 'class="error-summary"' in page
    assert count(db, Beneficiary) == 0


def test_possible_duplicate_elsewhere_warns_without_revealing_anything_and_can_be_overridden(client, db, world):
    person_of(world.worker_a, "Amina", phone="0612345678", email="amina@example.net")
    factories.signed_in(client, world.worker_b, lang="en")

    warned = client.post("/partner/beneficiaries/new", data={**REGISTRATION, "display_name": "AMINA ", "email": ""})

    assert warned.status_code == 200
    page = warned.text
    assert "already registered" in page
    assert 'name="override_reason"' in page and 'value="AMINA "' in page
    for secret in ("Structure Alpha", "amina@example.net", world.worker_a.email, world.worker_a.name):
        assert secret not in page
    assert count(db, Beneficiary) == 1

    overridden = client.post("/partner/beneficiaries/new",
                             data={**REGISTRATION, "email": "", "override_reason": "Moved to our town"})

    assert overridden.status_code == 303
    mine = db.session.scalar(sa.select(Beneficiary).where(Beneficiary.organisation_id == world.b.id))
    assert mine.duplicate_override_reason == "Moved to our town"


def test_worker_changes_a_persons_details(client, db, world):
    person = person_of(world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")
    page = client.get(f"/partner/beneficiaries/{person.id}/edit").text
    assert 'value="Amina"' in page

    response = client.post(f"/partner/beneficiaries/{person.id}/edit",
                           data={**REGISTRATION, "display_name": "Amina B.", "language": "uk"})

    assert response.status_code == 303
    person = db.session.get(Beneficiary, person.id)
    assert (person.display_name, person.language) == ("Amina B.", "uk")


# --- Issuing a code and the slip ----------------------------------------------------------------

def _text_columns(table):
    return [column for column in table.columns if isinstance(column.type, (sa.String, sa.Text))]


def test_issued_code_is_shown_once_on_the_slip_and_never_stored_in_clear(client, db, world):
    person = person_of(world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.post(f"/partner/beneficiaries/{person.id}/codes/new",
                           data={"categories": ["computer", "tablet"], "validity_days": "60"})

    code = db.session.scalar(sa.select(EligibilityCode))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/partner/codes/{code.id}/slip"
    assert code.category_list == [CodeCategory.COMPUTER, CodeCategory.TABLET]
    assert code.expires_at - code.issued_at == timedelta(days=60)
    page = client.get(response.headers["Location"]).text
    shown = slip_code(page)
    assert shown and re.fullmatch(r"[0-9A-Z]{4} [0-9A-Z]{4} [0-9A-Z]{4} [0-9A-Z]{2}", shown)
    assert codes.find(shown).id == code.id

    again = client.get(response.headers["Location"]).text
    assert slip_code(again) is None
    assert shown not in again and "cannot be shown again" in again
    with client.session_transaction() as session:
        assert not any(shown.replace(" ", "") in str(value) for value in session.values())

    clear = shown.replace(" ", "")
    forms = {clear, clear[:-1], shown, clear.lower(), clear[:-1].lower()}
    tables = [EligibilityCode.__table__, AuditEntry.__table__]
    for table in tables:
        for row in db.session.execute(sa.select(*_text_columns(table))):
            for value in row:
                assert not any(form in (value or "") for form in forms), f"code in clear in {table.name}"


def test_issue_is_refused_when_the_monthly_quota_is_used_up(client, db, world):
    world.a.monthly_quota = 1
    first, second = person_of(world.worker_a, "Amina"), person_of(world.worker_a, "Nadia")
    issued(first, world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.post(f"/partner/beneficiaries/{second.id}/codes/new",
                           data={"categories": "smartphone", "validity_days": "90"})

    assert response.status_code == 200
    assert "Your structure has used all its codes for this month" in response.text
    assert re.search(r'<input checked [^>]*value="smartphone"', response.text)
    assert count(db, EligibilityCode) == 1


def test_issue_is_refused_beyond_one_computer_per_person_in_12_months(client, db, world):
    person = person_of(world.worker_a)
    issued(person, world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.post(f"/partner/beneficiaries/{person.id}/codes/new",
                           data={"categories": ["computer", "tablet"], "validity_days": "90"})

    assert response.status_code == 200
    assert "already has a code or a device for: Computer (laptop or desktop)" in response.text
    assert count(db, EligibilityCode) == 1


@pytest.mark.parametrize(
    "data,message",
    [
        ({"categories": "spaceship", "validity_days": "90"}, "Choose from the list."),
        ({"validity_days": "90"}, "Choose at least one kind of device."),
        ({"categories": "computer", "validity_days": "0"}, "Enter a number of days between 1 and 365."),
        ({"categories": "computer", "validity_days": "366"}, "Enter a number of days between 1 and 365."),
        ({"categories": "computer", "validity_days": "ninety"}, "Enter a number of days between 1 and 365."),
    ],
    ids=["unknown-category", "no-category", "validity-0", "validity-366", "validity-not-a-number"],
)
def test_issue_refuses_unknown_category_or_validity_out_of_range(client, db, world, data, message):
    person = person_of(world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.post(f"/partner/beneficiaries/{person.id}/codes/new", data=data)

    assert response.status_code == 200
    assert message in response.text
    assert f'value="{data["validity_days"]}"' in response.text
    assert count(db, EligibilityCode) == 0


def test_slip_is_in_the_persons_language_whatever_the_workers(client, db, world):
    person = person_of(world.worker_a, "Layla", language="ar")
    factories.signed_in(client, world.worker_a, lang="fr")
    assert '<html lang="fr" dir="ltr">' in client.get("/partner/").text

    response = client.post(f"/partner/beneficiaries/{person.id}/codes/new",
                           data={"categories": "computer", "validity_days": "90"})
    page = client.get(response.headers["Location"]).text

    # The worker's page stays in the worker's language; only the slip is in the person's.
    assert '<html lang="fr" dir="ltr">' in page and "Se déconnecter" in page
    assert '<article class="slip" lang="ar" dir="rtl">' in page
    slip = page.split('<article class="slip"', 1)[1]
    assert re.search(r'<svg [^>]*role="img"', page) and "<path d=" in page
    assert "<?xml" not in page and "style=" not in page
    assert slip_code(page) is not None
    assert "Imprimer la fiche" in page.split('<article class="slip"', 1)[0] and "Imprimer" not in slip
    assert "Layla" in page and "Structure Alpha" in page
    assert '<html lang="fr" dir="ltr">' in client.get("/partner/").text


@pytest.mark.parametrize("language", ["fa", "ps"])
def test_slip_renders_in_the_right_to_left_languages(client, db, world, language):
    person = person_of(world.worker_a, "Zarghuna", language=language)
    factories.signed_in(client, world.worker_a, lang="fr")
    response = client.post(f"/partner/beneficiaries/{person.id}/codes/new",
                           data={"categories": "computer", "validity_days": "90"})
    page = client.get(response.headers["Location"]).text

    assert f'lang="{language}" dir="rtl"' in page
    with force_locale(language):
        title = gettext("Your code for the Solidarity Shop")
        keep = gettext("Keep this slip safe: the code can be used only once.")
    assert title != "Your code for the Solidarity Shop" and str(escape(title)) in page
    assert str(escape(keep)) in page
    assert slip_code(page) is not None and "Zarghuna" in page


def test_slip_renders_in_every_language_a_person_can_choose(app, client, db, world):
    factories.signed_in(client, world.worker_a, lang="en")
    for language in app.config["LANGUAGES"]:
        person = person_of(world.worker_a, f"Person {language}", language=language)
        response = client.post(f"/partner/beneficiaries/{person.id}/codes/new",
                               data={"categories": "computer", "validity_days": "90"})
        page = client.get(response.headers["Location"]).text

        direction = "rtl" if language in {"ar", "fa", "ps"} else "ltr"
        # The worker's page stays in the worker's language; the slip itself is in the person's.
        assert '<html lang="en" dir="ltr">' in page
        assert f'<article class="slip" lang="{language}" dir="{direction}">' in page
        assert slip_code(page) is not None
        keep_safe = "Keep this slip safe: the code can be used only once."
        assert str(escape(translated(app, language, keep_safe))) in page
        assert language == "en" or keep_safe not in page


def test_slip_lists_the_pickup_points_and_what_the_code_allows(client, db, world):
    factories.pickup_point(name="Emmaüs Connect Test", address="12 rue Mazelle")
    person = person_of(world.worker_a, language="en")
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.post(f"/partner/beneficiaries/{person.id}/codes/new",
                           data={"categories": ["smartphone", "screen"], "validity_days": "90"})
    slip = client.get(response.headers["Location"])

    assert slip.headers["Cache-Control"] == "no-store"
    page = slip.text
    assert "Emmaüs Connect Test" in page and "12 rue Mazelle" in page
    assert "<li>Smartphone</li>" in page and "<li>Screen</li>" in page
    assert "Valid until" in page


def test_qr_code_is_inline_svg_without_style_or_declaration():
    svg = str(qr.svg("https://shop.example/reserve?code=ABCD", 'Scan "me" & <go>'))
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-label="Scan &#34;me&#34; &amp; &lt;go&gt;"' in svg
    assert "style=" not in svg and "<?xml" not in svg and " id=" not in svg


def test_qr_code_path_draws_exactly_the_dark_modules_of_the_encoded_matrix():
    import qrcode

    data = "https://shop.example/reserve?code=0123-4567-89AB-CDEF"
    svg = str(qr.svg(data, "code"))
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    drawn = set()
    for x, y, width in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\3z", re.search(r' d="([^"]+)"', svg).group(1)):
        cells = {(int(x) + i, int(y)) for i in range(int(width))}
        assert not cells & drawn  # runs never overlap
        drawn |= cells
    reference = qrcode.QRCode(border=qr.BORDER, mask_pattern=qr.MASK)
    reference.add_data(data)
    matrix = reference.get_matrix()

    assert size == len(matrix) == len(matrix[0])
    assert drawn == {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}
    assert all(not matrix[y][x] for y in range(qr.BORDER) for x in range(size))  # the quiet zone is light


# --- Revoke, extend, reissue --------------------------------------------------------------------

def test_revoke_needs_a_reason_then_revokes(client, db, world):
    code, _ = issued(person_of(world.worker_a), world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    refused = client.post(f"/partner/codes/{code.id}/revoke", data={f"revoke-{code.id}-reason": " "})
    assert refused.status_code == 200 and "Please give a reason." in refused.text
    assert re.search(r"<details class=\"code-action code-action-revoke\" open>", refused.text)
    assert db.session.get(EligibilityCode, code.id).status == CodeState.ACTIVE

    done = client.post(f"/partner/codes/{code.id}/revoke", data={f"revoke-{code.id}-reason": "Moved away"})

    assert done.status_code == 303
    code = db.session.get(EligibilityCode, code.id)
    assert (code.status, code.revoke_reason) == (CodeState.REVOKED, "Moved away")
    page = client.get(done.headers["Location"]).text
    assert "The code is revoked" in page and "Moved away" in page
    assert "code.revoke" in actions(db, target_id=code.id)


def test_extend_pushes_the_end_date_back(client, db, world):
    code, _ = issued(person_of(world.worker_a), world.worker_a, validity_days=30)
    before = code.expires_at
    factories.signed_in(client, world.worker_a, lang="en")

    refused = client.post(f"/partner/codes/{code.id}/extend",
                          data={f"extend-{code.id}-days": "500", f"extend-{code.id}-reason": "Waiting"})
    assert refused.status_code == 200 and "Enter a number of days between 1 and 365." in refused.text
    assert 'value="500"' in refused.text

    done = client.post(f"/partner/codes/{code.id}/extend",
                       data={f"extend-{code.id}-days": "20", f"extend-{code.id}-reason": "No laptop yet"})

    assert done.status_code == 303
    assert db.session.get(EligibilityCode, code.id).expires_at == before + timedelta(days=20)
    assert "code.extend" in actions(db, target_id=code.id)


def test_reissue_revokes_the_old_code_and_shows_a_new_slip(client, db, world):
    old, old_clear = issued(person_of(world.worker_a), world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.post(f"/partner/codes/{old.id}/reissue", data={f"reissue-{old.id}-reason": "Slip lost"})

    new = db.session.scalar(sa.select(EligibilityCode).where(EligibilityCode.replaces_id == old.id))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/partner/codes/{new.id}/slip"
    assert db.session.get(EligibilityCode, old.id).status == CodeState.REVOKED
    shown = slip_code(client.get(response.headers["Location"]).text)
    assert codes.find(shown).id == new.id and shown.replace(" ", "") != old_clear
    assert "code.revoke" in actions(db, target_id=old.id) and "code.issue" in actions(db, target_id=new.id)


def test_reissue_replaces_a_lost_slip_even_when_the_quota_is_used_up(client, db, world):
    world.a.monthly_quota = 1
    old, _ = issued(person_of(world.worker_a), world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.post(f"/partner/codes/{old.id}/reissue", data={f"reissue-{old.id}-reason": "Slip lost"},
                           follow_redirects=True)

    assert response.status_code == 200
    assert db.session.get(EligibilityCode, old.id).status == CodeState.REVOKED
    assert count(db, EligibilityCode) == 2
    assert codes.quota_used(world.a.id) == 1


def test_slip_shown_already_offers_a_reissue(client, db, world):
    code, _ = issued(person_of(world.worker_a), world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    page = client.get(f"/partner/codes/{code.id}/slip").text

    assert "cannot be shown again" in page
    assert f'action="/partner/codes/{code.id}/reissue"' in page


# --- Dashboard, export, team --------------------------------------------------------------------

def test_dashboard_lists_searches_and_filters_the_structures_people(client, db, world):
    amina, nadia = person_of(world.worker_a, "Amina"), person_of(world.worker_a, "Nadia")
    person_of(world.worker_b, "Dmytro")
    issued(amina, world.worker_a)
    revoked, _ = issued(nadia, world.worker_a, categories=("tablet",), validity_days=5)
    factories.signed_in(client, world.worker_a, lang="en")

    page = client.get("/partner/").text
    assert "Amina" in page and "Nadia" in page and "Dmytro" not in page
    assert "Codes about to expire" in page
    assert "Codes this month" not in page

    assert people_listed(client.get("/partner/?q=AMÍ").text) == ["Amina"]
    codes.revoke(revoked, worker=world.worker_a, reason="test")
    assert people_listed(client.get("/partner/?status=revoked").text) == ["Nadia"]
    assert people_listed(client.get("/partner/?status=active").text) == ["Amina"]
    assert "Choose from the list." in client.get("/partner/?status=lost").text


def test_dashboard_shows_the_quota_to_the_partner_admin(client, db, world):
    issued(person_of(world.worker_a), world.worker_a)
    factories.signed_in(client, world.admin_a, lang="en")

    page = client.get("/partner/").text

    assert "1 of 20 codes used this month." in page
    assert 'href="/partner/team"' in page


def test_export_holds_only_the_structures_own_people_and_is_audited(client, db, world):
    issued(person_of(world.worker_a, "Amina"), world.worker_a)
    person_of(world.worker_b, "Dmytro")
    factories.signed_in(client, world.worker_a, lang="en")

    response = client.get("/partner/export.csv", headers={"Accept-Language": "en"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="solidarity-shop-\d{4}-\d{2}-\d{2}\.csv"',
                        response.headers["Content-Disposition"])
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [row["Name"] for row in rows] == ["Amina"]
    assert rows[0]["State"] == "active"
    assert "partner.export" in actions(db, actor_id=world.worker_a.id)


def test_partner_admin_invites_a_social_worker(app, client, db, world):
    factories.signed_in(client, world.admin_a, lang="en")
    outbox = app.extensions.setdefault("mail_outbox", [])
    outbox.clear()

    response = client.post("/partner/team", data={"name": "Nour", "email": "Nour@Example.org"})

    assert response.status_code == 303
    invited = db.session.scalar(sa.select(User).where(User.email == "nour@example.org"))
    assert (invited.role, invited.organisation_id, invited.password_hash) == (Role.SOCIAL_WORKER, world.a.id, None)
    assert outbox[-1]["To"] == "nour@example.org"
    assert re.search(r"http://localhost/invitation/\S+", outbox[-1].get_content())
    assert "An invitation was sent to nour@example.org." in without_bdi(client.get("/partner/team").text)

    again = client.post("/partner/team", data={"name": "Nour", "email": "nour@example.org"})
    assert again.status_code == 200 and "An account already exists" in again.text
    assert 'value="Nour"' in again.text


def test_partner_admin_deactivates_and_reactivates_a_social_worker(client, db, world):
    factories.signed_in(client, world.admin_a, lang="en")

    assert client.post(f"/partner/team/{world.worker_a.id}/deactivate").status_code == 303
    assert db.session.get(User, world.worker_a.id).active is False
    assert client.post(f"/partner/team/{world.worker_a.id}/activate").status_code == 303
    assert db.session.get(User, world.worker_a.id).active is True
    assert actions(db, target_id=world.worker_a.id, target_type="users")[-2:] == ["user.deactivate", "user.activate"]


def test_partner_admin_cannot_deactivate_themself_nor_another_partner_admin(client, db, world):
    other_admin = account(world.a, Role.PARTNER_ADMIN, email="second.admin@test.example.org")
    factories.signed_in(client, world.admin_a, lang="en")

    assert client.post(f"/partner/team/{world.admin_a.id}/deactivate").status_code == 403
    assert client.post(f"/partner/team/{other_admin.id}/deactivate").status_code == 403
    assert db.session.get(User, other_admin.id).active is True


# --- Separation and access ----------------------------------------------------------------------

def _records_of_a(db, world) -> dict[str, int]:
    person = person_of(world.worker_a, "Amina")
    code, _ = issued(person, world.worker_a)
    point = factories.pickup_point()
    booked = factories.device(point=point, model="Booked")
    free = factories.device(point=point, model="Free")
    reservation = reservations.reserve(code, booked.offer_key, method=PaymentMethod.COUNTER)
    phone_code, _ = issued(person, world.worker_a, categories=("smartphone",))
    entry = waitlist.join(phone_code, "smartphone", point.id)
    db.session.commit()
    return {"beneficiary_id": person.id, "code_id": code.id, "user_id": world.worker_a.id,
            "number": reservation.number, "offer_key": free.offer_key, "entry_id": entry.id}


def _partner_urls(app, ids: dict[str, int]):
    """(method, url, argument names) for every partner route, its arguments naming A's records.

    A new route with an argument this table does not know fails here, so it gets a rule."""
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("partner."):
                continue
            url = url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, url, set(rule.arguments)


def _plausible_form(ids: dict[str, int]) -> dict:
    """What a forged post would send, so that a refusal cannot come from an incomplete form."""
    code = ids["code_id"]
    return {
        **REGISTRATION, "categories": "computer", "validity_days": "30", "reason": "x", "days": "5",
        f"revoke-{code}-reason": "x", f"extend-{code}-days": "5", f"extend-{code}-reason": "x",
        f"reissue-{code}-reason": "x", "name": "Mallory", "email": "mallory@example.org",
    }


def _a_is_untouched(db, world, ids):
    code = db.session.get(EligibilityCode, ids["code_id"])
    assert code.status == CodeState.ACTIVE and count(db, EligibilityCode) == 2  # + the one waiting for a phone
    assert db.session.get(WaitlistEntry, ids["entry_id"]).status == WaitlistStatus.WAITING
    assert db.session.get(Beneficiary, ids["beneficiary_id"]).display_name == "Amina"
    assert db.session.get(User, ids["user_id"]).active is True
    assert not actions(db, organisation_id=world.a.id, action="beneficiary.view")
    assert db.session.scalar(sa.select(Reservation.status).where(Reservation.number == ids["number"])) == (
        ReservationStatus.CONFIRMED)
    assert db.session.scalar(sa.select(sa.func.count(Reservation.id))) == 1


@pytest.mark.parametrize("intruder", ["worker_b", "admin_b"])
def test_another_structure_gets_404_for_every_url_naming_a_record_of_a(app, client, db, world, intruder):
    ids = _records_of_a(db, world)
    factories.signed_in(client, getattr(world, intruder), lang="en")
    checked = 0

    for method, url, arguments in _partner_urls(app, ids):
        if not arguments:
            continue
        response = client.open(url, method=method, data=_plausible_form(ids))
        team_page = arguments == {"user_id"}
        allowed = {403, 404} if team_page and intruder == "worker_b" else {404}
        assert response.status_code in allowed, f"{intruder}: {method} {url} gave {response.status_code}"
        checked += 1

    assert checked >= 10
    _a_is_untouched(db, world, ids)


def test_social_worker_gets_403_on_team_pages(app, client, db, world):
    ids = _records_of_a(db, world)
    factories.signed_in(client, world.worker_a, lang="en")

    for method, url, _ in _partner_urls(app, ids):
        if url.startswith("/partner/team"):
            assert client.open(url, method=method, data=_plausible_form(ids)).status_code == 403, url


@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_staff_and_admins_get_403_on_partner_pages(app, client, db, world, role):
    factories.signed_in(client, account(None, role), lang="en")
    assert client.get("/partner/").status_code == 403
    assert client.get("/partner/beneficiaries/new").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in_from_every_partner_url(app, client, db, world):
    ids = _records_of_a(db, world)

    for method, url, _ in _partner_urls(app, ids):
        response = client.open(url, method=method, data=_plausible_form(ids))
        assert response.status_code == 302, f"{method} {url}"
        assert response.headers["Location"].startswith("/login?next="), url
    _a_is_untouched(db, world, ids)


# --- Audit --------------------------------------------------------------------------------------

def test_views_and_code_operations_are_audited(client, db, world):
    person = person_of(world.worker_a)
    factories.signed_in(client, world.worker_a, lang="en")

    client.get(f"/partner/beneficiaries/{person.id}")
    client.post(f"/partner/beneficiaries/{person.id}/codes/new", data={"categories": "computer", "validity_days": "90"})
    first = db.session.scalar(sa.select(EligibilityCode.id))
    client.post(f"/partner/codes/{first}/extend", data={f"extend-{first}-days": "5", f"extend-{first}-reason": "r"})
    client.post(f"/partner/codes/{first}/reissue", data={f"reissue-{first}-reason": "Lost"})
    second = db.session.scalar(sa.select(EligibilityCode.id).where(EligibilityCode.replaces_id == first))
    client.post(f"/partner/codes/{second}/revoke", data={f"revoke-{second}-reason": "Gone"})
    client.get("/partner/export.csv")

    mine = [(a.action, a.target_type, a.target_id) for a in db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.actor_id == world.worker_a.id).order_by(AuditEntry.id))]
    assert ("beneficiary.view", "beneficiaries", person.id) in mine
    assert ("code.issue", "eligibility_codes", first) in mine
    assert ("code.extend", "eligibility_codes", first) in mine
    assert ("code.revoke", "eligibility_codes", first) in mine  # the reissue
    assert ("code.issue", "eligibility_codes", second) in mine
    assert ("code.revoke", "eligibility_codes", second) in mine
    assert ("partner.export", None, None) in mine
    organisations = set(db.session.scalars(
        sa.select(AuditEntry.organisation_id).where(AuditEntry.actor_id == world.worker_a.id)))
    assert organisations == {world.a.id}


def test_status_filter_follows_the_latest_code_of_each_person(client, db, world):
    from datetime import timedelta as _td

    person = person_of(world.worker_a, "Oleksandr")
    old, _ = issued(person, world.worker_a, categories=("tablet",), now=utcnow() - _td(days=200))
    issued(person, world.worker_a, categories=("tablet",))
    factories.signed_in(client, world.worker_a, lang="en")
    assert "Oleksandr" not in client.get("/partner/?status=expired").text
    assert "Oleksandr" in client.get("/partner/?status=active").text
