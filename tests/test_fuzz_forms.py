"""Hostile input on every form of the shop, driven by Hypothesis.

The endpoints come from the URL map, never from a list kept by hand: every route taking POST, and
every page whose <form method="get"> sends a query string. Who may post is the access matrix's
rule for the endpoint (tests/test_access_matrix.py RULES, which must cover every route), and the
fields are read from the forms the pages actually render to that visitor, so a form added later is
fuzzed with its real field names and choices without touching this file. A POST endpoint whose form
no page shows fails `test_every_post_endpoint_has_a_form_on_a_page` until its page is crawled
below or it is listed in NOT_ON_A_PAGE.

Each form first gets a sweep: every typed field, in turn, receives each "killer" value (NUL, invalid
UTF-8, a 100 000-character string) while the other fields hold valid values, so the value reaches
the service and the database behind the validators. Then each Hypothesis example posts random and
hostile values (huge strings, control characters, NUL, invalid UTF-8
percent-encodings, HTML, SQL, numbers out of range, missing, repeated and extra fields) with a valid
CSRF token. Nothing may answer 500 or more, and a refused post (status >= 400, the form shown again
with errors, or a redirect with an error message) must leave every table as it was.
"""

import hashlib
import re
from datetime import timedelta
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote_from_bytes, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from flask import url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import MethodNotAllowed, NotFound

from shop.extensions import db, limiter
from shop.models import Category, PaymentMethod, PickupPoint, Reservation, Role
from shop.models.types import utcnow
from shop.services import accounts, reservations, slots, twofactor, waitlist
from tests import factories
from tests.stripe_fake import WEBHOOK_SECRET, sign
from tests.test_access_matrix import PASSWORD, RULES
from tests.test_access_matrix import world  # noqa: F401  (the fixture, reused)

EXAMPLES = 15  # per form endpoint, after the sweep of killer values
GET_EXAMPLES = 6

# Which visitor posts to an endpoint, by the matrix's kind of page.
VISITOR_OF_KIND = {
    "public": "anonymous", "webhook": "anonymous", "code": "code_holder", "signed_in": "worker_a",
    "partner": "worker_a", "partner_admin": "partner_admin_a", "staff": "staff", "admin": "admin",
    "share_link": "anonymous",
    "api": "an API client",  # no visitor of this matrix: the API takes JSON and a token (tests/test_api.py fuzzes it)
}
# POST endpoints that no page shows as a form, with the reason.
NOT_ON_A_PAGE = {
    "payments.stripe_webhook": "called by Stripe, fuzzed with raw bodies",
    "sms.twilio_inbound": "called by Twilio, signed (tests/test_outbox.py: bad signatures, other replies)",
    **{f"api.{name}": "JSON with a bearer token: tests/test_api.py's schema-driven pass sends every operation bad input"
       for name in ("create_batch", "create_devices", "move_device", "record_erasure", "record_erasures")},
    # Forms shown only in a state this world does not set up (fuzzed by the path sweep below;
    # their own tests cover refusals): a password accepted and a code awaited, a social worker
    # with two-step sign-in on, a live share link, a device with a photo, an import waiting.
    "auth.second_factor": "shown between the password and the code",
    "auth.disable_two_factor": "shown to a social worker who turned two-step sign-in on",
    "auth.renew_recovery_codes": "shown to someone who turned two-step sign-in on",
    "impact.revoke_share_link": "shown once a donor has a live share link",
    "staff.delete_photo": "shown once a device has a photo",
    "staff.import_confirm": "shown on the preview of a valid file",
    "admin.revoke_api_token": "shown once an API token exists",
    "staff.open_case": "shown once a sale was handed over (tests/test_aftersale_views.py)",
    **{f"staff.case_{outcome}": "shown on an open after-sale case (tests/test_aftersale_views.py)"
       for outcome in ("exchange", "refund", "refuse", "repaired")},
}
# GET pages allowed to write: the set-up page keeps the key it shows, so a reload shows the same.
GET_MAY_WRITE = {"auth.enrol"}
# Posting to these ends the visitor's session: sign in again before each example.
ENDS_SESSION = {"auth.logout", "reserve.forget", "auth.change_password"}

