"""What the shop tells its operator: request ids in logs and headers, /healthz, /readyz, /metrics,
error reports without personal data, a refused configuration in one line."""

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sentry_sdk
import sqlalchemy as sa
from sentry_sdk.transport import Transport

from shop import create_app, health, observe, ratelimits
from shop.extensions import limiter
from shop.models import CronRun, Message, MessageStatus
from shop.models.types import utcnow
from shop.services import cronruns
from tests.test_multiworker import REDIS_SERVER, _free_port, _stop, _wait_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def readiness_forgotten(monkeypatch):
    monkeypatch.setattr(health, "_last_failed", [])


def _all_crons_ran(db, when=None):
    for command in cronruns.SCHEDULE:
        db.session.merge(CronRun(command=command, last_success_at=when or utcnow()))
    db.session.commit()


class _Lines(logging.Handler):
    """The shop's own log format, kept in a list (the root handler writes to stderr)."""

    def __init__(self, formatter):
        super().__init__()
        self.addFilter(observe.RequestIdFilter())
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines():
    handlers = []

    def attach(formatter=None):
        handler = _Lines(formatter or logging.Formatter(observe.TEXT_FORMAT))
        logging.getLogger("shop").addHandler(handler)
        handlers.append(handler)
        return handler.lines

    yield attach
    for handler in handlers:
        logging.getLogger("shop").removeHandler(handler)


def test_every_response_carries_a_request_id_and_a_sane_one_given_is_kept(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz").headers["X-Request-ID"] != generated
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-4f2a9c01"}).headers["X-Request-ID"] == "nginx-4f2a9c01"
    forged = client.get("/healthz", headers={"X-Request-ID": "x INFO fake line \" }"}).headers["X-Request-ID"]
    assert "fake" not in forged and len(forged) == 32


def _a_cron_command_late(db):
    _all_crons_ran(db)
    db.session.merge(CronRun(command="deliver", last_success_at=utcnow() - timedelta(hours=1)))
    db.session.commit()


def test_json_log_lines_carry_time_level_logger_and_the_request_id(client, db, log_lines):
    _a_cron_command_late(db)
    lines = log_lines(observe.JsonFormatter())
    response = client.get("/readyz", headers={"X-Request-ID": "probe-000123"})  # deliver is late: logged
    assert response.status_code == 503
    entry = json.loads(lines[-1])
    assert entry["request_id"] == "probe-000123" == response.headers["X-Request-ID"]
    assert entry["level"] == "WARNING" and entry["logger"] == "shop.health"
    assert entry["time"].endswith("+00:00") and "cron" in entry["message"]


def test_text_log_lines_say_time_level_request_id_and_logger(client, db, log_lines):
    _a_cron_command_late(db)
    lines = log_lines()
    client.get("/readyz", headers={"X-Request-ID": "probe-000456"})
    assert " WARNING [probe-000456] shop.health: Not ready: cron failing" in lines[-1]
    assert lines[-1][:4].isdigit()  # starts with the date


def test_readyz_is_ok_when_everything_is_and_names_a_late_cron_command(client, db):
    _all_crons_ran(db)
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["checks"]["migrations"]["current"] == response.json["checks"]["migrations"]["head"]
    db.session.merge(CronRun(command="purge", last_success_at=utcnow() - timedelta(hours=30)))
    db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["cron"] and response.json["checks"]["cron"]["late"] == ["purge"]


def _migrated_just_now(db):
    """The rows the migration makes on a new installation: every command expected from now."""
    for command in cronruns.SCHEDULE:
        db.session.merge(CronRun(command=command, expected_since=utcnow()))
    db.session.commit()


def test_a_command_is_late_only_once_its_first_run_is_due_and_looking_writes_nothing(client, db):
    _migrated_just_now(db)
    assert client.get("/readyz").status_code == 200  # nothing ran yet, nothing is due yet
    later = utcnow() + timedelta(minutes=6)  # deliver's period (5 minutes) has passed, not the others'
    assert [run["command"] for run in cronruns.status(later) if not run["on_time"]] == ["deliver"]
    db.session.execute(sa.delete(CronRun).where(CronRun.command == "purge"))
    db.session.commit()
    response = client.get("/readyz")  # a command without a row is late; the check made no row
    assert response.status_code == 503 and response.json["checks"]["cron"]["late"] == ["purge"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CronRun)) == len(cronruns.SCHEDULE) - 1


