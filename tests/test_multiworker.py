"""Several gunicorn workers sharing one Redis: the sign-in rate limit holds across them.

A private redis-server and `gunicorn --workers 2` are started on free ports, on the test
database (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set). Sign-in attempts are sent
concurrently on fresh connections, so both workers answer some of them (checked from the
worker pid in gunicorn's access log); exactly as many attempts as the limit allows get through.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests import factories
from tests.test_access_matrix import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
LIMIT = 10  # the default sign-in limit: 10 per minute per address
ATTEMPTS = 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop a process this test started (and its children: its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=15)


def _wait_for(check, what: str, process: subprocess.Popen, log: Path | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited early: {log.read_text()[-3000:] if log else ''}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001  (not listening yet: connection refused, in any library's words)
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not start in {timeout}s: {log.read_text()[-3000:] if log else ''}")


@pytest.fixture
def redis_url(tmp_path):
    if not os.path.exists(REDIS_SERVER):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("redis-server is missing (apt-get install -y redis-server): required under CI")
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    import redis

    port = _free_port()
    log = tmp_path / "redis.log"
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        _wait_for(client.ping, "redis-server", process, log)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


@pytest.fixture
def gunicorn(app, db, redis_url, tmp_path):
    """`gunicorn --workers 2` on the test database, counting sign-ins in the private Redis."""
    port = _free_port()
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATELIMIT_STORAGE_URI": redis_url,
        "SECRET_KEY": "multiworker-test-" + "x" * 32,
        "SHOP_ENV": "development",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("FLASK_DEBUG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", str(access_log), "--access-logformat", '%(p)s %(s)s "%(r)s"',
         "--error-logfile", str(error_log), "--timeout", "60", "shop:create_app({'ARGON2_FAST': True})"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: urllib.request.urlopen(base + "/healthz", timeout=5).status == 200, "gunicorn",
                  process, error_log)
        yield base, access_log
    finally:
        _stop(process)


def _attempt(base: str, email: str) -> int:
    """One sign-in attempt as a browser makes it: open the form (token, cookie), then post."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    headers = {"Connection": "close"}
    page = opener.open(urllib.request.Request(base + "/login", headers=headers), timeout=30).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "email": email, "password": "wrong " + PASSWORD})
    request = urllib.request.Request(base + "/login", data=body.encode(), headers=headers, method="POST")
    try:
        return opener.open(request, timeout=30).status
    except urllib.error.HTTPError as error:
        return error.code


def _hold_a_worker(base: str) -> socket.socket:
    """Open a request and leave it unfinished: the sync worker that accepted it waits on it,
    so every other connection goes to the other worker until `_release` finishes it."""
    host, port = base.removeprefix("http://").split(":")
    held = socket.create_connection((host, int(port)), timeout=30)
    held.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
    time.sleep(0.5)  # let a worker accept it
    return held


def _release(held: socket.socket) -> None:
    held.sendall(b"Connection: close\r\n\r\n")
    held.recv(4096)
    held.close()


@pytest.mark.slow
def test_the_sign_in_limit_holds_across_two_workers_sharing_redis(db, gunicorn):
    """Half the attempts while one worker is held (so the other answers them all), then half
    while the other is held: both workers answer, and together they let exactly LIMIT through."""
    base, access_log = gunicorn
    email = factories.user().email
    db.session.commit()
    statuses = []
    first = _hold_a_worker(base)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses += pool.map(lambda _: _attempt(base, email), range(ATTEMPTS // 2))
        second = _hold_a_worker(base)  # the worker that answered is free: it takes this one
        _release(first)
        statuses += pool.map(lambda _: _attempt(base, email), range(ATTEMPTS - ATTEMPTS // 2))
        _release(second)
    assert statuses.count(200) == LIMIT, statuses  # refused sign-ins shown again: the limit's worth
    assert statuses.count(429) == ATTEMPTS - LIMIT, statuses
    time.sleep(0.5)  # let the workers flush their access logs
    posts = [line.split()[0] for line in access_log.read_text().splitlines() if '"POST /login' in line]
    assert len(posts) == ATTEMPTS
    first_half, second_half = set(posts[:ATTEMPTS // 2]), set(posts[ATTEMPTS // 2:])
    assert len(first_half) == len(second_half) == 1 and first_half != second_half, (first_half, second_half)


REDIS_DOWN = r"""
import sys
from shop import create_app

app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1], "RATELIMIT_STORAGE_URI": sys.argv[2],
                  "WTF_CSRF_ENABLED": False, "PROPAGATE_EXCEPTIONS": False})
client = app.test_client()
print(*[client.post("/password/forgot", data={"email": "nobody"}).status_code for _ in range(7)])
"""


def test_limits_still_apply_without_a_500_when_redis_is_down(tmp_path):
    """Redis unreachable: each worker counts in memory meanwhile; nobody gets a server error.
    (In a process of its own: the limiter extension is shared by every app of a process.)"""
    done = subprocess.run(
        [sys.executable, "-c", REDIS_DOWN, f"sqlite:///{tmp_path / 'down.sqlite3'}",
         f"redis://127.0.0.1:{_free_port()}/0"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # "5 per 15 minutes" on the reset form, counted in memory while Redis is away.
    assert done.stdout.split() == ["303"] * 5 + ["429"] * 2, done.stdout + done.stderr[-2000:]



PARALLEL_GUESSES = r"""
import sys, threading
import flask_migrate
from shop import create_app
from shop.services import codes

app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1], "RATELIMIT_STORAGE_URI": sys.argv[2],
                  "WTF_CSRF_ENABLED": False, "PROPAGATE_EXCEPTIONS": False})
with app.app_context():
    flask_migrate.upgrade()
gate, statuses = threading.Barrier(40, timeout=60), []

def guess():
    client = app.test_client()
    gate.wait()
    statuses.append(client.post("/reserve", data={"code": codes.generate()}).status_code)

threads = [threading.Thread(target=guess) for _ in range(40)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(statuses.count(422), statuses.count(429))
"""


def test_parallel_code_guesses_counted_in_redis_get_exactly_the_limit_through(tmp_path, redis_url):
    """40 guesses at once, counted in a shared Redis: exactly the limit (10) is looked up.
    (In a process of its own: the limiter extension is shared by every app of a process.)"""
    done = subprocess.run(
        [sys.executable, "-c", PARALLEL_GUESSES, f"sqlite:///{tmp_path / 'guesses.sqlite3'}", redis_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["10", "30"], done.stdout + done.stderr[-2000:]
