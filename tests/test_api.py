"""The /api/v1/ API: tokens and scopes, problem details, idempotency, bulk devices, reads."""

import hashlib
import json
import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from shop.models import (
    ApiRole, ApiToken, AuditEntry, Device, DeviceStatus, DonationBatch, ErasureRecord, IdempotentRequest,
)
from shop.models.types import utcnow
from shop.services import api_tokens
from tests import factories

API = "/api/v1"


def make_token(role, *, donors=(), organisation=None, **kwargs):
    token, raw = api_tokens.create(name=f"{role} token", role=role, donor_ids=[d.id for d in donors],
                                   organisation_id=organisation.id if organisation else None, actor=None, **kwargs)
    return token, raw


def auth(raw, **headers):
    return {"Authorization": f"Bearer {raw}", "Accept-Language": "en", **headers}


def post(client, path, raw, body, key=None, **headers):
    return client.post(API + path, data=json.dumps(body), content_type="application/json",
                       headers=auth(raw, **{"Idempotency-Key": key or hashlib.sha1(json.dumps(body).encode()).hexdigest()},
                                    **headers))


def device_item(serial, batch, **overrides):
    item = {"serial_number": serial, "category": "laptop", "brand": "Lenovo", "model": "ThinkPad T480",
            "grade": "B", "batch": batch.reference, "ram_gb": 8, "storage_gb": 256, "price_cents": 12000}
    item.update(overrides)
    return item


@pytest.fixture
def scene(db):
    point = factories.pickup_point()
    batch_a, batch_b = factories.batch(), factories.batch()
    device_a = factories.device(point=point, batch_id=batch_a.id, status=DeviceStatus.LISTED)
    device_b = factories.device(point=point, batch_id=batch_b.id, status=DeviceStatus.LISTED)
    worker = factories.user()
    person = factories.beneficiary(worker)
    code, _clear = factories.code(person)
    other_code, _ = factories.code(factories.beneficiary(factories.user()))
    tokens = {
        ApiRole.REFURBISHER: make_token(ApiRole.REFURBISHER, donors=[batch_a.donor])[1],
        ApiRole.DONOR: make_token(ApiRole.DONOR, donors=[batch_a.donor])[1],
        ApiRole.PARTNER: make_token(ApiRole.PARTNER, organisation=worker.organisation)[1],
    }
    db.session.commit()
    return dict(point=point, batch_a=batch_a, batch_b=batch_b, device_a=device_a, device_b=device_b, tokens=tokens,
                code=code, other_code=other_code, person=person)


# --- Tokens -------------------------------------------------------------------------------------------

def test_a_token_is_stored_hashed_works_until_revoked_or_expired(db):
    donor = factories.batch().donor
    token, raw = make_token(ApiRole.DONOR, donors=[donor], expires_on=date.today() + timedelta(days=2))
    assert raw.startswith("shop_") and len(raw) > 40
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in (token.prefix, token.token_hash)
    assert api_tokens.authenticate(raw).id == token.id
    assert api_tokens.authenticate(raw, now=utcnow() + timedelta(days=3)) is None  # expired
    assert api_tokens.revoke(token, actor=None) and not api_tokens.revoke(token, actor=None)
    assert api_tokens.authenticate(raw) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "api_token.revoke")) == 1


def test_a_token_needs_a_scope_that_fits_its_role(db):
    from shop.services.errors import DomainError

    donors = [factories.batch().donor, factories.batch().donor]
    with pytest.raises(DomainError):
        make_token(ApiRole.DONOR, donors=donors)  # a donor token reads one donor
    with pytest.raises(DomainError):
        make_token(ApiRole.PARTNER)
    with pytest.raises(DomainError):
        make_token(ApiRole.REFURBISHER)


# --- Access, generated over the URL map ----------------------------------------------------------------

