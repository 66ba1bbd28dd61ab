"""Browser fixtures: a live server on its own seeded database, Debian's Chromium, and axe-core.

The live server never shares the database of the `app` fixture in tests/conftest.py: that one
recreates the schema and empties tables between tests, which would pull the floor from under a
server running in another thread. Here the server gets its own SQLite file, built by the
migrations and loaded with the demo data once per session.
"""

import os
import threading
from pathlib import Path

import flask_migrate
import pytest
from werkzeug.serving import make_server

import axe_playwright_python
from shop import create_app
from shop.extensions import db
from shop.models import Category
from shop.services import catalog

CHROMIUM = "/usr/bin/chromium"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_SCRIPT = Path(axe_playwright_python.__file__).with_name("axe.min.js")


def chromium_missing_reason() -> str | None:
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return None
    return f"{CHROMIUM} not found: install Debian's `chromium` package to run the browser tests."


@pytest.fixture(autouse=True, scope="session")
def _chromium_available():
    """No browser: skip on a laptop, but fail loudly in CI, where a skip would hide a gap."""
    reason = chromium_missing_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(pytestconfig):
    return {
        "executable_path": CHROMIUM,
        "headless": not pytestconfig.getoption("--headed"),
        "args": [
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-gpu",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A French-speaking browser, as most visitors have; tests pick other languages explicitly."""
    return {**browser_context_args, "locale": "fr-FR"}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The shop on its own SQLite file: migrated, seeded with the demo data, real CSRF."""
    path = tmp_path_factory.mktemp("live") / "live.sqlite3"
    app = create_app(
        {
            "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
            "SMS_FOLDER": str(tmp_path_factory.mktemp("sms")),  # the dev SMS backend's one file a text
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        from shop.demo import seed_demo

        seed_demo()
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    """Base URL of the shop served by a real HTTP server in a daemon thread."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def base_url(live_server):
    """Lets pages and contexts use relative URLs: page.goto("/catalog")."""
    return live_server


@pytest.fixture
def offer_path(live_app) -> str:
    """The path of a laptop offer on sale now: the one with the most units, since other browser
    tests reserve devices from the same shared server."""
    with live_app.app_context():
        page = catalog.list_offers(catalog.OfferFilters(category=Category.LAPTOP), per_page=50)
        db.session.remove()
    assert page.offers, "the demo data has no laptop on sale"
    return f"/offer/{max(page.offers, key=lambda o: o.count).offer_key}"


@pytest.fixture(scope="session")
def axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def axe(axe_source):
    """`axe(page)` runs axe-core's WCAG 2.1 A/AA rules on the page and returns the violations.

    The page's Content-Security-Policy forbids inline scripts, so the page must belong to a
    context made with bypass_csp=True (see `new_axe_context`).
    """

    def run(page) -> list[dict]:
        # A click that follows a link returns once the next page has started loading: its
        # document may not have a <head> yet to take the script.
        page.wait_for_load_state("load")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(content=axe_source)
        results = page.evaluate(
            "options => axe.run(document, options)",
            {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
        )
        return results["violations"]

    return run


@pytest.fixture(scope="session")
def new_axe_context(browser, base_url):
    """Build contexts in which axe can be injected; closed at the end of the session."""
    contexts = []

    def make(**kwargs):
        context = browser.new_context(base_url=base_url, bypass_csp=True, **kwargs)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