def test_a_command_that_fails_before_it_ever_succeeded_is_late_at_once(app, client, db, monkeypatch):
    from shop.services import retention

    _migrated_just_now(db)
    assert client.get("/readyz").status_code == 200
    monkeypatch.setattr(retention, "purge", lambda: (_ for _ in ()).throw(RuntimeError("disk full")))
    assert app.test_cli_runner().invoke(args=["purge"]).exit_code != 0
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["cron"]["late"] == ["purge"]


def test_readyz_fails_when_migrations_are_behind(client, db):
    _all_crons_ran(db)
    (head,) = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'a3c9e1f40b12'"))
    db.session.commit()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json["failed"] == ["migrations"]
        assert response.json["checks"]["migrations"]["current"] == ["a3c9e1f40b12"]
    finally:
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        db.session.commit()


def test_an_unreachable_database_makes_readyz_and_healthz_503(tmp_path, log_lines):
    lines = log_lines()
    closed = f"postgresql+psycopg://shop:shop@127.0.0.1:{_free_port()}/nowhere?connect_timeout=2"
    app = create_app({"SQLALCHEMY_DATABASE_URI": closed, "TESTING": True})
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "failing"
    assert response.json["failed"] == ["cron", "database", "migrations"]
    assert client.get("/healthz").status_code == 503
    assert any("Not ready: cron, database, migrations failing" in line for line in lines)
    with app.app_context():
        from shop.extensions import db

        db.engine.dispose()


def _start_redis(port: int, tmp_path: Path) -> subprocess.Popen:
    log = tmp_path / f"redis-{port}.log"
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    _wait_for(client.ping, "redis-server", process, log)
    client.close()
    return process


def test_readyz_turns_503_while_redis_is_stopped_and_200_again_after(app, client, db, tmp_path, monkeypatch, log_lines):
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed")
    lines = log_lines()
    _all_crons_ran(db)
    port = _free_port()
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", f"redis://127.0.0.1:{port}/0")
    process = _start_redis(port, tmp_path)
    try:
        assert client.get("/readyz").status_code == 200
        _stop(process)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json["failed"] == ["redis"]
        assert client.get("/readyz").status_code == 503  # logged once, not on every probe
        process = _start_redis(port, tmp_path)
        assert client.get("/readyz").status_code == 200
    finally:
        _stop(process)
    said = [line.split("shop.health: ", 1)[1] for line in lines if "shop.health" in line]
    assert said == ["Not ready: redis failing", "Ready again (was failing: redis)"]


def test_cron_commands_record_their_runs_and_failures(app, db, tmp_path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["expire-holds"]).exit_code == 0
    result = runner.invoke(args=["backup", str(tmp_path / "missing-folder" / "x" / "shop.dump")])
    db.session.expire_all()
    runs = {run["command"]: run for run in cronruns.status()}
    assert runs["expire-holds"]["on_time"] and runs["expire-holds"]["last_seconds"] is not None
    assert runs["purge"]["last_success_at"] is None and not runs["purge"]["on_time"]  # no row: late
    if result.exit_code != 0:  # a backup into a folder that does not exist
        assert runs["backup"]["last_failure_at"] is not None and runs["backup"]["last_error"]
        assert not runs["backup"]["on_time"]
    else:
        assert runs["backup"]["on_time"]


