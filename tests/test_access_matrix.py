"""Who may reach what: every route of the URL map × every kind of visitor.

Each endpoint must have a rule below; a new route without one fails
`test_every_route_has_an_access_rule`, so access is decided on purpose, never by accident.
"""

import pytest
import sqlalchemy as sa
from flask import url_for

from shop.models import CronRun, PaymentMethod, Reservation, Role
from shop.models.types import utcnow
from shop.services import cronruns, reservations
from tests import factories

PASSWORD = "correct horse battery staple"

# What kind of page each endpoint is.
RULES = {
    "static": "public", "healthz": "public", "readyz": "public", "metrics": "public",
    "catalog.home": "public", "catalog.index": "public", "catalog.offer": "public",
    "catalog.photo": "public", "catalog.passport": "public",
    "pages.language": "public", "pages.how_it_works": "public", "pages.pickup_points": "public",
    "pages.privacy": "public", "pages.accessibility": "public", "pages.where_to_get_a_code": "public",
    "auth.login": "public", "auth.forgot_password": "public", "auth.accept_invitation": "public",
    "auth.reset_password": "public", "auth.logout": "signed_in", "auth.change_password": "signed_in",
    "reserve.enter_code": "public", "reserve.forget": "public", "reserve.me": "code",
    "reserve.confirm": "code", "reserve.confirmation": "code", "reserve.payment_return": "code",
    "reserve.cancel": "code",
    "reserve.join_waitlist": "code", "reserve.leave_waitlist": "code", "reserve.turn": "public",
    "partner.join_waitlist": "partner", "partner.leave_waitlist": "partner", "partner.reserve_turn": "partner",
    "staff.waitlist_figures": "staff",
    "payments.stripe_webhook": "webhook", "sms.twilio_inbound": "webhook",
    "partner.dashboard": "partner", "partner.new_beneficiary": "partner", "partner.beneficiary": "partner",
    "partner.edit_beneficiary": "partner", "partner.issue_code": "partner", "partner.slip": "partner",
    "partner.revoke_code": "partner", "partner.extend_code": "partner", "partner.reissue_code": "partner",
    "partner.export": "partner", "partner.reserve_for": "partner", "partner.reserve_for_offer": "partner",
    "partner.reservation": "partner", "partner.cancel_reservation": "partner",
    "partner.team": "partner_admin", "partner.deactivate_member": "partner_admin",
    "partner.activate_member": "partner_admin",
    "staff.board": "staff", "staff.counter": "staff", "staff.reservation": "staff", "staff.mark_ready": "staff",
    "staff.hand_over": "staff", "staff.cancel": "staff", "staff.receipt": "staff",
    "staff.stock": "staff", "staff.new_device": "staff", "staff.move_device": "staff",
    "staff.import_devices": "staff", "staff.import_sample": "staff", "staff.import_preview": "staff",
    "staff.import_confirm": "staff",
    "staff.edit_device": "staff", "staff.upload_photo": "staff", "staff.delete_photo": "staff",
    "staff.labels": "staff", "staff.bulk": "staff",
    # After the sale: the handover form, after-sale cases; the warranty periods.
    "staff.handover_form": "staff", "staff.aftersale": "staff", "staff.open_case": "staff",
    "staff.aftersale_case": "staff", "staff.case_repaired": "staff", "staff.case_exchange": "staff",
    "staff.case_refund": "staff", "staff.case_refuse": "staff", "admin.warranty_periods": "admin",
    "admin.index": "admin", "admin.create_organisation": "admin", "admin.organisation": "admin",
    "admin.set_status": "admin", "admin.set_quota": "admin", "admin.set_details": "admin", "admin.invite_member": "admin",
    "admin.accounts_page": "admin", "admin.set_account_active": "admin",
    "admin.pickup_points_page": "admin", "admin.new_pickup_point": "admin", "admin.edit_pickup_point": "admin",
    "admin.prices": "admin", "admin.payment_issues": "admin", "admin.messages": "admin", "admin.system_page": "admin",
    # Two-step sign-in (the second step itself is reached only after a right password).
    "auth.second_factor": "public", "auth.enrol": "signed_in", "auth.two_factor": "signed_in",
    "auth.disable_two_factor": "signed_in", "auth.renew_recovery_codes": "signed_in",
    "admin.reset_two_factor": "admin",
    # Audit viewer; a person's data (access and erasure on request).
    "admin.audit_log": "admin", "admin.audit_export": "admin",
    "partner.beneficiary_data": "partner", "partner.beneficiary_data_file": "partner",
    "partner.erase_beneficiary": "partner",
    "admin.beneficiary_data": "admin", "admin.beneficiary_data_file": "admin", "admin.erase_beneficiary": "admin",
    "impact.public": "public", "impact.shared_report": "share_link",
    "impact.erasures": "staff", "impact.import_erasures": "staff",
    "impact.donors": "admin", "impact.donor": "admin", "impact.new_batch": "admin", "impact.batch": "admin",
    "impact.share_link": "admin", "impact.revoke_share_link": "admin", "impact.donor_report": "admin",
    "impact.dashboard": "admin",
    # The HTTP API: a bearer token or nothing (a signed-in session opens no endpoint); its own
    # role × scope matrix is in tests/test_api.py. The document and its page are public.
    "admin.api_tokens_page": "admin", "admin.create_api_token": "admin", "admin.revoke_api_token": "admin",
    "api-docs.openapi_json": "public", "api_docs.page": "public",
    **{f"api.{name}": "api" for name in (
        "batch_devices", "codes", "create_batch", "create_devices", "donor_report", "get_batch", "get_device",
        "list_batches", "move_device", "pickup_points", "record_erasure", "record_erasures", "token_info")},
    # Pickup times and missed pickups.
    "reserve.choose_slot": "code", "partner.choose_slot": "partner", "partner.reserve_again": "partner",
    "staff.pickup_slots": "staff",
    "admin.pickup_slots": "admin", "admin.pickup_slots_mode": "admin", "admin.pickup_slots_add_hours": "admin",
    "admin.pickup_slots_remove_hours": "admin", "admin.pickup_slots_add_closure": "admin",
    "admin.pickup_slots_remove_closure": "admin", "admin.pickup_slots_add_extra": "admin",
}

