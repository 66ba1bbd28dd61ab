"""What every request pays for: the hooks do their work once, and only where it is needed, with
the same outcome (the limits, headers, languages and session cookie of the other tests)."""

import flask_wtf.i18n
import pytest
from babel import support
from flask import render_template_string
from flask.sessions import SecureCookieSessionInterface
from flask_babel import force_locale

from shop import i18n
from shop.extensions import limiter
from shop.security import CSP


@pytest.fixture(autouse=True)
def limits_on(app, monkeypatch):
    """The limiter is one object per process: a live server started earlier in this worker (the
    browser tests turn limits off) leaves it disabled. These tests are about the limits being on."""
    monkeypatch.setattr(limiter, "enabled", True)


def _count_calls(monkeypatch, owner, name):
    calls = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_the_limiter_looks_for_limits_only_on_views_that_have_some(app, client, db, monkeypatch):
    looked = _count_calls(monkeypatch, limiter.limit_manager, "resolve_limits")
    assert client.get("/reserve").status_code == 200
    assert looked == []  # no limit on this page: nothing was looked for
    client.post("/login", data={"email": "nobody@example.org", "password": "wrong"})
    assert looked  # the sign-in form's own limit is checked by its decorator


def test_a_limited_view_still_sends_its_limit_headers_and_an_unlimited_one_none(app, client, db):
    limiter.reset()
    try:
        signed = client.post("/login", data={"email": "nobody@example.org", "password": "wrong"})
        assert signed.headers["X-RateLimit-Limit"] and signed.headers["X-RateLimit-Remaining"]
        assert "X-RateLimit-Limit" not in client.get("/reserve").headers
    finally:
        limiter.reset()


def test_an_app_wide_limit_brings_the_check_of_every_request_back(app, client, db, monkeypatch):
    looked = _count_calls(monkeypatch, limiter.limit_manager, "resolve_limits")
    monkeypatch.setattr(limiter, "_meta_limits", [[]])  # as if RATELIMIT_META were set
    client.get("/reserve")
    assert looked


def test_a_page_asks_flask_babel_for_its_translations_once(app, client, db, monkeypatch):
    asked = _count_calls(monkeypatch, i18n, "get_translations")
    page = client.get("/reserve", headers={"Accept-Language": "uk"})
    assert page.status_code == 200 and "Мова" in page.get_data(as_text=True)
    assert len(asked) <= 1  # none once the process has seen the language


def test_a_forced_language_inside_a_request_is_still_followed(app):
    template = "{{ _('Language') }}"
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert render_template_string(template) == "Langue"
        with force_locale("uk"):  # a slip printed in the beneficiary's language
            assert render_template_string(template) == "Мова"
        assert render_template_string(template) == "Langue"


def test_wtforms_messages_are_read_from_disk_once_per_language(app, monkeypatch):
    monkeypatch.setattr(i18n, "_wtforms_catalogs", {})
    loads = _count_calls(monkeypatch, support.Translations, "load")
    for _ in range(3):
        with app.test_request_context(headers={"Accept-Language": "uk"}):
            assert flask_wtf.i18n.translations.gettext("This field is required.") == "Це поле є обов'язковим."
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert flask_wtf.i18n.translations.gettext("This field is required.") == "Ce champ est requis."
    assert len(loads) == 2


def test_security_headers_come_once_each_in_order_and_a_view_keeps_its_own(client, db):
    page = client.get("/reserve")
    expected = ["Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Permissions-Policy",
                "Cross-Origin-Opener-Policy"]
    assert [name for name, _ in page.headers.items() if name in expected] == expected
    assert all(len(page.headers.getlist(name)) == 1 for name in expected)
    assert page.headers["Content-Security-Policy"] == CSP
    assert page.headers.getlist("Referrer-Policy") == ["no-referrer"]  # the code form's own
    assert "Strict-Transport-Security" not in page.headers
    secure = client.get("/reserve", base_url="https://localhost")
    assert secure.headers.getlist("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains"]


def test_the_session_cookie_is_flasks_own_and_follows_a_new_secret_key(app, client, db, monkeypatch):
    flasks = SecureCookieSessionInterface()
    name = app.config["SESSION_COOKIE_NAME"]
    with client.session_transaction() as session:
        session["planted"] = "by the shop"
    assert flasks.get_signing_serializer(app).loads(client.get_cookie(name).value) == {"planted": "by the shop"}
    monkeypatch.setattr(app, "secret_key", "another secret key, long enough for the test")
    client.set_cookie(name, flasks.get_signing_serializer(app).dumps({"planted": "signed with the new key"}))
    with client.session_transaction() as session:
        assert session["planted"] == "signed with the new key"
