"""Two-step sign-in: staff and admins must set it up and use it; social workers may; codes work
once, recovery codes once; attempts are limited; an admin can reset it."""

import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from shop.models import AuditEntry, RecoveryCode, Role, User
from shop.services import twofactor
from shop.services.errors import DomainError
from tests import factories

PASSWORD = factories.PASSWORD


@pytest.fixture
def client(client):
    client.set_cookie("lang", "en")
    return client


def reload(db, user):
    db.session.expire_all()
    return db.session.get(User, user.id)


def post_password(client, user, **extra):
    return client.post("/login", data={"email": user.email, "password": PASSWORD}, **extra)


def code_at(user, offset_steps: int = 0) -> str:
    return twofactor.current_code(user, time.time() + offset_steps * 30)


def actions(db) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def enrolment_secret(html: str) -> str:
    found = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', html)
    assert found, "the set-up page shows the key as text"
    return found.group(1).replace(" ", "")


# --- Enrolment ------------------------------------------------------------------------------------

def test_staff_without_two_factor_is_sent_to_set_it_up_and_reaches_nothing_else(client, db):
    staff = factories.user(Role.STAFF, two_factor=False)

    response = post_password(client, staff)

    assert response.status_code == 303 and response.headers["Location"] == "/account/two-factor/setup"
    staff_pages = [rule.rule for rule in client.application.url_map.iter_rules()
                   if rule.endpoint.startswith("staff.") and "GET" in rule.methods and not rule.arguments]
    assert len(staff_pages) >= 3
    for path in staff_pages + ["/account/password", "/account/two-factor", "/admin/", "/partner/"]:
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"] == "/account/two-factor/setup", path
    page = client.get("/account/two-factor/setup")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    assert "<svg" in page.text and 'class="qr"' in page.text
    # Reloading the page keeps the same key (it may already be typed into an app).
    assert enrolment_secret(client.get("/account/two-factor/setup").text) == enrolment_secret(page.text)


