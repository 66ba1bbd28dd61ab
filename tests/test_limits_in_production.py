"""Rate limits hold in production: the code-entry limit is exact under parallel guesses (counted
before checking, atomically), production refuses per-worker counters with several workers, and
refuses trusting X-Forwarded-For when gunicorn can be reached from outside."""

import threading

import pytest

from shop import config
from shop.extensions import db as _db
from shop.services import codes

LIMIT = 10
GUESSES = 40


def test_parallel_guesses_get_exactly_the_limit_through(app, db):
    barrier = threading.Barrier(GUESSES, timeout=30)
    statuses, lock = [], threading.Lock()

    def guess():
        with app.app_context():  # each guess a request of its own, from the same address
            client = app.test_client()
            barrier.wait()
            status = client.post("/reserve", data={"code": codes.generate()}).status_code
            _db.session.remove()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess) for _ in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses.count(422) == LIMIT, statuses  # looked up, and refused as unknown
    assert statuses.count(429) == GUESSES - LIMIT, statuses


def test_a_typo_caught_by_the_check_symbol_is_not_counted(client):
    good = codes.generate()  # the typo changes this code's own check symbol (two codes: 1 in 32 was valid)
    typo = good[:-1] + ("0" if good[-1] != "0" else "1")
    own = {"REMOTE_ADDR": "192.0.2.77"}  # an address of its own: no other test's guesses count here
    for _ in range(LIMIT + 2):
        client.post("/reserve", data={"code": typo}, environ_base=own)
    assert client.post("/reserve", data={"code": codes.generate()}, environ_base=own).status_code == 422


@pytest.fixture
def production(monkeypatch):
    """The production settings, as the environment would give them, in a clean process."""
    for name in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "PORT", "STRIPE_API_BASE", "RATELIMIT_STORAGE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "p" * 40)
    monkeypatch.setattr("sys.argv", ["gunicorn", "shop:create_app()"])

    def settings(argv=None, **environ):
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        if argv is not None:
            monkeypatch.setattr("sys.argv", argv)
        return config.load()

    return settings


@pytest.mark.parametrize("argv, environ", [
    (["gunicorn", "--workers", "4", "shop:create_app()"], {}),
    (["gunicorn", "-w4", "shop:create_app()"], {}),
    (["/srv/shop/.venv/lib/python3.11/site-packages/gunicorn/__main__.py", "--workers=2", "shop:create_app()"], {}),
    (["gunicorn", "shop:create_app()"], {"WEB_CONCURRENCY": "3"}),
    (["gunicorn", "shop:create_app()"], {"GUNICORN_CMD_ARGS": "--workers 2"}),
    (["gunicorn", "-c", "/etc/shop/gunicorn.conf.py", "shop:create_app()"], {}),  # count unknown
], ids=["--workers", "-w", "python -m gunicorn", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "config file"])
def test_production_refuses_per_worker_counters_with_several_workers(production, argv, environ):
    settings = production(argv, **environ)
    with pytest.raises(config.ConfigError, match="RATELIMIT_STORAGE_URI is memory://"):
        config.check(settings)


@pytest.mark.parametrize("argv, environ", [
    (["gunicorn", "shop:create_app()"], {}),  # gunicorn's default: one worker
    (["gunicorn", "--workers", "1", "shop:create_app()"], {}),
    (["gunicorn", "-c", "/etc/shop/gunicorn.conf.py", "shop:create_app()"], {"WEB_CONCURRENCY": "1"}),
    (["gunicorn", "--workers", "8", "shop:create_app()"], {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}),
    (["flask", "purge"], {}),
], ids=["default", "one worker", "said by WEB_CONCURRENCY", "shared Redis", "a command"])
def test_production_starts_with_shared_counters_or_one_worker(production, argv, environ):
    config.check(production(argv, **environ))


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", "192.0.2.10:8000", "[::]:8000", "shop.example.org:8000"])
def test_production_behind_a_proxy_refuses_an_address_reachable_from_outside(production, bind):
    settings = production(["gunicorn", "--bind", bind, "shop:create_app()"], PROXY_FIX="1")
    with pytest.raises(config.ConfigError, match="PROXY_FIX is on but gunicorn listens on"):
        config.check(settings)


def test_gunicorn_on_port_from_the_environment_listens_everywhere(production):
    settings = production(["gunicorn", "shop:create_app()"], PROXY_FIX="1", PORT="8000")
    with pytest.raises(config.ConfigError, match="0.0.0.0:8000"):
        config.check(settings)


@pytest.mark.parametrize("bind", ["unix:/run/shop/gunicorn.sock", "127.0.0.1:8000", "[::1]:8000", "localhost:8000",
                                  "fd://3"])
def test_production_behind_a_proxy_starts_on_a_local_socket_or_address(production, bind):
    config.check(production(["gunicorn", "--bind", bind, "shop:create_app()"], PROXY_FIX="1"))


def test_without_a_proxy_any_address_may_be_bound(production):
    config.check(production(["gunicorn", "--bind", "0.0.0.0:8000", "shop:create_app()"]))


def test_the_stripe_api_base_is_refused_in_production(production):
    settings = production(STRIPE_API_BASE="http://127.0.0.1:12111")
    with pytest.raises(config.ConfigError, match="STRIPE_API_BASE"):
        config.check(settings)