def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def _url(rule, scene, *, other=False):
    values = {}
    if "batch_id" in rule.arguments:
        values["batch_id"] = (scene["batch_b"] if other else scene["batch_a"]).id
    if "serial" in rule.arguments:
        values["serial"] = (scene["device_b"] if other else scene["device_a"]).serial_number
    return rule.rule.replace("<int:batch_id>", str(values.get("batch_id", ""))).replace(
        "<serial>", values.get("serial", ""))


# A body the schema accepts, so that the scope decides (bodies of other endpoints: {} is enough).
VALID_BODIES = {
    "moves": {"to": "withdrawn"},
    "erasures": {"method": "nist_800_88_clear", "tool": "nwipe", "performed_on": "2026-01-20", "operator": "A",
                 "result": "success"},
}


def _call(client, method, url, headers):
    if method == "POST":
        body = VALID_BODIES.get(url.rsplit("/", 1)[-1], {}) if "/devices/" in url else {}
        return client.post(url, data=json.dumps(body), content_type="application/json",
                           headers={**headers, "Idempotency-Key": f"k-{url}"})
    return client.get(url, headers=headers)


def test_each_role_reaches_only_its_own_endpoints_and_scope(app, client, scene):
    revoked, revoked_raw = make_token(ApiRole.REFURBISHER, donors=[scene["batch_a"].donor])
    api_tokens.revoke(revoked, actor=None)
    expired, expired_raw = make_token(ApiRole.REFURBISHER, donors=[scene["batch_a"].donor])
    expired.expires_at = utcnow() - timedelta(seconds=1)
    rules = list(_api_rules(app))
    assert len(rules) >= 12
    for rule, method in rules:
        url = _url(rule, scene)
        roles = app.view_functions[rule.endpoint].api_roles
        assert roles, rule
        for raw in (None, "shop_not-a-token", revoked_raw, expired_raw):
            response = _call(client, method, url, auth(raw) if raw else {"Accept-Language": "en"})
            assert response.status_code == 401, (method, url, raw)
            assert response.mimetype == "application/problem+json"
        for role, raw in scene["tokens"].items():
            status = _call(client, method, url, auth(raw)).status_code
            if role in roles:
                assert status not in (401, 403) and status < 500, (method, url, role, status)
            else:
                assert status == 403, (method, url, role, status)
        # Another donor's batch or device: "not found", as if it did not exist.
        if {"batch_id", "serial"} & rule.arguments:
            for role in roles:
                status = _call(client, method, _url(rule, scene, other=True), auth(scene["tokens"][role])).status_code
                assert status == 404, (method, url, role, status)


def test_the_api_never_uses_the_session_and_is_exempt_from_csrf(app, client, scene):
    from shop.extensions import csrf

    assert any(bp.name == "api" for bp in csrf._exempt_blueprints)
    admin = factories.user(factories.Role.ADMIN) if hasattr(factories, "Role") else None
    response = client.get(API + "/batches")
    assert response.status_code == 401 and "Set-Cookie" not in response.headers
    response = client.get(API + "/batches", headers=auth(scene["tokens"][ApiRole.REFURBISHER]))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    del admin


def test_a_token_in_the_query_string_is_refused(client, scene):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    for query in (f"?access_token={raw}", f"?token={raw}", f"?x={raw}"):
        response = client.get(API + "/batches" + query, headers=auth(raw))
        assert response.status_code == 400, query
        assert "Authorization" in response.json["detail"]