HOSTILE = [
    "", " ", "\x00", "a\x00b", "\t\r\n", "\x1b[31m", "\u202eevil", "\ufeff", "\ud7ff", "\U0001f4a9" * 50,
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{ 7*7 }}", "{% raw %}",
    "' OR 1=1 --", "'; DROP TABLE users; --", "%", "_", "\\", "%00", "../../../etc/passwd",
    "=HYPERLINK(\"http://evil\")", "+1", "@SUM(A1)", "-1", "0", "1", "30", "2", "-2147483649", "2147483648",
    "9223372036854775808", "9" * 400, "1e309", "-1e309", "1.5", "0.001", "1,5", "NaN", "-NaN", "sNaN",
    "Infinity", "-inf", "0x10", " 42 ", "١٢٣", "٣٠", "²", "½", "true", "None", "null", "[]", "{}",
    "A" * 5000, "é" * 3000, "x" * 100_000,
    "user@example.org", "mallory@example.org", "a@b", "@", "+33 6 12 34 56 78", "0612345678", "1985", "2100",
    "fr", "ar", "cash", "counter", "card_online", "rsa", "laptop", "computer",
]


NUMBERISH = ["NaN", "sNaN", "-sNaN", "Infinity", "-Infinity", "1e400", "-0", "1e-400", "0.0000001", "12.345",
             "99999999999999999999999", "١٢", "", " ", "1_000", "0b1", "+5", "5-"]
SPOILERS = ["\x00", "\x01", "\x7f", "\ud800", "\ufffd", "\u202e", "\u0000\u0000", "<", "'", '"', "%", "\\", "\n"]
# Ordinary words, so that some posts go through and the services behind the forms are reached.
PLAUSIBLE = st.text(alphabet="abcdefghijklmnopqrstuvwxyzAZéü 0123456789-'", min_size=1, max_size=30)


# --- Reading the forms a page renders ---------------------------------------------------------

@dataclass
class Field:
    name: str
    kind: str  # text, select, radio, checkbox, hidden, submit, ...
    values: list = field(default_factory=list)


@dataclass
class Form:
    action: str  # path (and query) the form sends to
    method: str
    fields: dict = field(default_factory=dict)


class FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self._select: Field | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action = urljoin(self.page_url, attrs.get("action") or self.page_url)
            parts = urlsplit(action)
            self.forms.append(Form(parts.path + (f"?{parts.query}" if parts.query else ""),
                                   (attrs.get("method") or "get").upper()))
            return
        if not self.forms:
            return
        form = self.forms[-1]
        name = attrs.get("name")
        if tag in ("input", "button", "textarea", "select") and name:
            kind = attrs.get("type", "text") if tag == "input" else ("submit" if tag == "button" else tag)
            found = form.fields.setdefault(name, Field(name, kind))
            if attrs.get("value") is not None:
                found.values.append(attrs["value"])
            if tag == "select":
                self._select = found
        elif tag == "option" and self._select is not None and attrs.get("value") is not None:
            self._select.values.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def forms_on(html: str, page_url: str) -> list[Form]:
    parser = FormParser(page_url)
    parser.feed(html)
    return parser.forms


# --- The world, its visitors and their pages ----------------------------------------------------