VISITORS = ("anonymous", "code_holder", "worker_a", "worker_b", "partner_admin_a", "staff", "admin")
OK = {200, 303, 400, 404, 409, 410, 422}  # reached the page (some refuse the forged input politely)
TO_LOGIN = {302}

EXPECTED = {
    "public": {v: OK | {302} for v in VISITORS},  # a signed-in visitor is sent on from /login
    "webhook": {v: {400} for v in VISITORS},
    "api": {v: {401} for v in VISITORS},
    "share_link": {v: {404} for v in VISITORS},  # the world's token is not a live link: a 404 for everyone
    "signed_in": {"anonymous": TO_LOGIN, "code_holder": TO_LOGIN, **{v: OK for v in VISITORS[2:]}},
    "code": {"code_holder": OK, **{v: {303, 404} for v in VISITORS if v != "code_holder"}},
    "partner": {"anonymous": TO_LOGIN, "code_holder": TO_LOGIN, "worker_a": OK, "partner_admin_a": OK,
                "worker_b": {200, 303, 404}, "staff": {403}, "admin": {403}},
    "partner_admin": {"anonymous": TO_LOGIN, "code_holder": TO_LOGIN, "worker_a": {403},
                      "partner_admin_a": OK, "worker_b": {403}, "staff": {403}, "admin": {403}},
    "staff": {"anonymous": TO_LOGIN, "code_holder": TO_LOGIN, "worker_a": {403}, "worker_b": {403},
              "partner_admin_a": {403}, "staff": OK, "admin": OK},
    "admin": {"anonymous": TO_LOGIN, "code_holder": TO_LOGIN, "worker_a": {403}, "worker_b": {403},
              "partner_admin_a": {403}, "staff": {403}, "admin": OK},
}