def test_each_token_is_rate_limited(app, client, scene):
    raw = scene["tokens"][ApiRole.DONOR]
    app.config["API_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [client.get(API + "/token", headers=auth(raw)).status_code for _ in range(4)]
        other = client.get(API + "/token", headers=auth(scene["tokens"][ApiRole.PARTNER])).status_code
    finally:
        app.config["API_RATE_LIMIT"] = "600 per minute"
    assert statuses == [200, 200, 200, 429] and other == 200


# --- Problem details ------------------------------------------------------------------------------------

def test_bad_input_gets_problem_details_in_the_callers_language(client, scene):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    donor_id = scene["batch_a"].donor_id
    good = {"donor_id": donor_id, "reference": "R-1", "received_on": "2026-01-10"}
    cases = [
        (client.post(API + "/batches", data="{not json", content_type="application/json",
                     headers=auth(raw, **{"Idempotency-Key": "1"})), 400),
        (client.post(API + "/batches", data=json.dumps(good), content_type="text/plain",
                     headers=auth(raw, **{"Idempotency-Key": "2"})), 415),
        (client.post(API + "/batches", data=b"{" + b" " * (20 * 2**20) + b"}", content_type="application/json",
                     headers=auth(raw, **{"Idempotency-Key": "3"})), 413),
        (post(client, "/batches", raw, {**good, "colour": "red"}), 422),
        (post(client, "/batches", raw, {**good, "donor_id": "one"}), 422),
        (post(client, "/batches", raw, {**good, "donor_id": 999999}), 422),
        (post(client, "/batches", raw, {**good, "donor_id": scene["batch_b"].donor_id}), 422),
        (post(client, "/batches", raw, {**good, "reference": scene["batch_a"].reference}), 422),
        (post(client, "/batches", raw, {**good, "reference": "nul\u0000"}), 400),
        (post(client, "/batches", raw, [good]), 400),
        (client.post(API + "/batches", data=json.dumps(good), content_type="application/json", headers=auth(raw)), 400),
        (client.put(API + "/batches", headers=auth(raw)), 405),
        (client.get(API + "/nowhere", headers=auth(raw)), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, (status, response.json)
        assert response.mimetype == "application/problem+json"
        assert response.json["status"] == status and response.json["detail"]
    assert cases[3][0].json["errors"] == [{"field": "colour", "detail": "Unknown field."}]
    assert cases[5][0].json["errors"][0]["field"] == "donor_id"
    assert cases[5][0].json["errors"] == cases[6][0].json["errors"]  # another's donor looks unknown
    assert db_batches() == 2  # nothing half-stored
    french = client.post(API + "/batches", data=json.dumps({**good, "colour": "red"}), content_type="application/json",
                         headers=auth(raw, **{"Idempotency-Key": "fr", "Accept-Language": "fr"}))
    assert french.headers["Content-Language"] == "fr"
    assert french.json["errors"][0]["detail"] != "Unknown field." and "rien" in french.json["detail"].lower()


def db_batches():
    from shop.extensions import db

    return db.session.scalar(sa.select(sa.func.count()).select_from(DonationBatch))


# --- Idempotency ----------------------------------------------------------------------------------------

def test_a_retried_post_with_the_same_key_creates_one_batch(client, scene):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    body = {"donor_id": scene["batch_a"].donor_id, "reference": "R-IDEM", "received_on": "2026-01-10"}
    first = post(client, "/batches", raw, body, key="abc")
    again = post(client, "/batches", raw, body, key="abc")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert post(client, "/batches", raw, {**body, "reference": "R-OTHER"}, key="abc").status_code == 422
    assert db_batches() == 3
    from shop.extensions import db

    writes = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "api.write"))
    assert writes == 1


def test_two_posts_at_once_with_the_same_key_create_one_batch(app, client, scene):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    body = {"donor_id": scene["batch_a"].donor_id, "reference": "R-RACE", "received_on": "2026-01-10"}
    barrier = threading.Barrier(4, timeout=30)
    answers, lock = [], threading.Lock()

    def run():
        with app.app_context():
            other = app.test_client()
            barrier.wait()
            response = post(other, "/batches", raw, body, key="race")
            with lock:
                answers.append((response.status_code, response.json))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [201] * 4
    assert len({json.dumps(body) for _, body in answers}) == 1
    from shop.extensions import db

    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DonationBatch)
                             .where(DonationBatch.reference == "R-RACE")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotentRequest)) == 1