@pytest.fixture
def fuzz_world(app, db, client, world):  # noqa: F811  (client: each request in its own app context)
    """The matrix's world, plus what makes every form appear: a free code, an inactive member,
    live invitation and reset links."""
    people = world["people"]
    person = factories.beneficiary(people["worker_a"], display_name="Free Person")
    free_code, free_clear = factories.code(person, categories=("computer", "smartphone"), worker=people["worker_a"])
    idle = factories.user(Role.SOCIAL_WORKER, org=people["worker_a"].organisation)
    accounts.set_active(idle, False, actor=people["admin"])
    _, invitation = accounts.invite(email="invited@example.org", name="Invited", role=Role.SOCIAL_WORKER,
                                    inviter=people["admin"], organisation=people["worker_a"].organisation)
    _, reset = accounts.request_password_reset(people["worker_b"].email)
    # The free code's holder has a smartphone held for their turn in line (its forms: reserve, leave).
    factories.device(point=db.session.get(PickupPoint, world["args"]["point_id"]), category=Category.SMARTPHONE,
                     model="Held", cpu=None)
    turn = waitlist.join(free_code, "smartphone", world["args"]["point_id"])
    # Pickup times at the point (hours, a closed day, free slots) and a missed pickup to reserve again.
    point = db.session.get(PickupPoint, world["args"]["point_id"])
    slots.set_mode(point, "optional", actor=people["admin"])
    soon = (utcnow() + timedelta(days=2)).astimezone(slots.PARIS)
    slots.add_template(point, weekday=soon.weekday(), start_minute=540, end_minute=600, slot_minutes=30, capacity=2,
                       actor=people["admin"])
    slots.add_closure(point, day=soon.date() + timedelta(days=7), reason="Holiday", actor=people["admin"])
    late_person = factories.beneficiary(people["worker_a"], display_name="Late Person")
    late_code, _ = factories.code(late_person, categories=("computer",), worker=people["worker_a"])
    late = reservations.reserve(late_code, factories.device(point=point, model="Missed").offer_key,
                                method=PaymentMethod.COUNTER)
    db.session.execute(sa.update(Reservation).where(Reservation.id == late.id).values(held_until=utcnow()))
    reservations.expire_holds(utcnow() + timedelta(seconds=1))
    factories.device(point=point, model="Missed")  # on sale again for "reserve again"
    db.session.commit()
    with app.test_request_context():
        world["extra_pages"] = {
            "anonymous": [url_for("auth.accept_invitation", token=invitation),
                          url_for("auth.reset_password", token=reset),
                          url_for("reserve.turn", token=turn.token)],
            "worker_a": [url_for("partner.reserve_for", code_id=free_code.id),
                         url_for("partner.beneficiary", beneficiary_id=person.id),
                         url_for("partner.issue_code", beneficiary_id=person.id)],
        }
    world["free_clear"] = free_clear
    return world


def csrf_token(app, client) -> str:
    """A valid token for the client's session, as Flask-WTF makes and checks it."""
    with client.session_transaction() as session:
        raw = session.setdefault("csrf_token", hashlib.sha1(b"fuzz").hexdigest())
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def sign_in(app, world, visitor):
    """A client signed in as this visitor ("code_holder_free": a code without a reservation)."""
    limiter.reset()
    client = app.test_client()
    if visitor.startswith("code_holder"):
        code = world["free_clear"] if visitor == "code_holder_free" else world["clear"]
        assert client.post("/reserve", data={"code": code, "csrf_token": csrf_token(app, client)}).status_code == 303
    elif visitor != "anonymous":
        user = world["people"][visitor]
        response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                               "csrf_token": csrf_token(app, client)})
        if response.status_code == 303 and response.headers["Location"] == "/login/code":
            user.totp_last_step = None  # the same account signs in many times within 30 seconds
            db.session.commit()
            response = client.post("/login/code", data={"code": twofactor.current_code(user),
                                                         "csrf_token": csrf_token(app, client)})
        assert response.status_code == 303, (visitor, response.status_code)
    return client


def _pages(app, world, visitor) -> list[str]:
    """Every GET page of the URL map this visitor may open, with the world's arguments."""
    kinds = {kind for kind, v in VISITOR_OF_KIND.items() if v == visitor.removesuffix("_free")} | {"public"}
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" in rule.methods and RULES.get(rule.endpoint) in kinds and rule.endpoint != "static":
                urls.append(url_for(rule.endpoint, **{name: world["args"][name] for name in rule.arguments}))
    return urls + world.get("extra_pages", {}).get(visitor, [])