def test_every_route_has_an_access_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(RULES) == set(), "new routes need an access rule"
    assert set(RULES) - endpoints == set(), "rules for routes that no longer exist"


@pytest.fixture
def world(db):
    point = factories.pickup_point()
    org_a, org_b = factories.organisation(), factories.organisation()
    people = {
        "worker_a": factories.user(Role.SOCIAL_WORKER, org=org_a),
        "partner_admin_a": factories.user(Role.PARTNER_ADMIN, org=org_a),
        "worker_b": factories.user(Role.SOCIAL_WORKER, org=org_b),
        "staff": factories.user(Role.STAFF, pickup_point_id=point.id),
        "admin": factories.user(Role.ADMIN),
    }
    person = factories.beneficiary(people["worker_a"])
    code, clear = factories.code(person, categories=("computer",), worker=people["worker_a"])
    booked, free = factories.device(point=point, model="Booked"), factories.device(point=point, model="Free")
    batch = factories.batch()
    reservation = reservations.reserve(code, booked.offer_key, method=PaymentMethod.COUNTER)
    for command in cronruns.SCHEDULE:  # a shop whose cron runs: /readyz answers 200
        db.session.add(CronRun(command=command, last_success_at=utcnow()))
    db.session.commit()
    args = {
        "beneficiary_id": person.id, "code_id": code.id, "user_id": people["worker_a"].id, "number": reservation.number,
        "offer_key": free.offer_key, "organisation_id": org_a.id, "status": "active", "change": "deactivate",
        "code": "fr", "token": "not-a-real-token", "filename": "style.css", "device_id": free.id,
        "to_status": "withdrawn", "point_id": point.id,
        "to_status": "withdrawn", "donor_id": batch.donor_id, "batch_id": batch.id,
        "to_status": "withdrawn", "photo_id": 1, "name": "../style.css", "entry_id": 1,
        "case_id": 1, "token_id": 1, "serial": "NOT-A-SERIAL",
        "template_id": 1, "closure_id": 1,
    }
    return {"people": people, "clear": clear, "args": args, "reservation_id": reservation.id}


def _client(app, world, visitor):
    client = app.test_client()
    if visitor == "code_holder":
        assert client.post("/reserve", data={"code": world["clear"]}).status_code == 303
    elif visitor != "anonymous":
        user = world["people"][visitor]
        assert factories.sign_in(client, user.email, PASSWORD).status_code == 303
    return client


def _routes(app, args):
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
            url = url_for(rule.endpoint, **{name: args[name] for name in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.endpoint, method, url


@pytest.mark.parametrize("visitor", VISITORS)
def test_access_matrix(app, db, world, visitor):
    client = _client(app, world, visitor)
    forged = {"reason": "x", "days": "5", "channel": "cash", "q": "x", "method": "counter", "monthly_quota": "5",
              "name": "Mallory", "email": "mallory@example.org", "role": "admin"}
    problems = []
    for endpoint, method, url in _routes(app, world["args"]):
        if endpoint in ("auth.logout", "reserve.forget"):
            continue  # they end the visitor's session: checked separately below
        response = client.open(url, method=method, data=forged if method == "POST" else None)
        response.close()
        expected = EXPECTED[RULES[endpoint]][visitor]
        if response.status_code not in expected or response.status_code >= 500:
            problems.append(f"{visitor} {method} {url} ({endpoint}): {response.status_code}, expected {sorted(expected)}")
    assert not problems, "\n".join(problems)
    # Nobody but the right people changed anything: the reservation is still confirmed.
    db.session.expire_all()
    state = db.session.scalar(sa.select(Reservation.status).where(Reservation.id == world["reservation_id"]))
    if visitor in ("anonymous", "worker_b"):
        assert state.value == "confirmed", visitor


@pytest.mark.parametrize("visitor", ["anonymous", "worker_a"])
def test_sign_out_needs_a_session(app, db, world, visitor):
    client = _client(app, world, visitor)
    assert client.post("/logout").status_code == (302 if visitor == "anonymous" else 303)