# --- Devices --------------------------------------------------------------------------------------------

def test_devices_are_created_all_or_nothing_with_errors_per_item_and_field(client, scene, db):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    batch = scene["batch_a"]
    items = [device_item(f"API-{n}", batch) for n in range(5)]
    items[1]["price_cents"] = -100
    items[2]["serial_number"] = scene["device_a"].serial_number
    items[3]["batch"] = scene["batch_b"].reference  # another donor's batch
    items[4]["price_cents"] = 50000  # over the legal cap of a public donor's laptop
    response = post(client, "/devices", raw, {"pickup_point_id": scene["point"].id, "devices": items})
    assert response.status_code == 422
    found = {(e["item"], e["field"]) for e in response.json["errors"]}
    assert found == {(1, "price_cents"), (2, "serial_number"), (3, "batch"), (4, "price_cents")}
    assert "negative" in next(e for e in response.json["errors"] if e["item"] == 1)["detail"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Device).where(Device.serial_number.like("API-%"))) == 0
    wrong_type = post(client, "/devices", raw, {"pickup_point_id": scene["point"].id,
                                                "devices": [device_item("API-X", batch, ram_gb="8", extra=1)]})
    assert wrong_type.status_code == 422
    assert {(e["item"], e["field"]) for e in wrong_type.json["errors"]} == {(0, "ram_gb"), (0, "extra")}
    good = post(client, "/devices", raw, {"pickup_point_id": scene["point"].id,
                                          "devices": [device_item(f"API-{n}", batch) for n in range(3)]})
    assert good.status_code == 201 and good.json["count"] == 3


def _create(client, raw, scene, count, prefix):
    items = [device_item(f"{prefix}-{n:05d}", scene["batch_a"]) for n in range(count)]
    return post(client, "/devices", raw, {"pickup_point_id": scene["point"].id, "devices": items})


def test_bulk_creation_runs_the_same_number_of_statements_for_10_or_200_devices(client, scene, count_queries):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    assert client.get(API + "/token", headers=auth(raw)).status_code == 200  # notes the token's first use
    with count_queries() as ten:
        assert _create(client, raw, scene, 10, "TEN").status_code == 201
    with count_queries() as two_hundred:
        assert _create(client, raw, scene, 200, "TWO").status_code == 201
    assert ten.count == two_hundred.count, (ten.statements, two_hundred.statements)


def test_a_device_moves_through_the_lifecycle_and_needs_an_erasure_before_sale(client, scene, db):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    assert _create(client, raw, scene, 1, "LIFE").status_code == 201
    serial = "LIFE-00000"
    assert post(client, f"/devices/{serial}/moves", raw, {"to": "sold"}).status_code == 422  # not the client's
    refused = post(client, f"/devices/{serial}/moves", raw, {"to": "listed"})
    assert refused.status_code == 422 and "cannot go" in refused.json["detail"]
    erased = post(client, f"/devices/{serial}/erasures", raw, {
        "method": "nist_800_88_purge", "tool": "Blancco", "performed_on": "2026-01-20", "operator": "Valor'Emm",
        "result": "success", "certificate_reference": "C-1"})
    assert erased.status_code == 201 and erased.json["erasure_records"][0]["certificate_reference"] == "C-1"
    for status in ("erased", "refurbished", "listed"):
        moved = post(client, f"/devices/{serial}/moves", raw, {"to": status})
        assert moved.status_code == 200 and moved.json["status"] == status, moved.json
    assert moved.json["fate"] == "listed"
    donor = client.get(f"{API}/devices/{serial}", headers=auth(scene["tokens"][ApiRole.DONOR]))
    assert donor.status_code == 200 and donor.json["fate"] == "listed"