def crawl(app, world, visitor, client) -> dict[tuple[str, str], tuple[Form, str]]:
    """(endpoint, method) → (the first form found for it on this visitor's pages, the visitor)."""
    adapter = app.url_map.bind("localhost")
    found: dict[tuple[str, str], Form] = {}
    for page in _pages(app, world, visitor):
        response = client.get(page)
        if response.status_code in (301, 302, 303):
            page = urlsplit(response.headers["Location"]).path
            response = client.get(page)
        if not response.mimetype == "text/html":
            continue
        for form in forms_on(response.get_data(as_text=True), page):
            try:
                endpoint, _ = adapter.match(urlsplit(form.action).path, method=form.method)
            except (NotFound, MethodNotAllowed):
                continue
            found.setdefault((endpoint, form.method), (form, visitor))
    return found


# --- What a fuzzed request looks like -----------------------------------------------------------

@st.composite
def spoiled(draw, base):
    """A likely-valid value with one hostile character slipped in: the kind that passes validators."""
    text = draw(base)
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(SPOILERS)) + text[at:]


def _text_value(f: Field):
    base = st.sampled_from(f.values) if f.values else PLAUSIBLE
    choices = [st.sampled_from(HOSTILE), st.text(max_size=300), st.binary(max_size=40), PLAUSIBLE, spoiled(base)]
    if f.kind == "email":
        choices.append(st.integers(0, 10**6).map(lambda n: f"someone{n}@example.org"))
    if f.values:
        choices.insert(0, st.sampled_from(f.values))
        choices.insert(0, st.sampled_from(f.values))  # real choices half of the time
    if f.kind == "number":
        choices += [st.integers(min_value=-(10**30), max_value=10**30).map(str), st.sampled_from(NUMBERISH)]
    return st.one_of(*choices)


# Values that pass the usual validators, by the end of the field's name (names may carry a prefix).
GOOD = {
    "email": "someone@example.org", "year": "1985", "days": "30", "quota": "12", "price": "25.50",
    "inches": "14.1", "ram_gb": "8", "storage_gb": "256", "health": "85", "password": "a long passphrase 4 us",
    "confirm": "a long passphrase 4 us", "current": PASSWORD, "reason": "moved away",
}
FRESH = {  # values that must differ from one post to the next (duplicates are refused)
    "email": st.integers(0, 10**9).map(lambda n: f"someone{n}@example.org"),
    "phone": st.integers(10**7, 10**8 - 1).map(lambda n: f"06{n}"),
    "serial_number": st.integers(0, 10**9).map(lambda n: f"SN{n}"),
}
# Each text field of each form also gets each of these once, the other fields being valid.
KILLERS = ["a\x00b", b"caf\xc3(\xff", "x" * 100_000]


CHOSEN = {"select", "radio", "checkbox", "hidden", "submit"}  # fields whose value is picked, not typed


def _good_value(f: Field):
    for end, strategy in FRESH.items():
        if f.name.endswith(end):
            return strategy
    for end, value in GOOD.items():
        if f.name.endswith(end):
            return st.just(value)
    choices = [v for v in f.values if v] if f.kind not in CHOSEN else f.values
    return st.sampled_from(choices) if choices else PLAUSIBLE


_fresh = iter(range(10**9))


def plain_value(f: Field, n: int) -> str:
    """One valid-looking value for a field, without Hypothesis (for the sweep)."""
    k = next(_fresh)
    fresh = {"email": f"plain{k}@example.org", "phone": f"06{10**7 + k}", "serial_number": f"SNP{k}"}
    for end, value in {**fresh, **GOOD}.items():
        if f.name.endswith(end):
            return value
    choices = [v for v in f.values if v] if f.kind not in CHOSEN else f.values
    return choices[n % len(choices)] if choices else f"Plain words {k}"