def test_enrolment_with_a_right_code_signs_in_and_shows_ten_recovery_codes_once(client, db):
    staff = factories.user(Role.STAFF, two_factor=False)
    post_password(client, staff)
    secret = enrolment_secret(client.get("/account/two-factor/setup").text)

    wrong = client.post("/account/two-factor/setup", data={"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert wrong.status_code == 200 and "This code is not right" in wrong.text
    assert client.get("/staff/").status_code == 302

    done = client.post("/account/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})

    assert done.status_code == 200 and "no-store" in done.headers["Cache-Control"]
    shown = re.findall(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>", done.text)
    assert len(shown) == 10 and len(set(shown)) == 10
    assert client.get("/staff/").status_code == 200
    staff = reload(db, staff)
    assert staff.has_two_factor
    # Neither the secret nor the recovery codes are stored in clear.
    assert secret not in staff.totp_secret
    stored = set(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    assert len(stored) == 10 and not stored & set(shown)
    assert "user.two_factor_enable" in actions(db)


def test_enrolment_page_without_a_right_password_goes_to_sign_in(client, db):
    response = client.get("/account/two-factor/setup")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_staff_session_from_before_enrolment_is_sent_to_set_it_up(client, db):
    staff = factories.user(Role.STAFF, two_factor=False)
    with client.session_transaction() as session:  # signed in before two-step sign-in was required
        session["_user_id"] = staff.session_token
        session["_fresh"] = True

    response = client.get("/staff/")

    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor/setup"


# --- Signing in with a code -----------------------------------------------------------------------

def test_password_alone_does_not_sign_in_an_enrolled_account(client, db):
    admin = factories.user(Role.ADMIN)

    response = post_password(client, admin)

    assert response.headers["Location"] == "/login/code"
    assert client.get("/admin/").headers["Location"] == "/login/code"
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_sign_in_with_the_code_of_now_or_the_next_or_previous_step(client, db, app):
    admin = factories.user(Role.ADMIN)
    for offset in (-1, 0, 1):
        other = app.test_client()
        post_password(other, admin)
        response = other.post("/login/code", data={"code": code_at(admin, offset)})
        assert response.status_code == 303 and response.headers["Location"] == "/admin/", offset
        assert other.get("/admin/").status_code == 200
    assert actions(db).count("user.second_factor") == 3


def test_a_wrong_code_or_one_two_steps_away_is_refused(client, db):
    admin = factories.user(Role.ADMIN)
    post_password(client, admin)

    for code in (code_at(admin, 2), code_at(admin, -2), "12345", "abc"):
        response = client.post("/login/code", data={"code": code})
        assert response.status_code == 200 and "This code is not right" in response.text, code
    assert client.get("/admin/").status_code == 302
    assert "user.second_factor_refused" in actions(db)


def test_the_same_code_cannot_be_used_twice(client, db, app):
    admin = factories.user(Role.ADMIN)
    code = code_at(admin)
    post_password(client, admin)
    assert client.post("/login/code", data={"code": code}).status_code == 303

    thief = app.test_client()
    thief.set_cookie("lang", "en")
    post_password(thief, admin)
    replayed = thief.post("/login/code", data={"code": code})

    assert replayed.status_code == 200 and "already used" in replayed.text
    assert thief.get("/admin/").status_code == 302
    # An older code than the last one used is refused too.
    with pytest.raises(DomainError):
        twofactor.verify(reload(db, admin), code_at(admin, -1))


def test_a_recovery_code_works_once(client, db, app):
    staff = factories.user(Role.STAFF, two_factor=False)
    recovery = factories.enrol_two_factor(staff)
    db.session.commit()

    post_password(client, staff)
    used = client.post("/login/code", data={"code": recovery[0].upper().replace("-", " ")})
    assert used.status_code == 303 and client.get("/staff/").status_code == 200

    again = app.test_client()
    post_password(again, staff)
    refused = again.post("/login/code", data={"code": recovery[0]})
    assert refused.status_code == 200 and again.get("/staff/").status_code == 302
    assert twofactor.recovery_codes_left(reload(db, staff)) == 9
    assert "user.recovery_code_used" in actions(db)


def test_the_pending_step_runs_out(client, db, monkeypatch):
    admin = factories.user(Role.ADMIN)
    post_password(client, admin)
    later = time.time() + 11 * 60
    monkeypatch.setattr(time, "time", lambda: later)

    response = client.post("/login/code", data={"code": twofactor.current_code(admin, later)})

    assert response.status_code == 303 and response.headers["Location"] == "/login"


def test_code_attempts_are_limited_per_account(client, db, app):
    admin = factories.user(Role.ADMIN)
    post_password(client, admin)
    for _ in range(5):
        assert client.post("/login/code", data={"code": "000001"}).status_code == 200
    assert client.post("/login/code", data={"code": code_at(admin)}).status_code == 429
    # From another address and a fresh session, the same account is still blocked.
    other = app.test_client()
    post_password(other, admin, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    blocked = other.post("/login/code", data={"code": code_at(admin)}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert blocked.status_code == 429


# --- Social workers, account page, admin reset ----------------------------------------------------

def test_social_worker_signs_in_without_it_and_may_turn_it_on_and_off(client, db, app):
    worker = factories.user(Role.SOCIAL_WORKER)
    assert factories.sign_in(client, worker.email).headers["Location"] == "/partner/"
    assert "Two-step sign-in is off" in client.get("/account/two-factor").text

    secret = enrolment_secret(client.get("/account/two-factor/setup").text)
    assert client.post("/account/two-factor/setup", data={"code": pyotp.TOTP(secret).now()}).status_code == 200
    assert reload(db, worker).has_two_factor

    other = app.test_client()
    assert post_password(other, worker).headers["Location"] == "/login/code"

    worker = reload(db, worker)
    worker.totp_last_step = None
    db.session.commit()
    off = client.post("/account/two-factor/disable", data={"disable-code": code_at(worker)})
    assert off.status_code == 303
    assert not reload(db, worker).has_two_factor
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    assert post_password(app.test_client(), worker).headers["Location"] == "/partner/"


def test_staff_cannot_turn_it_off_but_can_renew_recovery_codes(client, db):
    staff = factories.user(Role.STAFF)
    factories.sign_in(client, staff.email)

    refused = client.post("/account/two-factor/disable", data={"disable-code": code_at(staff, 1)})
    assert refused.status_code == 422 and reload(db, staff).has_two_factor

    old = set(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    renewed = client.post("/account/two-factor/recovery-codes", data={"renew-code": code_at(staff, 1)})
    assert renewed.status_code == 200
    assert len(re.findall(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>", renewed.text)) == 10
    assert not old & set(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    assert "user.recovery_codes_renew" in actions(db)


def test_admin_resets_someones_two_factor_who_then_sets_it_up_again(client, db, app):
    admin, staff = factories.user(Role.ADMIN), factories.user(Role.STAFF)
    counter = app.test_client()
    factories.sign_in(counter, staff.email)
    factories.sign_in(client, admin.email)

    response = client.post(f"/admin/accounts/{staff.id}/two-factor/reset")

    assert response.status_code == 303
    staff = reload(db, staff)
    assert not staff.has_two_factor and staff.totp_secret is None
    assert counter.get("/staff/").status_code == 302  # signed out everywhere
    assert post_password(app.test_client(), staff).headers["Location"] == "/account/two-factor/setup"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.two_factor_reset"))
    assert (entry.actor_id, entry.target_id) == (admin.id, staff.id)


def test_an_admin_cannot_reset_their_own_second_factor_nor_one_never_set_up(db):
    admin, worker = factories.user(Role.ADMIN), factories.user(Role.SOCIAL_WORKER)
    token = worker.session_token
    with pytest.raises(DomainError):
        twofactor.reset(admin, actor=admin)
    with pytest.raises(DomainError):
        twofactor.reset(worker, actor=admin)
    assert admin.has_two_factor and worker.session_token == token


def test_a_changed_secret_key_makes_the_secret_unreadable_not_wrong(db, app):
    admin = factories.user(Role.ADMIN)
    key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "another key entirely, at least 32 characters long"
    try:
        with pytest.raises(DomainError, match="reset"):
            twofactor.verify(admin, "123456")
    finally:
        app.config["SECRET_KEY"] = key


# --- Demo command ---------------------------------------------------------------------------------

def test_totp_code_command_prints_the_code_in_development_only(app, db):
    admin = factories.user(Role.ADMIN, email="boss@example.org")
    db.session.commit()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["totp-code", "boss@example.org"])
    assert result.exit_code == 0 and result.output.strip() in {code_at(admin, o) for o in (0, 1)}

    app.config["SHOP_ENV"] = "production"
    try:
        refused = runner.invoke(args=["totp-code", "boss@example.org"])
    finally:
        app.config["SHOP_ENV"] = "development"
    assert refused.exit_code != 0 and not re.search(r"\b\d{6}\b", refused.output)


def test_production_refuses_a_configuration_without_two_factor_for_staff():
    from shop.config import ConfigError, check

    with pytest.raises(ConfigError):
        check({"SHOP_ENV": "production", "SECRET_KEY": "x" * 40, "TWO_FACTOR_REQUIRED_ROLES": ("admin",)})


# --- At the same moment -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_the_same_code_typed_at_once_on_several_devices_is_accepted_once(app, db, kind):
    import threading

    admin = factories.user(Role.ADMIN, two_factor=False)
    recovery = factories.enrol_two_factor(admin)
    code = code_at(admin) if kind == "totp" else recovery[0]
    admin_id = admin.id
    db.session.commit()
    barrier = threading.Barrier(5, timeout=30)
    results = []

    def attempt():
        from shop.extensions import db as _db

        with app.app_context():
            user = _db.session.get(User, admin_id)
            _db.session.commit()  # end the read transaction: on SQLite it holds the write lock
            barrier.wait()
            try:
                results.append(twofactor.verify(user, code))
                _db.session.commit()
            except DomainError:
                _db.session.rollback()
                results.append("refused")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(["refused"] * 4 + [kind])


# --- Who may set it up: a link to the mailbox, or a window granted by someone trusted -------------

NEW_PASSWORD = "a long and new passphrase 2026"


def test_the_password_alone_cannot_set_up_the_second_factor_of_an_account_without_a_window(client, db):
    """Else whoever learnt the password could put the account on their own phone."""
    staff = factories.user(Role.STAFF, two_factor=False, enrol_window=False)
    response = post_password(client, staff)
    assert response.status_code == 200
    assert "Two-step sign-in is not set up for this account yet" in response.text
    assert "Forgot your password?" in response.text
    setup = client.get("/account/two-factor/setup")
    assert setup.status_code == 302 and setup.headers["Location"].startswith("/login")
    assert client.post("/account/two-factor/setup", data={"code": "123456"}).status_code == 302
    staff = reload(db, staff)
    assert staff.totp_secret is None and staff.last_login_at is None
    assert "user.sign_in" not in actions(db)


def test_a_window_that_ran_out_no_longer_lets_the_password_set_it_up(client, db):
    from datetime import timedelta

    from shop.models.types import utcnow

    staff = factories.user(Role.STAFF, two_factor=False)
    staff.enrol_until = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert "Two-step sign-in is not set up for this account yet" in post_password(client, staff).text


@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_an_invitation_leads_straight_to_setting_it_up_then_in(app, client, db, role):
    from shop.services import accounts

    user, token = accounts.invite(email="new.colleague@example.org", name="New colleague", role=role,
                                  inviter=factories.user(Role.ADMIN), organisation=None)
    db.session.commit()
    response = client.post(f"/invitation/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/account/two-factor/setup"
    page = client.get("/account/two-factor/setup")
    assert page.status_code == 200 and "Now set up two-step sign-in" in page.text
    secret = enrolment_secret(page.text)
    done = client.post("/account/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and len(re.findall(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>", done.text)) == 10
    user = reload(db, user)
    assert user.has_two_factor and user.enrol_until is None
    assert client.get("/staff/" if role == Role.STAFF else "/admin/").status_code == 200


def test_a_password_reset_link_also_leads_to_setting_it_up(client, db):
    from shop.services import accounts

    staff = factories.user(Role.STAFF, two_factor=False, enrol_window=False)
    _, token = accounts.request_password_reset(staff.email)
    db.session.commit()
    response = client.post(f"/password/reset/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/account/two-factor/setup"
    assert client.get("/account/two-factor/setup").status_code == 200


def test_a_social_worker_invited_signs_in_as_before(client, db):
    from shop.services import accounts

    _, token = accounts.invite(email="worker@example.org", name="Worker", role=Role.SOCIAL_WORKER,
                               inviter=None, organisation=factories.organisation())
    db.session.commit()
    response = client.post(f"/invitation/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login"


def test_create_user_and_an_admin_reset_grant_a_window_to_set_it_up_at_sign_in(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--email", "first.admin@example.org", "--name", "First",
                                 "--role", "admin", "--password", NEW_PASSWORD], input=None)
    assert result.exit_code == 0, result.output
    assert "set it up at the first sign-in, within 3 days" in result.output
    first = db.session.scalar(sa.select(User).where(User.email == "first.admin@example.org"))
    assert twofactor.may_enrol_at_sign_in(first)
    staff = factories.user(Role.STAFF)
    assert staff.enrol_until is None
    twofactor.reset(staff, actor=factories.user(Role.ADMIN))
    assert twofactor.may_enrol_at_sign_in(staff)