def test_a_device_its_buyer_brought_back_is_returned_until_it_is_on_sale_again(client, scene, db):
    from shop.models import PaymentChannel, PaymentMethod, ReturnReason, Role
    from shop.services import aftersale, reservations

    device, replacement = scene["device_a"], scene["device_b"]
    staff = factories.user(Role.STAFF, pickup_point_id=scene["point"].id)
    reservation = reservations.reserve(scene["code"], device.offer_key, method=PaymentMethod.COUNTER)
    reservations.hand_over(reservation, actor=staff, channel=PaymentChannel.CASH)
    raw = scene["tokens"][ApiRole.REFURBISHER]
    db.session.commit()
    assert client.get(f"{API}/devices/{device.serial_number}", headers=auth(raw)).json["fate"] == "sold"
    sale = aftersale.find_sale(reservation.number, [scene["point"].id])
    case = aftersale.open_case(sale, reason=ReturnReason.BATTERY, description="Dead battery", actor=staff)
    aftersale.exchange(case, replacement_serial=replacement.serial_number, actor=staff)
    db.session.commit()
    one = client.get(f"{API}/devices/{device.serial_number}", headers=auth(raw)).json
    assert (one["status"], one["fate"]) == ("received", "returned")
    page = client.get(f"{API}/batches/{scene['batch_a'].id}/devices", headers=auth(raw)).json["items"]
    assert [(d["serial_number"], d["fate"]) for d in page] == [(device.serial_number, "returned")]


def test_erasures_in_bulk_are_all_or_nothing(client, scene, db):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    assert _create(client, raw, scene, 2, "ER").status_code == 201
    record = {"method": "nist_800_88_clear", "tool": "nwipe", "performed_on": "2026-01-20", "operator": "A",
              "result": "success"}
    bad = post(client, "/erasures", raw, {"records": [
        {**record, "serial_number": "ER-00000"}, {**record, "serial_number": "ER-00001", "performed_on": "2999-01-01"},
        {**record, "serial_number": scene["device_b"].serial_number}]})
    assert bad.status_code == 422
    assert [(e["item"], e["field"]) for e in bad.json["errors"]] == [(1, "performed_on"), (2, "serial_number")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ErasureRecord)) == 2  # the factories' two
    good = post(client, "/erasures", raw, {"records": [{**record, "serial_number": f"ER-0000{n}"} for n in range(2)]})
    assert good.status_code == 201 and good.json["count"] == 2


# --- Reads: pagination, ETag, donor and partner views --------------------------------------------------------

def test_reads_are_paged_by_cursor_and_answer_304_to_a_known_etag(client, scene):
    raw = scene["tokens"][ApiRole.REFURBISHER]
    assert _create(client, raw, scene, 5, "PG").status_code == 201
    url = f"{API}/batches/{scene['batch_a'].id}/devices?limit=4"
    first = client.get(url, headers=auth(raw))
    assert first.status_code == 200 and len(first.json["items"]) == 4 and first.json["next_cursor"]
    second = client.get(f"{url}&cursor={first.json['next_cursor']}", headers=auth(raw))
    assert len(second.json["items"]) == 2 and second.json["next_cursor"] is None  # 1 from the scene + 5
    serials = [d["serial_number"] for d in first.json["items"] + second.json["items"]]
    assert len(set(serials)) == 6
    assert client.get(f"{url}&cursor=@@", headers=auth(raw)).status_code == 422
    etag = first.headers["ETag"]
    assert client.get(url, headers=auth(raw, **{"If-None-Match": etag})).status_code == 304
    changed = post(client, f"/devices/{serials[1]}/moves", raw, {"to": "withdrawn"})
    assert changed.status_code == 200, changed.json
    assert client.get(url, headers=auth(raw, **{"If-None-Match": etag})).status_code == 200


def test_a_donor_reads_its_batches_and_report(client, scene):
    raw = scene["tokens"][ApiRole.DONOR]
    batches = client.get(f"{API}/batches", headers=auth(raw)).json["items"]
    assert [b["id"] for b in batches] == [scene["batch_a"].id]
    report = client.get(f"{API}/report", headers=auth(raw))
    assert report.status_code == 200 and report.json["received"] == 1 and report.json["by_status"] == {"listed": 1}