@st.composite
def form_body(draw, fields: dict[str, Field]):
    """(name, value) pairs. Half of the examples are hostile throughout: each real field missing,
    sent once or repeated, and a few extra fields. The other half are a valid-looking post with one
    or two fields spoiled, to reach the services and the database behind the validators."""
    pairs = []
    real = [f for f in fields.values() if not f.name.endswith("csrf_token")]
    if real and draw(st.booleans()):
        spoilt = set(draw(st.lists(st.sampled_from([f.name for f in real]), min_size=1, max_size=2)))
        return [(f.name, draw(_text_value(f) if f.name in spoilt else _good_value(f))) for f in real]
    for f in real:
        times = draw(st.sampled_from([0, 1, 1, 1, 1, 2, 3]))
        pairs += [(f.name, draw(_text_value(f))) for _ in range(times)]
    for _ in range(draw(st.integers(0, 2))):
        pairs.append((draw(st.one_of(st.text(min_size=1, max_size=20), st.binary(min_size=1, max_size=10))),
                      draw(st.one_of(st.sampled_from(HOSTILE), st.binary(max_size=20)))))
    return draw(st.permutations(pairs))


def encode(pairs) -> bytes:
    def part(value):  # a lone surrogate becomes invalid UTF-8 on the wire
        raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
        return quote_from_bytes(raw, safe="")

    return "&".join(f"{part(name)}={part(value)}" for name, value in pairs).encode("ascii")


# --- Was the request refused, and did it change anything? --------------------------------------

ERROR_MARKS = re.compile(r'class="error|aria-invalid="true"|class="flash flash-error"|class="error-summary"')


def refused(client, response) -> bool:
    if response.status_code >= 400:
        return True
    if response.status_code in (301, 302, 303):
        with client.session_transaction() as session:
            return any(category == "error" for category, _ in session.get("_flashes", []))
    return response.mimetype == "text/html" and bool(ERROR_MARKS.search(response.get_data(as_text=True)))


def snapshot(db) -> dict[str, str]:
    """A checksum of every table (reading a record is audited on purpose: views are left out)."""
    sums = {}
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one round trip
            parts = [
                f"SELECT '{t.name}', count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
                f"FROM \"{t.name}\" r" + (" WHERE r.action NOT LIKE '%%.view'" if t.name == "audit_log" else "")
                for t in db.metadata.sorted_tables
            ]
            rows = conn.exec_driver_sql(" UNION ALL ".join(parts)).all()
            return {name: f"{count} rows, {digest[:12]}" for name, count, digest in rows}
        for table in db.metadata.sorted_tables:
            query = sa.select(table).order_by(*table.primary_key.columns)
            if table.name == "audit_log":
                query = query.where(~table.c.action.like("%.view"))
            rows = conn.execute(query).all()
            sums[table.name] = f"{len(rows)} rows, {hashlib.sha256(repr(rows).encode()).hexdigest()[:12]}"
    return sums


def _changed(before, after) -> list[str]:
    return [f"{name}: {before[name]} → {after[name]}" for name in before if before[name] != after[name]]


def _shown(pairs) -> str:
    text = repr([(n, v if len(v) < 80 else v[:40] + f"…({len(v)})") for n, v in pairs])
    return text[:1500]


# --- The tests --------------------------------------------------------------------------------

def _targets(app, world, visitor, forms):
    """(endpoint, method, url, fields) for every endpoint this visitor posts to, and every GET
    form sending a query string to one of its pages."""
    targets = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
            if rule.endpoint == "payments.stripe_webhook":
                continue
            kind = RULES[rule.endpoint]
            if VISITOR_OF_KIND[kind] != visitor:
                continue
            if "POST" in rule.methods:
                form, poster = forms.get((rule.endpoint, "POST"), (None, visitor))
                url = form.action if form else url_for(
                    rule.endpoint, **{name: world["args"][name] for name in rule.arguments})
                targets.append((rule.endpoint, "POST", url, form.fields if form else {}, poster))
            if "GET" in rule.methods and (rule.endpoint, "GET") in forms:
                form, poster = forms[(rule.endpoint, "GET")]
                targets.append((rule.endpoint, "GET", urlsplit(form.action).path, form.fields, poster))
    return targets


