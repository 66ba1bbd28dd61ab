import pytest
from sqlalchemy.exc import OperationalError

from shop import create_app
from shop.config import ConfigError


def test_production_refuses_the_default_secret_key(monkeypatch):
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app()


def test_production_refuses_debug(monkeypatch):
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError):
        create_app()


def test_production_starts_with_a_real_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_reports_a_database_failure(client, db, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503


def test_readyz_reports_a_database_failure(client, db, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json["failed"]


def test_security_headers_are_sent(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


def test_unexpected_error_shows_a_friendly_page_without_a_trace(app, client, monkeypatch):
    from shop.services import catalog

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(catalog, "category_counts", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.get("/", headers={"Accept-Language": "fr"})
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert 'lang="fr"' in response.text


def test_static_files_are_cached_for_long(client):
    page = client.get("/").text
    assert "/static/style.css?v=" in page
    response = client.get("/static/style.css")
    assert response.cache_control.max_age >= 86400
    response.close()


def test_the_stylesheet_has_balanced_braces():
    """One missing `}` silently swallows every rule after it (a merge once dropped one)."""
    from pathlib import Path

    depth = 0
    for number, line in enumerate((Path(__file__).parent.parent / "shop/static/style.css").read_text().splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"line {number}: a `}}` closes nothing"
    assert depth == 0, "a block of style.css is never closed"