def test_a_failing_cron_command_exits_non_zero_and_is_recorded(app, db, monkeypatch):
    from shop.services import retention

    def broken():
        raise RuntimeError("disk full")

    monkeypatch.setattr(retention, "purge", broken)
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code != 0
    db.session.expire_all()
    row = db.session.get(CronRun, "purge")
    assert row.last_error == "disk full" and row.last_failure_at is not None and row.last_success_at is None


def test_rate_limit_fallback_is_warned_once_then_every_ten_minutes(app, db, monkeypatch, caplog):
    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(limiter.limiter, "hit", unreachable)
    monkeypatch.setattr(ratelimits, "_fallbacks", {"count": 0, "unreported": 0, "last_at": None, "warned": None})
    clock = [1000.0]
    monkeypatch.setattr(ratelimits.time, "monotonic", lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="shop.ratelimits"):
        for _ in range(5):
            assert ratelimits.take("10 per minute", "test-scope", "1.2.3.4")
        clock[0] += ratelimits.WARN_EVERY_SECONDS - 1
        ratelimits.take("10 per minute", "test-scope", "1.2.3.4")
        assert len(caplog.records) == 1
        clock[0] += 1
        ratelimits.take("10 per minute", "test-scope", "1.2.3.4")
    assert len(caplog.records) == 2
    assert "1 attempt(s)" in caplog.records[0].getMessage() and "6 attempt(s)" in caplog.records[1].getMessage()
    assert ratelimits.fallback_stats()["count"] == 7


def test_metrics_need_the_token_and_count_requests_and_queues(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token")
    db.session.add(Message(channel="sms", address="+33600000000", language="fr", template="t", values={},
                           dedupe_key="k1", status=MessageStatus.FAILED))
    db.session.add(Message(channel="sms", address="+33600000000", language="fr", template="t", values={},
                           dedupe_key="k2"))
    db.session.commit()
    client.get("/catalog")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'shop_http_requests_total{endpoint="catalog.index",method="GET",status="200"}' in text
    assert 'shop_http_request_duration_seconds_bucket{endpoint="catalog.index",le="0.5"}' in text
    assert 'shop_outbox_messages{status="failed"} 1.0' in text
    assert 'shop_outbox_messages{status="queued"} 1.0' in text
    assert "shop_database_up 1.0" in text


def test_metrics_are_refused_in_production_without_a_token(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}", "SHOP_ENV": "production",
                      "SECRET_KEY": "p" * 40, "DEBUG": False, "METRICS_TOKEN": ""})
    assert app.test_client().get("/metrics").status_code == 404


def test_metrics_add_up_every_worker_with_a_multiprocess_dir(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}"}
    (tmp_path / "prom").mkdir()
    worker = ("from shop import create_app\n"
              "c = create_app({'TESTING': True}).test_client()\n"
              "for _ in range(3): assert c.get('/healthz').status_code == 200\n"
              "import sys\n"
              "if len(sys.argv) > 1: print(c.get('/metrics').get_data(as_text=True))\n")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    scraped = subprocess.run([sys.executable, "-c", worker, "scrape"], env=env, check=True, timeout=60,
                             capture_output=True, text=True).stdout
    assert 'shop_http_requests_total{endpoint="healthz",method="GET",status="200"} 9.0' in scraped


class _KeptEnvelopes(Transport):
    def __init__(self):
        super().__init__({"dsn": None})
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope.serialize().decode("utf-8", "replace"))