def _fuzz_one(app, db, world, visitor, endpoint, method, url, fields, client, problems):
    def check(pairs):
        """Send one request; raise if it fails (Hypothesis then shrinks it to a small example)."""
        nonlocal client
        limiter.reset()
        if endpoint in ENDS_SESSION:
            client = sign_in(app, world, visitor)
        with client.session_transaction() as session:
            session.pop("_flashes", None)
        before = snapshot(db)
        if method == "POST":
            token = csrf_token(app, client)  # the form's own token field (maybe prefixed), valid
            tokens = [(name, token) for name in fields if name.endswith("csrf_token")] or [("csrf_token", token)]
            body = encode(tokens + list(pairs))
            response = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
        else:
            response = client.get(url + "?" + encode(pairs).decode())
        status = response.status_code
        is_refused = refused(client, response)
        STATS.setdefault((visitor, method, endpoint), []).append(status)
        response.close()
        assert status < 500, f"{visitor} {method} {url} ({endpoint}): {status} for {_shown(pairs)}"
        if method == "GET" or is_refused:
            changes = _changed(before, snapshot(db))
            assert not changes, (f"{visitor} {method} {url} ({endpoint}) refused ({status}) but changed "
                                 f"{changes} for {_shown(pairs)}")

    @settings(max_examples=EXAMPLES if method == "POST" else GET_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(pairs=form_body(fields))
    def run(pairs):
        check(pairs)

    try:
        # First a sweep: each typed field gets each killer value once, the other fields valid.
        real = [f for f in fields.values() if not f.name.endswith("csrf_token")]
        for n, spoilt in enumerate(f for f in real if f.kind not in CHOSEN):
            for killer in KILLERS:
                check([(f.name, killer if f is spoilt else plain_value(f, n)) for f in real])
        run()
    except Exception as error:  # noqa: BLE001  (an assertion, or Hypothesis finding it flaky)
        problems.append(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    return client


VISITORS = sorted(set(VISITOR_OF_KIND.values()) - {VISITOR_OF_KIND["api"]})
STATS: dict = {}  # (visitor, method, endpoint) → statuses seen: what the run reached (printed with -s)


@pytest.fixture(scope="module", autouse=True)
def report_statuses(request):
    yield
    if request.config.getoption("capture") == "no":
        for key, statuses in sorted(STATS.items()):
            print(*key, {s: statuses.count(s) for s in sorted(set(statuses))})


@pytest.mark.parametrize("visitor", VISITORS)
def test_fuzz_every_form(app, db, fuzz_world, visitor, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    forms = crawl(app, fuzz_world, visitor, sign_in(app, fuzz_world, visitor))
    if visitor == "code_holder":  # a code without a reservation: its pages show the reservation form
        forms = {**crawl(app, fuzz_world, "code_holder_free", sign_in(app, fuzz_world, "code_holder_free")),
                 **forms}
    targets = _targets(app, fuzz_world, visitor, forms)
    assert targets
    problems: list[str] = []
    # Endpoints that end what others need (codes, reservations, accounts) go last.
    targets.sort(key=lambda t: (any(word in t[0] for word in ("deactivate", "revoke", "cancel", "set_account")),
                                t[0]))
    for endpoint, method, url, fields, poster in targets:
        client = sign_in(app, fuzz_world, poster)
        _fuzz_one(app, db, fuzz_world, poster, endpoint, method, url, fields, client, problems)
    assert not problems, "\n".join(problems)


def test_every_post_endpoint_has_a_form_on_a_page(app, db, fuzz_world):
    """So that each is fuzzed with its real fields: a new form endpoint must be reachable here."""
    found = set()
    for visitor in VISITORS:
        client = sign_in(app, fuzz_world, visitor)
        found |= {endpoint for endpoint, method in crawl(app, fuzz_world, visitor, client) if method == "POST"}
    found |= {e for e, _ in crawl(app, fuzz_world, "code_holder_free", sign_in(app, fuzz_world, "code_holder_free"))}
    posts = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    missing = posts - found - set(NOT_ON_A_PAGE)
    assert not missing, f"POST endpoints whose form no crawled page shows: {sorted(missing)}"


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.one_of(st.binary(max_size=2000), st.sampled_from(HOSTILE).map(str.encode)),
       signature=st.one_of(st.none(), st.sampled_from([h for h in HOSTILE if h.isascii() and h.isprintable()]),
                           st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=200)),
       signed=st.booleans())
def test_fuzz_stripe_webhook(app, db, client, monkeypatch, body, signature, signed):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    limiter.reset()
    before = snapshot(db)
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["Stripe-Signature"] = sign(body)
    elif signature is not None:
        headers["Stripe-Signature"] = signature
    response = client.post("/payments/stripe/webhook", data=body, headers=headers)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        assert not _changed(before, snapshot(db))


# --- Paths and query strings of every page --------------------------------------------------------

QUERY_NAMES = ["page", "point", "status", "q", "next", "offer", "code", "session_id", "sort", "category",
               "max_price", "min_ram", "back", "v"]
PATH_VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=60), st.binary(min_size=1, max_size=40),
                        spoiled(st.sampled_from(["ABC234", "123456", "fr", "activate", "withdrawn", "x" * 16])))


