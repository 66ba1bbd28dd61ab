"""Arabic pages keep left-to-right values in order: every value is isolated.

Each GET page of every audience is rendered in Arabic; wherever a known value of the shop
(an address, a postcode, a town, a name, a model, a code, a number, a price, a date) shows as
text, it must sit inside its own isolating element (`<bdi>`, or an element with `dir`) that holds
no Arabic words of the sentence around it, or between FSI and PDI in plain text. Otherwise the
browser's bidirectional algorithm reorders it ("12 rue Mazelle" shows as "rue Mazelle 12").
"""

import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from flask import url_for

from shop import i18n
from shop.models import Grade, PaymentMethod, Role
from shop.services import reservations
from tests import factories
from tests.test_access_matrix import PASSWORD

ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SKIPPED = {"script", "style", "svg", "title", "textarea", "option", "select"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    @property
    def isolates(self) -> bool:
        return self.tag == "bdi" or (self.tag != "html" and "dir" in self.attrs)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class Tree(HTMLParser):
    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", {}, None)
        self.texts: list[tuple[str, Node]] = []
        self.title = ""
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        self._in_title = tag == "title"
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        self.current.children.append(data)
        self.texts.append((data, self.current))


def _skipped(node) -> bool:
    while node is not None:
        if node.tag in SKIPPED:
            return True
        node = node.parent
    return False


def unisolated(html: str, values: list[str]) -> list[str]:
    """The values shown as text somewhere without their own isolation."""
    tree = Tree(html)
    problems = []
    for text, node in tree.texts:
        if _skipped(node):
            continue
        for value in values:
            start = text.find(value)
            if start < 0:
                continue
            if text[:start].endswith(i18n.FSI) and text[start + len(value):].startswith(i18n.PDI):
                continue
            isolating = node
            while isolating is not None and not isolating.isolates:
                isolating = isolating.parent
            around = isolating.text().replace(value, "") if isolating is not None else None
            if around is None or ARABIC.search(around):
                problems.append(f"{value!r} in {text.strip()[:80]!r}")
    for value in values:  # a <title> is plain text: FSI…PDI
        spans = re.findall(f"{i18n.FSI}([^{i18n.PDI}]*){i18n.PDI}", tree.title)
        if value in tree.title and not any(value in span for span in spans):
            problems.append(f"{value!r} in the title {tree.title.strip()!r}")
    return problems


def test_the_checker_finds_a_glued_value_and_accepts_isolated_ones():
    values = ["12 rue Mazelle", "57000"]
    assert unisolated('<html dir="rtl"><p>العنوان: 12 rue Mazelle</p></html>', values) == [
        "'12 rue Mazelle' in 'العنوان: 12 rue Mazelle'"]
    assert unisolated('<p dir="ltr">العنوان: 12 rue Mazelle</p>', values)  # the whole sentence is not isolation
    assert unisolated('<p>العنوان: <bdi>12 rue Mazelle</bdi><br><bdi>57000</bdi></p>', values) == []
    assert unisolated(f'<p>العنوان: {i18n.FSI}12 rue Mazelle{i18n.PDI}</p>', values) == []
    assert unisolated('<title>57000 · المتجر</title>', values)


@pytest.fixture
def shop(db):
    point = factories.pickup_point(name="Emmaüs Connect Woippy", address="12 rue Mazelle", postcode="57140",
                                   town="Woippy", phone="03 87 12 34 56")
    org = factories.organisation(name="CCAS de Testville", town="Woippy")
    people = {
        "worker": factories.user(Role.SOCIAL_WORKER, org=org, name="Claire Martin", email="claire@example.org"),
        "staff": factories.user(Role.STAFF, pickup_point_id=point.id),
        "admin": factories.user(Role.ADMIN),
    }
    factories.user(Role.STAFF, pickup_point_id=point.id)
    person = factories.beneficiary(people["worker"], display_name="Amina Haddad", language="ar")
    code, clear = factories.code(person, categories=("computer", "smartphone"), worker=people["worker"])
    booked = factories.device(point=point, brand="Fairphone", model="Fairphone 3+", category=factories.Category.SMARTPHONE,
                              grade=Grade.B, ram_gb=8, price_cents=6000, serial_number="SN-FAIR-0001")
    free = factories.device(point=point, brand="Lenovo", model="ThinkPad T480", serial_number="SN-LENO-0002")
    batch = factories.batch(reference="EMM-2025-07")
    reservation = reservations.reserve(code, booked.offer_key, method=PaymentMethod.COUNTER)
    db.session.commit()
    args = {
        "beneficiary_id": person.id, "code_id": code.id, "user_id": people["worker"].id, "number": reservation.number,
        "offer_key": free.offer_key, "organisation_id": org.id, "status": "active", "change": "deactivate",
        "code": "ar", "token": booked.passport_token, "filename": "style.css", "device_id": free.id,
        "to_status": "withdrawn", "point_id": point.id, "donor_id": batch.donor_id, "batch_id": batch.id,
        "photo_id": 1, "name": "x", "case_id": 1, "template_id": 1, "closure_id": 1, "token_id": 1, "entry_id": 1,
    }
    values = [
        "12 rue Mazelle", "57140", "Woippy", "Emmaüs Connect Woippy", "03 87 12 34 56", "CCAS de Testville",
        "Claire Martin", "claire@example.org", "Amina Haddad", "Fairphone 3+", "ThinkPad T480", "SN-FAIR-0001",
        "SN-LENO-0002", "EMM-2025-07", reservation.number, reservation.pickup_code, "60.00",
    ]
    return {"people": people, "clear": clear, "args": args, "values": values, "booked": booked}


def _pages(app, args, prefix):
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
            if "GET" not in rule.methods or not rule.rule.startswith(prefix) or rule.endpoint in (
                    "static", "catalog.photo", "pages.language", "reserve.forget", "auth.logout"):
                continue
            yield url_for(rule.endpoint, **{name: args[name] for name in rule.arguments})


AUDIENCES = {
    "anonymous": ("/catalog", "/pickup-points", "/how-it-works", "/where-to-get-a-code", "/passport", "/reserve"),
    "code_holder": ("/reserve",),
    "worker": ("/partner",),
    "staff": ("/staff",),
    "admin": ("/admin", "/impact"),
}


@pytest.mark.parametrize("audience", AUDIENCES)
def test_every_value_on_the_arabic_pages_is_isolated(app, client, shop, audience):
    client.get("/language/ar")
    if audience == "code_holder":
        assert client.post("/reserve", data={"code": shop["clear"]}).status_code == 303
    elif audience != "anonymous":
        assert factories.sign_in(client, shop["people"][audience].email, PASSWORD).status_code == 303
    problems, seen = [], 0
    for prefix in AUDIENCES[audience]:
        for url in _pages(app, shop["args"], prefix):
            response = client.get(url, follow_redirects=True)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            assert '<html lang="ar" dir="rtl">' in response.text, url
            seen += 1
            problems += [f"{url}: {p}" for p in unisolated(response.text, shop["values"])]
    assert seen >= 3
    assert not problems, "\n".join(sorted(set(problems)))


def test_a_pickup_points_postal_line_is_one_isolate_so_it_reads_57140_woippy(client, shop):
    """Two isolates side by side in a right-to-left line show as "Woippy 57140"; the French postal
    line is one left-to-right unit."""
    page = client.get("/pickup-points", headers={"Accept-Language": "ar"}).text
    assert "<bdi>57140 Woippy</bdi>" in page


def test_the_admins_list_of_pickup_points_keeps_the_postal_line_in_one_isolate_too(client, shop):
    """The admin list, the receipt and the handover form write the address through one pattern
    ("%(street)s, %(postal)s"): the postal line stays "57140 Woippy" in Arabic."""
    factories.signed_in(client, shop["people"]["admin"], lang="ar")
    page = client.get("/admin/pickup-points").text
    assert '<html lang="ar" dir="rtl">' in page
    assert "<bdi>12 rue Mazelle</bdi>، <bdi>57140 Woippy</bdi>" in page