def test_a_partner_reads_its_codes_states_without_names(client, scene):
    response = client.get(f"{API}/codes", headers=auth(scene["tokens"][ApiRole.PARTNER]))
    assert response.status_code == 200
    assert [c["id"] for c in response.json["items"]] == [scene["code"].id]
    assert response.json["items"][0]["state"] == "active"
    assert scene["person"].display_name not in response.get_data(as_text=True)


# --- The OpenAPI document ------------------------------------------------------------------------------

def test_the_openapi_document_is_valid_3_1(client):
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

    document = client.get(f"{API}/openapi.json").json
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_documented_operation_answers_without_a_server_error(app, client, scene):
    """Schema-driven: every operation of the document, with its role's token, a body built from
    the request schema's fields (each of the wrong type once), never answers 5xx."""
    document = client.get(f"{API}/openapi.json").json
    schemas = document["components"]["schemas"]
    roles = {rule.rule.replace("<int:batch_id>", "{batch_id}").replace("<serial>", "{serial}"):
             app.view_functions[rule.endpoint].api_roles for rule, _ in _api_rules(app)}
    samples = {"integer": 1, "number": 1.5, "string": "x", "boolean": True, "array": [], "object": {}}
    wrong = {"integer": "x", "number": "x", "string": 3, "boolean": "x", "array": {}, "object": []}
    seen = 0
    for path, item in document["paths"].items():
        url = path.replace("{batch_id}", str(scene["batch_a"].id)).replace("{serial}", scene["device_a"].serial_number)
        raw = scene["tokens"][sorted(roles[path])[0]]
        for method, operation in item.items():
            if method not in ("get", "post"):
                continue
            seen += 1
            if method == "get":
                for query in ("", "?limit=0", "?limit=x", "?cursor=x", "?unknown=1"):
                    assert client.get(url + query, headers=auth(raw)).status_code < 500, (path, query)
                continue
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            properties = schemas[ref]["properties"]

            def sample(prop):
                kind = prop.get("type", "object")
                kind = kind[0] if isinstance(kind, list) else kind
                return prop["enum"][0] if "enum" in prop else samples.get(kind, "x"), kind

            body = {name: sample(prop)[0] for name, prop in properties.items()}
            bodies = [body, {}] + [{**body, name: wrong.get(sample(prop)[1], None)} for name, prop in properties.items()]
            for n, sent in enumerate(bodies):
                response = post(client, url, raw, sent, key=f"{path}-{n}")
                assert response.status_code < 500, (path, sent, response.json)
    assert seen == sum(len(set(item) & {"get", "post", "put", "patch", "delete"})
                       for item in document["paths"].values()) >= 12


def test_the_docs_page_is_served_without_scripts(client):
    response = client.get(f"{API}/docs")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "POST /api/v1/devices" in html
    assert "<script" not in html and "style=" not in html


def test_a_failure_on_our_side_is_a_problem_too_and_stores_nothing(client, scene, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from shop.services import donations

    raw = scene["tokens"][ApiRole.REFURBISHER]
    body = {"donor_id": scene["batch_a"].donor_id, "reference": "R-FAIL", "received_on": "2026-01-10"}
    for error, status in ((RuntimeError("bug"), 500), (OperationalError("SELECT", {}, Exception("gone")), 503)):
        def broken(*args, **kwargs):
            raise error
        monkeypatch.setattr(donations, "create_batch", broken)
        response = post(client, "/batches", raw, body, key=f"fail-{status}")
        assert response.status_code == status and response.mimetype == "application/problem+json"
        assert "Traceback" not in response.get_data(as_text=True)
    from shop.extensions import db

    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotentRequest)) == 0