def _raw(value) -> str:
    return quote_from_bytes(value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass"), safe="")


def _visitor_routes(app, world, visitor):
    """(endpoint, method, url template with {name} for each text argument) this visitor may use."""
    kinds = {kind for kind, v in VISITOR_OF_KIND.items() if v == visitor}
    routes = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
            if RULES[rule.endpoint] not in kinds or rule.endpoint in ENDS_SESSION | {"payments.stripe_webhook"}:
                continue
            texts = {n for n in rule.arguments if type(rule._converters[n]).__name__ in ("UnicodeConverter", "PathConverter")}
            args = {n: (f"PLACEHOLDER{n}" if n in texts else world["args"][n]) for n in rule.arguments}
            url = url_for(rule.endpoint, **args)
            for name in texts:
                url = url.replace(f"PLACEHOLDER{name}", "{" + name + "}")
            for method in sorted(rule.methods & {"GET", "POST"}):
                routes.append((rule.endpoint, method, url, sorted(texts)))
    return routes


@pytest.mark.parametrize("visitor", VISITORS)
def test_fuzz_paths_and_query_strings(app, db, fuzz_world, visitor, monkeypatch):
    """Hostile path segments and query strings on every route: never a 500, and a GET changes no
    row (reads of personal records are audited on purpose: the audit log aside)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    routes = _visitor_routes(app, fuzz_world, visitor)
    client = sign_in(app, fuzz_world, visitor)

    @settings(max_examples=4 * len(routes), deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(route=st.sampled_from(routes), data=st.data())
    def run(route, data):
        endpoint, method, template, texts = route
        url = template.format(**{name: _raw(data.draw(PATH_VALUES, label=name)) for name in texts})
        pairs = data.draw(st.lists(st.tuples(st.sampled_from(QUERY_NAMES), _text_value(Field("q", "text"))),
                                   max_size=4), label="query")
        if pairs:
            url += "?" + encode(pairs).decode()
        limiter.reset()
        before = snapshot(db)
        if method == "POST":
            response = client.post(url, data={"csrf_token": csrf_token(app, client)})
        else:
            response = client.get(url)
        response.close()
        assert response.status_code < 500, f"{visitor} {method} {url} ({endpoint}): {response.status_code}"
        if method == "GET" and endpoint not in GET_MAY_WRITE:
            changes = [c for c in _changed(before, snapshot(db)) if not c.startswith("audit_log")]
            assert not changes, f"{visitor} GET {url} ({endpoint}) changed {changes}"

    run()
