"""Accounts through their pages: sign-in, brute force, sessions, passwords, invitations, password
reset and forged posts. What an attacker learns or keeps is checked as carefully as what works."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext

from shop.extensions import limiter
from shop.models import (
    AuditEntry, Beneficiary, OneTimeToken, OrganisationStatus, Role, TokenPurpose, User,
)
from shop.models.types import utcnow
from shop.services import accounts, passwords
from shop.services.errors import DomainError
from tests import factories

PASSWORD = "correct horse battery staple"  # what factories.user() sets
NEW_PASSWORD = "quiet violet harbour lantern"
WRONG = "not the right password at all"


# --- Helpers ----------------------------------------------------------------------------------

@pytest.fixture
def client(client):
    """The test client, reading pages in English unless a test asks for another language."""
    client.set_cookie("lang", "en")
    return client


@pytest.fixture
def outbox(app):
    box = app.extensions.setdefault("mail_outbox", [])
    box.clear()
    yield box
    box.clear()


def new_client(app, lang: str | None = "en"):
    other = app.test_client()
    if lang:
        other.set_cookie("lang", lang)
    return other


def sign_in(client, email: str, password: str = PASSWORD, query: str = "", **extra):
    return factories.sign_in(client, email, password, url=f"/login{query}", **extra)


def signed_in_on_partner_pages(client) -> bool:
    response = client.get("/partner/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.headers["Location"].startswith("/login"), response.status_code
    return False


def translated(app, lang: str, message: str, **values) -> str:
    with app.test_request_context(), force_locale(lang):
        return gettext(message, **values)


def link_path(message, kind: str) -> str:
    """The path of the single-use link in an e-mail ("invitation" or "password/reset")."""
    found = re.search(rf"http://localhost(/{kind}/[A-Za-z0-9_\-]+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def fresh(db, user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def invited_partner_admin(db, org=None) -> tuple[User, str]:
    org = org or factories.organisation()
    user, token = accounts.invite(email="lea.martin@example.org", name="Léa", role=Role.PARTNER_ADMIN,
                                  inviter=factories.user(Role.ADMIN), organisation=org)
    db.session.commit()
    return user, token


def login_page_for(client, email: str, password: str) -> tuple[int, str]:
    """Status and page of a refused sign-in, with the typed address taken out."""
    response = sign_in(client, email, password)
    return response.status_code, response.text.replace(email, "ADDRESS")


# --- Sign-in --------------------------------------------------------------------------------------

@pytest.mark.parametrize("role, home", [
    (Role.SOCIAL_WORKER, "/partner/"), (Role.PARTNER_ADMIN, "/partner/"), (Role.ADMIN, "/admin/"),
    (Role.STAFF, "/staff/"),
])
def test_good_credentials_land_each_role_on_its_own_home(client, db, role, home):
    user = factories.user(role)

    response = sign_in(client, user.email)

    assert response.status_code == 303
    assert response.headers["Location"] == home
    assert client.get(home).status_code == 200
    assert fresh(db, user).last_login_at is not None


def test_address_is_matched_whatever_its_case_and_surrounding_spaces(client, db):
    user = factories.user(email="amelie.durand@example.org")

    assert sign_in(client, "  Amelie.Durand@EXAMPLE.org ").status_code == 303


def test_wrong_password_and_unknown_address_give_the_same_page(client, db):
    user = factories.user()

    wrong = login_page_for(client, user.email, WRONG)
    unknown = login_page_for(client, "nobody.here@example.org", WRONG)

    assert wrong[0] == unknown[0] == 200
    assert "The e-mail address or the password is not right." in wrong[1]
    assert wrong == unknown
    assert not signed_in_on_partner_pages(client)


def _inactive(db):
    user = factories.user()
    user.active = False
    return user.email


def _pending_structure(db):
    return factories.user(org=factories.organisation(status=OrganisationStatus.PENDING)).email


def _deactivated_structure(db):
    return factories.user(org=factories.organisation(status=OrganisationStatus.DEACTIVATED)).email


def _invited_without_password(db):
    user, _ = accounts.invite(email="invited.only@example.org", name="Invited", role=Role.SOCIAL_WORKER,
                              inviter=None, organisation=factories.organisation())
    return user.email


@pytest.mark.parametrize("make_account", [_inactive, _pending_structure, _deactivated_structure,
                                          _invited_without_password])
def test_accounts_that_may_not_work_cannot_sign_in_and_are_not_told_apart(client, db, make_account):
    email = make_account(db)
    db.session.commit()

    refused = login_page_for(client, email, PASSWORD)
    unknown = login_page_for(client, "nobody.here@example.org", PASSWORD)

    assert refused == unknown
    assert refused[0] == 200
    assert not signed_in_on_partner_pages(client)
    assert not db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action == "user.sign_in")).all()


def test_refused_sign_in_keeps_the_address_but_never_echoes_the_password(client, db):
    user = factories.user()

    page = sign_in(client, user.email, "Typed-Secret-Value-42").text

    assert f'value="{user.email}"' in page
    assert "Typed-Secret-Value-42" not in page


def test_next_is_followed_for_a_local_path(client, db):
    user = factories.user()

    response = sign_in(client, user.email, query="?next=/partner/beneficiaries/new")

    assert response.headers["Location"] == "/partner/beneficiaries/new"


def test_anonymous_visit_sends_to_sign_in_and_back_again(client, db):
    user = factories.user()

    first = client.get("/partner/beneficiaries/new")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    assert login_url.startswith("/login?next=")

    response = client.post(login_url, data={"email": user.email, "password": PASSWORD})

    assert response.headers["Location"] == "/partner/beneficiaries/new"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "http:/evil.example",
    "javascript:alert(1)", "evil.example", "/\t/evil.example", " //evil.example", "https:evil.example",
])
def test_next_pointing_off_site_is_ignored(client, db, target):
    user = factories.user()

    response = client.post("/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 303
    assert response.headers["Location"] == "/partner/"


def test_signed_in_user_visiting_sign_in_goes_home(client, db):
    user = factories.user(Role.ADMIN)
    sign_in(client, user.email)

    response = client.get("/login")

    assert response.status_code == 302 and response.headers["Location"] == "/admin/"


def test_sign_in_starts_a_new_session(client, db):
    """No session fixation: what was in the session before sign-in does not survive it."""
    user = factories.user()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"

    sign_in(client, user.email)

    with client.session_transaction() as session:
        assert "planted" not in session


# --- Brute force ----------------------------------------------------------------------------------

@pytest.fixture
def rate_limited(app):
    """Rate limiting is on in the test app (conftest), with counters emptied around each test."""
    assert app.config["RATELIMIT_ENABLED"] and limiter.enabled and limiter.initialized
    limiter.reset()
    yield app
    limiter.reset()


def test_eleventh_wrong_password_in_a_minute_is_refused_with_429(rate_limited, client, db):
    user = factories.user()
    attacker = client
    attacker.delete_cookie("lang")

    statuses = [sign_in(attacker, user.email, WRONG).status_code for _ in range(10)]
    eleventh = attacker.post("/login", data={"email": user.email, "password": WRONG},
                             headers={"Accept-Language": "fr"})

    assert statuses == [200] * 10
    assert eleventh.status_code == 429
    assert eleventh.headers.get("Retry-After")
    # The app's own error page, in the visitor's language, not Flask-Limiter's bare message.
    page = eleventh.text
    assert '<html lang="fr" dir="ltr">' in page
    title = translated(rate_limited, "fr", "Too many attempts")
    assert title != "Too many attempts" and f"<h1>{title}</h1>" in page
    assert translated(rate_limited, "fr", "Please wait a few minutes, then try again.") in page
    assert "per 1 minute" not in page


def test_even_the_right_password_is_refused_once_the_limit_is_reached(rate_limited, client, db):
    user = factories.user()
    attacker = client
    for _ in range(10):
        sign_in(attacker, user.email, WRONG)

    response = sign_in(attacker, user.email, PASSWORD)

    assert response.status_code == 429
    assert "Too many attempts" in response.text
    assert attacker.get("/partner/").status_code == 302


def test_limit_is_per_address_so_other_people_can_still_sign_in(rate_limited, client, db):
    user = factories.user()
    attacker = client
    for _ in range(11):
        sign_in(attacker, user.email, WRONG)

    colleague = new_client(rate_limited)
    response = colleague.post("/login", data={"email": user.email, "password": PASSWORD},
                              environ_base={"REMOTE_ADDR": "192.0.2.44"})

    assert response.status_code == 303


def test_showing_the_sign_in_page_is_not_limited(rate_limited, client, db):
    visitor = client
    assert {visitor.get("/login").status_code for _ in range(15)} == {200}


# --- Sessions -------------------------------------------------------------------------------------

def test_replayed_session_cookie_no_longer_works_after_sign_out(app, client, db):
    user = factories.user()
    sign_in(client, user.email)
    stolen = client.get_cookie("session").value
    thief = new_client(app)
    thief.set_cookie("session", stolen)
    assert thief.get("/partner/").status_code == 200  # the copy works while the session lives

    response = client.post("/logout")
    assert response.status_code == 303

    replay = new_client(app)
    replay.set_cookie("session", stolen)
    answer = replay.get("/partner/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert thief.get("/partner/").status_code == 302
    assert not signed_in_on_partner_pages(client)


def test_remember_me_cookie_stops_working_after_sign_out(app, client, db):
    user = factories.user()
    sign_in(client, user.email, remember="y")
    remembered = client.get_cookie("remember_token")
    assert remembered is not None
    before = new_client(app)
    before.set_cookie("remember_token", remembered.value)
    assert before.get("/partner/").status_code == 200  # a new browser session, remembered

    client.post("/logout")

    after = new_client(app)
    after.set_cookie("remember_token", remembered.value)
    answer = after.get("/partner/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")


def test_sign_out_signs_out_every_device_of_the_user(app, client, db):
    user = factories.user()
    phone = new_client(app)
    sign_in(client, user.email)
    sign_in(phone, user.email)

    client.post("/logout")

    assert not signed_in_on_partner_pages(phone)


def test_password_change_signs_out_the_other_devices_but_not_this_one(app, client, db):
    user = factories.user()
    other = new_client(app)
    sign_in(client, user.email)
    sign_in(other, user.email)

    response = client.post("/account/password", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                                      "confirm": NEW_PASSWORD})

    assert response.status_code == 303
    assert signed_in_on_partner_pages(client)
    assert not signed_in_on_partner_pages(other)
    assert sign_in(new_client(app), user.email, NEW_PASSWORD).status_code == 303
    assert sign_in(new_client(app), user.email, PASSWORD).status_code == 200


def test_password_change_needs_the_current_password(app, client, db):
    user = factories.user()
    sign_in(client, user.email)
    before = fresh(db, user).password_hash

    response = client.post("/account/password", data={"current": WRONG, "password": NEW_PASSWORD,
                                                      "confirm": NEW_PASSWORD})

    assert response.status_code == 200
    assert "Your current password is not right." in response.text
    assert fresh(db, user).password_hash == before
    assert signed_in_on_partner_pages(client)


def test_deactivating_an_account_ends_its_sessions(app, client, db):
    user = factories.user(Role.STAFF)
    admin = factories.user(Role.ADMIN)
    sign_in(client, user.email)
    assert client.get("/staff/").status_code == 200

    accounts.set_active(fresh(db, user), False, actor=admin)
    db.session.commit()

    assert client.get("/staff/").status_code == 302


def test_deactivating_a_structure_ends_its_workers_sessions(app, client, db):
    user = factories.user()
    sign_in(client, user.email)
    assert signed_in_on_partner_pages(client)

    fresh(db, user).organisation.status = OrganisationStatus.DEACTIVATED
    db.session.commit()

    assert not signed_in_on_partner_pages(client)


# --- Passwords ------------------------------------------------------------------------------------

def test_production_hasher_stores_argon2id(app):
    with app.app_context():
        fast = app.config["ARGON2_FAST"]
        app.config["ARGON2_FAST"] = False
        try:
            hashed = passwords.hash_password(NEW_PASSWORD)
            assert passwords.verify(hashed, NEW_PASSWORD)
            assert not passwords.verify(hashed, NEW_PASSWORD + "x")
            assert not passwords.needs_rehash(hashed)
        finally:
            app.config["ARGON2_FAST"] = fast

    assert hashed.startswith("$argon2id$")
    params = dict(part.split("=") for part in hashed.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024 and int(params["t"]) >= 2  # OWASP's floor for Argon2id
    assert NEW_PASSWORD not in hashed


def test_weaker_hash_is_upgraded_at_the_next_sign_in(app, client, db):
    user = factories.user()  # hashed with the fast test parameters
    db.session.commit()
    fast = app.config["ARGON2_FAST"]
    app.config["ARGON2_FAST"] = False
    try:
        assert sign_in(client, user.email).status_code == 303
        upgraded = fresh(db, user).password_hash
        assert upgraded.startswith("$argon2id$") and not passwords.needs_rehash(upgraded)
    finally:
        app.config["ARGON2_FAST"] = fast


def test_password_set_through_a_link_is_stored_as_argon2id(client, db):
    user, token = invited_partner_admin(db)

    client.post(f"/invitation/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    stored = fresh(db, user).password_hash
    assert stored.startswith("$argon2id$") and NEW_PASSWORD not in stored


@pytest.mark.parametrize("password, message", [
    ("short-pass1", "Your password must have at least 12 characters."),
    ("password1234", "This password is too common."),
    ("PassWord1234", "This password is too common."),
    ("aaaaaaaaaaaaaaa", "This password is too common."),
    ("my-lea.martin-2026", "Your password must not contain your e-mail address."),
])
def test_policy_refuses_weak_passwords_without_echoing_them_or_using_the_link(client, db, password, message):
    user, token = invited_partner_admin(db)

    response = client.post(f"/invitation/{token}", data={"password": password, "confirm": password})

    assert response.status_code == 200
    assert message in response.text
    assert password not in response.text
    assert fresh(db, user).password_hash is None
    # The link is not used up by a refused password.
    assert client.get(f"/invitation/{token}").status_code == 200


def test_overlong_password_is_refused_and_not_stored(app, client, db):
    user, token = invited_partner_admin(db)
    overlong = "quiet violet harbour lantern " * 10

    response = client.post(f"/invitation/{token}", data={"password": overlong, "confirm": overlong})

    assert response.status_code == 200 and 'class="error"' in response.text
    assert overlong not in response.text
    assert fresh(db, user).password_hash is None
    with app.test_request_context(), force_locale("en"), pytest.raises(DomainError, match="too long"):
        passwords.check_policy("x" * 200 + "quiet violet harbour lantern" * 3)


def test_policy_accepts_a_long_passphrase():
    passwords.check_policy("quiet violet harbour lantern", email="lea.martin@example.org")


def test_policy_refuses_the_e_mail_local_part_in_any_case():
    with pytest.raises(DomainError):
        passwords.check_policy("Hello-LEA.MARTIN-xyz", email="lea.martin@example.org")


# --- Invitations ----------------------------------------------------------------------------------

def test_admin_invites_a_partner_admin_who_sets_a_password_once(app, client, db, outbox):
    org = factories.organisation(name="CCAS de Metz")
    admin = factories.user(Role.ADMIN)
    sign_in(client, admin.email)

    response = client.post(f"/admin/organisations/{org.id}/invite",
                           data={"name": "Léa Martin", "email": "Lea.Martin@example.org", "role": "partner_admin"})

    assert response.status_code == 303
    invited = db.session.scalar(sa.select(User).where(User.email == "lea.martin@example.org"))
    assert (invited.role, invited.organisation_id, invited.password_hash) == (Role.PARTNER_ADMIN, org.id, None)
    assert len(outbox) == 1 and outbox[0]["To"] == "lea.martin@example.org"
    link = link_path(outbox[0], "invitation")
    # Only a hash of the link's secret is kept.
    secret = link.rsplit("/", 1)[1]
    assert secret not in {t.token_hash for t in db.session.scalars(sa.select(OneTimeToken))}

    client.post("/logout")
    visitor = new_client(app)
    page = visitor.get(link)
    assert page.status_code == 200 and "lea.martin@example.org" in page.text

    mismatch = visitor.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert mismatch.status_code == 200
    assert "The two passwords are not the same." in mismatch.text
    assert fresh(db, invited).password_hash is None

    done = visitor.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert sign_in(visitor, "lea.martin@example.org", NEW_PASSWORD).headers["Location"] == "/partner/"

    again = new_client(app)
    for method in ("get", "post"):
        reuse = getattr(again, method)(link, data={"password": "another long passphrase", "confirm": "another long passphrase"})
        assert reuse.status_code == 410
        assert "This link is not valid any more" in reuse.text
    assert sign_in(new_client(app), "lea.martin@example.org", "another long passphrase").status_code == 200


def test_expired_invitation_link_is_refused_with_410(client, db):
    user, token = invited_partner_admin(db)
    row = db.session.scalar(sa.select(OneTimeToken).where(OneTimeToken.user_id == user.id))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    page = client.get(f"/invitation/{token}")
    post = client.post(f"/invitation/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert page.status_code == post.status_code == 410
    assert "This link is not valid any more" in page.text
    assert fresh(db, user).password_hash is None


def test_invalid_link_page_is_translated(client, db):
    client.set_cookie("lang", "fr")
    page = client.get("/invitation/made-up-token")
    assert page.status_code == 410
    assert '<html lang="fr"' in page.text


def test_made_up_or_wrong_kind_of_link_is_refused(client, db):
    user, token = invited_partner_admin(db)

    assert client.get("/invitation/made-up-token").status_code == 410
    assert client.get(f"/password/reset/{token}").status_code == 410  # an invitation is not a reset link


def test_partner_admin_invites_social_workers_only_to_their_own_structure(db):
    mine, other = factories.organisation(), factories.organisation()
    lead = factories.user(Role.PARTNER_ADMIN, org=mine)

    worker, _ = accounts.invite(email="new.worker@example.org", name="New", role=Role.SOCIAL_WORKER,
                                inviter=lead, organisation=mine)
    assert worker.organisation_id == mine.id

    with pytest.raises(DomainError):
        accounts.invite(email="spy@example.org", name="Spy", role=Role.SOCIAL_WORKER, inviter=lead,
                        organisation=other)
    for role in (Role.PARTNER_ADMIN, Role.STAFF, Role.ADMIN):
        with pytest.raises(DomainError):
            accounts.invite(email=f"{role.value}@example.org", name="X", role=role, inviter=lead, organisation=mine)
    with pytest.raises(DomainError):
        accounts.invite(email="other@example.org", name="X", role=Role.SOCIAL_WORKER,
                        inviter=factories.user(org=mine), organisation=mine)
    assert db.session.scalar(sa.select(User.id).where(User.email == "spy@example.org")) is None


def test_duplicate_address_is_refused_on_the_invitation_form(client, db, outbox):
    org = factories.organisation()
    taken = factories.user(org=org, email="taken@example.org")
    sign_in(client, factories.user(Role.ADMIN).email)
    before = count(db, User)

    response = client.post(f"/admin/organisations/{org.id}/invite",
                           data={"name": "Someone Else", "email": "TAKEN@example.org", "role": "social_worker"})

    assert response.status_code == 422
    assert "An account already exists with this e-mail address." in response.text
    assert 'value="Someone Else"' in response.text
    assert count(db, User) == before and outbox == []


# --- Password reset -------------------------------------------------------------------------------

def _forgot(client, email: str):
    response = client.post("/password/forgot", data={"email": email})
    return response.status_code, response.headers.get("Location"), client.get(response.headers["Location"]).text


@pytest.mark.parametrize("who", ["unknown", "inactive", "invited"])
def test_forgot_password_answers_the_same_whether_or_not_the_address_exists(client, db, outbox, who):
    user = factories.user(email="known@example.org")
    other = {"unknown": "nobody.here@example.org", "inactive": "inactive@example.org",
             "invited": "invited.only@example.org"}[who]
    if who == "inactive":
        factories.user(email=other).active = False
    elif who == "invited":
        accounts.invite(email=other, name="Invited", role=Role.SOCIAL_WORKER, inviter=None,
                        organisation=factories.organisation())
    db.session.commit()
    outbox.clear()  # the invitation itself was delivered at that commit

    known = _forgot(client, user.email)
    assert len(outbox) == 1 and outbox[0]["To"] == "known@example.org"
    not_sent = _forgot(client, other)

    assert known == not_sent
    assert known[0] == 303 and known[1] == "/login"
    assert "If an account exists for this address, we have sent it a link" in known[2]
    assert len(outbox) == 1


def test_reset_link_sets_a_new_password_once_and_signs_out_other_devices(app, client, db, outbox):
    user = factories.user(email="known@example.org")
    db.session.commit()
    laptop = new_client(app)
    sign_in(laptop, user.email)
    client.post("/password/forgot", data={"email": "Known@Example.org"})
    link = link_path(outbox[0], "password/reset")

    page = client.get(link)
    assert page.status_code == 200 and "known@example.org" in page.text
    weak = client.post(link, data={"password": "short", "confirm": "short"})
    assert weak.status_code == 200 and "at least 12 characters" in weak.text
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303

    assert client.get(link).status_code == 410
    assert client.post(link, data={"password": "yet another passphrase", "confirm": "yet another passphrase"}).status_code == 410
    assert not signed_in_on_partner_pages(laptop)
    assert sign_in(new_client(app), user.email, PASSWORD).status_code == 200
    assert sign_in(new_client(app), user.email, NEW_PASSWORD).status_code == 303


def test_expired_reset_link_is_refused(client, db, outbox):
    user = factories.user()
    db.session.commit()
    client.post("/password/forgot", data={"email": user.email})
    link = link_path(outbox[0], "password/reset")
    row = db.session.scalar(sa.select(OneTimeToken).where(OneTimeToken.purpose == TokenPurpose.PASSWORD_RESET))
    assert row.expires_at - row.created_at == timedelta(hours=2)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    assert client.get(link).status_code == 410
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 410
    assert sign_in(client, user.email, PASSWORD).status_code == 303


# --- Forged posts (CSRF) --------------------------------------------------------------------------

@pytest.fixture
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def test_sign_in_post_without_a_token_is_refused_with_the_translated_expired_form_page(app, client, db, csrf_on):
    user = factories.user()
    db.session.commit()
    client.delete_cookie("lang")

    response = client.post("/login", data={"email": user.email, "password": PASSWORD},
                           headers={"Accept-Language": "fr"})

    assert response.status_code == 400
    title = translated(app, "fr", "The form has expired")
    assert title != "The form has expired" and f"<h1>{title}</h1>" in response.text
    assert '<html lang="fr"' in response.text
    assert fresh(db, user).last_login_at is None
    assert not signed_in_on_partner_pages(client)


def test_sign_in_with_the_forms_token_works_when_csrf_is_on(app, client, db, csrf_on):
    user = factories.user()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})

    assert response.status_code == 303


REGISTRATION = {"display_name": "Amina", "birth_year": "1987", "language": "ar", "phone": "06 12 34 56 78",
                "email": "", "ground": "rsa", "justification": ""}


def test_forged_beneficiary_post_is_refused_and_stores_nothing(app, client, db, monkeypatch):
    user = factories.user()
    sign_in(client, user.email)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)

    forged = client.post("/partner/beneficiaries/new", data=REGISTRATION)
    wrong_token = client.post("/partner/beneficiaries/new", data={**REGISTRATION, "csrf_token": "forged"})

    assert forged.status_code == wrong_token.status_code == 400
    assert "The form has expired" in forged.text
    assert count(db, Beneficiary) == 0

    page = client.get("/partner/beneficiaries/new").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    genuine = client.post("/partner/beneficiaries/new", data={**REGISTRATION, "csrf_token": token})
    assert genuine.status_code == 303 and count(db, Beneficiary) == 1


def test_forged_sign_out_does_not_sign_out(app, client, db, monkeypatch):
    user = factories.user()
    sign_in(client, user.email)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)

    assert client.post("/logout").status_code == 400
    assert signed_in_on_partner_pages(client)


def test_setting_a_password_retires_every_other_link_of_the_account(app, db):
    from shop.models import TokenPurpose
    from shop.services import accounts

    user = factories.user()
    first = accounts.request_password_reset(user.email)[1]
    second = accounts.request_password_reset(user.email)[1]
    accounts.use_token(second, TokenPurpose.PASSWORD_RESET, "a brand new long passphrase")
    assert accounts.token_user(first, TokenPurpose.PASSWORD_RESET) is None
