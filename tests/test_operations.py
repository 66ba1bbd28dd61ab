"""Running the shop: backups, HTTPS headers, idle sessions."""

import sqlite3
import time

import pytest

from shop.models import Device
from tests import factories


def test_backup_makes_a_copy_that_restores_the_shop(app, db, tmp_path):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite online backup; PostgreSQL uses pg_dump, documented in docs/DEPLOY.md")
    device = factories.device(serial_number="BACKUP-1")
    db.session.commit()
    target = tmp_path / "copy.sqlite3"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    restored = sqlite3.connect(target)
    try:
        assert restored.execute("SELECT status FROM devices WHERE serial_number = 'BACKUP-1'").fetchone() == ("listed",)
        assert restored.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        restored.close()
    assert db.session.get(Device, device.id) is not None


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://shop.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_signed_in_session_idles_out(app, client, db, monkeypatch):
    worker = factories.user()
    db.session.commit()
    client.post("/login", data={"email": worker.email, "password": "correct horse battery staple"})
    assert client.get("/partner/").status_code == 200
    later = time.time() + app.config["SESSION_IDLE_MINUTES"] * 60 + 5
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.get("/partner/", headers={"Accept-Language": "en"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "signed out after a while without activity" in client.get("/login", headers={"Accept-Language": "en"}).text


def test_production_cookies_are_secure(monkeypatch, tmp_path):
    from shop import create_app

    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