def test_error_reports_leave_out_names_codes_phones_and_emails(tmp_path):
    transport = _KeptEnvelopes()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 's.sqlite3'}", "TESTING": False,
                      "SENTRY_DSN": "https://public@o1.ingest.sentry.invalid/1", "SENTRY_TRANSPORT": transport})

    def reserve_for_someone():
        name = "Amina Haddad"
        phone = "+33 6 12 34 56 78"
        email = "amina.haddad@example.org"
        code = "7Q2M-9XK4-PR3T"
        pickup_code = "482913"
        person = {"called_by": "Amina", "phone_number": "0612345678"}
        raise RuntimeError(f"Could not reserve for {name} ({phone}, {email}, {person['phone_number']}) "
                           f"with code {code} / 7Q2M9XK4PR3T, pickup {pickup_code}")

    app.add_url_rule("/boom", view_func=reserve_for_someone)
    try:
        response = app.test_client().get("/boom?code=7Q2M9XK4PR3T", headers={"Cookie": "session=abc"})
        assert response.status_code == 500
        sentry_sdk.flush()
        sent = "\n".join(transport.envelopes)
        assert "RuntimeError" in sent and "reserve_for_someone" in sent  # the report did go out
        for personal in ("Amina", "Haddad", "12 34 56 78", "0612345678", "amina.haddad", "7Q2M", "9XK4",
                         "PR3T", "482913", "session=abc"):
            assert personal not in sent, personal
    finally:
        sentry_sdk.init()  # no DSN: reports off again for the rest of the suite


def test_a_refused_configuration_is_one_line_for_flask_commands():
    env = {**os.environ, "SHOP_ENV": "production", "SECRET_KEY": "short", "PYTHONPATH": str(ROOT)}
    env.pop("FLASK_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "shop", "expire-holds"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Refused configuration: SECRET_KEY must be set to a long random value in production."]


def test_a_refused_configuration_is_one_line_for_gunicorn(tmp_path):
    env = {**os.environ, "SHOP_ENV": "production", "SECRET_KEY": "short", "PYTHONPATH": str(ROOT)}
    for name in ("FLASK_DEBUG", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"unix:{tmp_path / 'g.sock'}",
         "--logger-class", "shop.accesslog.GunicornLogger", "shop:create_app()"],
        env=env, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    refused = [line for line in result.stderr.splitlines() if "Refused configuration" in line]
    assert len(refused) == 1, result.stderr
    assert "SECRET_KEY must be set" in refused[0]


def test_a_refused_configuration_stops_gunicorn_workers_without_a_traceback_too(tmp_path):
    """Without the shop's logger class each worker says it in one line, and gunicorn stops."""
    env = {**os.environ, "SHOP_ENV": "production", "SECRET_KEY": "short", "PYTHONPATH": str(ROOT)}
    for name in ("FLASK_DEBUG", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"unix:{tmp_path / 'g.sock'}", "shop:create_app()"],
        env=env, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Refused configuration: SECRET_KEY must be set" in result.stderr


def test_the_admin_system_page_shows_version_database_redis_cron_and_failures(app, client, db):
    from shop.models import Role
    from tests import factories

    db.session.add(Message(channel="sms", address="+33600000000", language="fr", template="t", values={},
                           dedupe_key="k1", status=MessageStatus.FAILED))
    db.session.merge(CronRun(command="expire-holds", last_success_at=utcnow()))
    db.session.merge(CronRun(command="backup", last_failure_at=utcnow(), last_error="pg_dump: connection refused"))
    db.session.merge(CronRun(command="purge", expected_since=utcnow() - timedelta(hours=1)))  # not due yet
    admin = factories.user(Role.ADMIN)  # "deliver" has no row: late
    db.session.commit()
    factories.sign_in(client, admin.email)
    page = client.get("/admin/system", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Reachable" in html and "Up to date" in html
    assert "Not configured: each worker counts rate limits on its own." in html
    assert "pg_dump: connection refused" in html and "Never" in html
    assert html.count("On time") == 2 and html.count("Late") == 2
    assert ">1</bdi></a>" in html  # one failed message, linked to the messages page
    french = client.get("/admin/system", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Système" in french


def test_only_admins_see_the_system_page(client, db):
    from shop.models import Role
    from tests import factories

    staff = factories.user(Role.STAFF)
    db.session.commit()
    assert client.get("/admin/system").status_code in (302, 303)
    factories.sign_in(client, staff.email)
    assert client.get("/admin/system").status_code == 403
