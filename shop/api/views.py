"""The /api/v1/ endpoints: thin views over the same services as the pages and the CSV import."""

import sqlalchemy as sa
from flask import g, request
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint

from shop.api import problems
from shop.api import schemas as s
from shop.api.auth import actor, allow, check_request, decode_cursor, encode_cursor, idempotent
from shop.extensions import db
from shop.models import AftersaleCase, ApiRole, CaseOutcome, Category, DeviceStatus, ErasureMethod, ErasureResult
from shop.models import PickupPoint, Reservation
from shop.models import Device
from shop.models.types import utcnow
from shop.services import donations, erasure, impact, stock_import
from shop.services import devices as device_service
from shop.services.errors import Conflict, DomainError, NotFound

bp = Blueprint("api", __name__, url_prefix="/api/v1", description="Solidarity Shop API")

bp.before_request(check_request)  # the token, its role and rate limit, the body's size and type


@bp.after_request
def conditional(response):
    """Reads carry an ETag; a client sending it back in If-None-Match gets 304 Not Modified."""
    if request.method == "GET" and response.status_code == 200:
        response.add_etag(weak=True)  # weak: the same JSON may go out gzipped or not
        response.headers["Cache-Control"] = "private, no-cache"
        return response.make_conditional(request)
    return response


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    if isinstance(error, NotFound):
        return problems.problem(404, error.message)
    if isinstance(error, Conflict):
        return problems.problem(409, error.message)
    errors = error.details.get("errors")
    if errors is None and error.details.get("field"):
        errors = [{"field": error.details["field"], "detail": str(error.message)}]
    return problems.problem(422, error.message, errors=errors)


R, D, P = ApiRole.REFURBISHER, ApiRole.DONOR, ApiRole.PARTNER
ALL = (R, D, P)


def _after(args) -> int:
    after = decode_cursor(args["cursor"])
    if after is None:
        raise DomainError(_l("Wrong type or value for this field."), field="cursor")
    return after


def _page(items, limit, dump):
    """One page and the cursor of the next (one item more is read to know whether there is one)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": [dump(item) for item in items],
            "next_cursor": encode_cursor(items[-1].id) if more and items else None}


@bp.route("/token")
@allow(*ALL)
@bp.response(200, s.TokenInfo)
def token_info():
    """What the token calling may do."""
    token = g.api_token
    return {"name": token.name, "role": token.role.value, "donor_ids": g.api_scope.donor_ids,
            "organisation_id": token.organisation_id, "expires_at": token.expires_at}


@bp.route("/pickup-points")
@allow(R)
@bp.arguments(s.ListArgs, location="query")
@bp.response(200, s.PickupPointPage)
def pickup_points(args):
    """The open pickup points where devices can be brought."""
    points = list(db.session.scalars(sa.select(PickupPoint).where(PickupPoint.active, PickupPoint.id > _after(args))
                                     .order_by(PickupPoint.id).limit(args["limit"] + 1)))
    return _page(points, args["limit"], lambda p: {"id": p.id, "name": p.name, "town": p.town})


# --- Batches ------------------------------------------------------------------------------------------

def _batch(batch):
    return {"id": batch.id, "donor_id": batch.donor_id, "reference": batch.reference, "received_on": batch.received_on,
            "declared_count": batch.declared_count, "collection_site": batch.collection_site}


@bp.route("/batches")
@allow(R, D)
@bp.arguments(s.ListArgs, location="query")
@bp.response(200, s.BatchPage)
def list_batches(args):
    """The batches of the token's donors, oldest first."""
    return _page(g.api_scope.batches(after_id=_after(args), limit=args["limit"] + 1), args["limit"], _batch)


@bp.route("/batches", methods=["POST"])
@allow(R)
@idempotent
@bp.doc(**s.IDEMPOTENCY_KEY)
@bp.arguments(s.BatchIn)
@bp.response(201, s.BatchOut)
def create_batch(data):
    """Record a donation batch of one of the token's donors."""
    try:
        donor = g.api_scope.donor(data["donor_id"])
    except NotFound as error:  # another refurbisher's donor looks unknown, like a donor that does not exist
        raise DomainError(error.message, field="donor_id") from None
    batch = donations.create_batch(donor, donations.BatchData(
        reference=data["reference"], received_on=data["received_on"], declared_count=data["declared_count"],
        collection_site=data["collection_site"], notes=data["notes"]), actor=actor())
    return _batch(batch)


@bp.route("/batches/<int:batch_id>")
@allow(R, D)
@bp.response(200, s.BatchOut)
def get_batch(batch_id):
    return _batch(g.api_scope.batch(batch_id))


@bp.route("/batches/<int:batch_id>/devices")
@allow(R, D)
@bp.arguments(s.ListArgs, location="query")
@bp.response(200, s.DevicePage)
def batch_devices(args, batch_id):
    """The devices of a batch and what became of each."""
    found = g.api_scope.devices(batch_id=batch_id, after_id=_after(args), limit=args["limit"] + 1)
    return _page(found, args["limit"], _devices(found))


# --- Devices ------------------------------------------------------------------------------------------

PREPARATION = (DeviceStatus.RECEIVED, DeviceStatus.ERASED, DeviceStatus.REFURBISHED)


def fate(status: DeviceStatus, returned: bool = False) -> str:
    """A device back in preparation because its buyer brought it back (an after-sale exchange or
    refund) is "returned" until it is on sale again."""
    if status in PREPARATION:
        return "returned" if returned else "in_preparation"
    return status.value


def _taken_back(devices) -> set[int]:
    """Which of these devices in preparation a buyer brought back: one query for a whole page."""
    ids = [d.id for d in devices if d.status in PREPARATION]
    if not ids:
        return set()
    return set(db.session.scalars(sa.select(AftersaleCase.device_id).where(
        AftersaleCase.device_id.in_(ids), AftersaleCase.outcome.in_((CaseOutcome.EXCHANGED, CaseOutcome.REFUNDED)))))


def _devices(devices):
    returned = _taken_back(devices)
    return lambda device: _device(device, device.id in returned)


def _device(device, returned: bool | None = None):
    if returned is None:
        returned = device.id in _taken_back([device])
    return {
        "serial_number": device.serial_number, "category": device.category.value, "brand": device.brand,
        "model": device.model, "grade": device.grade.value, "price_cents": device.price_cents,
        "status": device.status.value, "fate": fate(device.status, returned), "batch_id": device.batch_id,
        "pickup_point_id": device.pickup_point_id, "updated_at": device.updated_at,
        "erasure_records": [
            {"method": r.method.value, "tool": r.tool, "tool_version": r.tool_version, "performed_on": r.performed_on,
             "operator": r.operator, "result": r.result.value, "certificate_reference": r.certificate_reference}
            for r in device.erasure_records],
    }


# The API's field names where they differ from the CSV's column names.
_API_FIELD = {"price": "price_cents"}


@bp.route("/devices", methods=["POST"])
@allow(R)
@idempotent
@bp.doc(**s.IDEMPOTENCY_KEY)
@bp.arguments(s.DevicesIn)
@bp.response(201, s.DevicesCreated)
def create_devices(data):
    """Add one device or many: all are stored, or none (each problem names its item and field)."""
    point = db.session.get(PickupPoint, data["pickup_point_id"])
    if point is None:
        raise DomainError(_l("This pickup point is closed: choose another one."), field="pickup_point_id")
    items = []
    for item in data["devices"]:
        row = {key: value for key, value in item.items() if key != "price_cents"}
        cents = item.get("price_cents")
        row["price"] = None if cents is None else f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
        items.append(row)
    checked = stock_import.check_items(items, pickup_point=point)
    problems = [{"item": p.line, "field": _API_FIELD.get(p.column, p.column), "detail": str(p.message)}
                for p in checked.problems]
    # A batch of another refurbisher's donor is "unknown", as the file import says of a missing one.
    known = g.api_scope.batch_references({item["batch"] for item in data["devices"]})
    for index, item in enumerate(data["devices"]):
        if item["batch"] not in known and not any(p.get("item") == index and p["field"] == "batch" for p in problems):
            problems.append({"item": index, "field": "batch", "detail": str(
                _l("Unknown donation batch “%(reference)s”.", reference=item["batch"][:40]))})
    if problems:
        raise DomainError(_l("The request has problems: nothing was stored."),
                          errors=sorted(problems, key=lambda p: (p.get("item") is None, p.get("item") or 0)))
    stock_import.insert_checked(checked, pickup_point=point, actor=actor())
    return {"count": len(checked.rows), "serial_numbers": [row["serial_number"] for row in checked.rows]}


@bp.route("/devices/<serial>")
@allow(R, D)
@bp.response(200, s.DeviceOut)
def get_device(serial):
    """A device and its fate: in preparation, returned (brought back by its buyer), listed, reserved, sold,
    withdrawn or recycled."""
    return _device(g.api_scope.device(serial))


@bp.route("/devices/<serial>/moves", methods=["POST"])
@allow(R)
@idempotent
@bp.doc(**s.IDEMPOTENCY_KEY)
@bp.arguments(s.MoveIn)
@bp.response(200, s.DeviceOut)
def move_device(data, serial):
    """Move a device along its lifecycle (the same table as staff's buttons)."""
    device = g.api_scope.device(serial)
    device_service.move_by_hand(device, DeviceStatus(data["to"]), actor=actor())
    db.session.refresh(device)
    return _device(device)


def _erasure_data(data) -> erasure.ErasureData:
    return erasure.ErasureData(
        method=ErasureMethod(data["method"]), tool=data["tool"], tool_version=data["tool_version"],
        performed_on=data["performed_on"], operator=data["operator"], result=ErasureResult(data["result"]),
        certificate_reference=data["certificate_reference"])


@bp.route("/devices/<serial>/erasures", methods=["POST"])
@allow(R)
@idempotent
@bp.doc(**s.IDEMPOTENCY_KEY)
@bp.arguments(s.ErasureIn)
@bp.response(201, s.DeviceOut)
def record_erasure(data, serial):
    """Record a data erasure (a failed one too: it is part of the device's history)."""
    device = g.api_scope.device(serial)
    erasure.record(device, _erasure_data(data), actor=actor())
    db.session.refresh(device)
    return _device(device)


@bp.route("/erasures", methods=["POST"])
@allow(R)
@idempotent
@bp.doc(**s.IDEMPOTENCY_KEY)
@bp.arguments(s.ErasuresIn)
@bp.response(201, s.ErasuresCreated)
def record_erasures(data):
    """Record erasures of many devices: all, or none."""
    serials = [item["serial_number"][:80] for item in data["records"]]
    found = {d.serial_number: d for d in db.session.scalars(
        g.api_scope._devices().where(Device.serial_number.in_(sorted(set(serials)))))}
    problems = []
    for index, item in enumerate(data["records"]):
        device = found.get(item["serial_number"])
        if device is None:
            problems.append({"item": index, "field": "serial_number", "detail": str(_l("This device does not exist."))})
            continue
        try:
            erasure.record(device, _erasure_data(item), actor=actor())
        except DomainError as error:
            problems.append({"item": index, "field": error.details.get("field"), "detail": str(error.message)})
    if problems:
        raise DomainError(_l("The request has problems: nothing was stored."), errors=problems)
    return {"count": len(serials)}


# --- Donor report -------------------------------------------------------------------------------------

@bp.route("/report")
@allow(D)
@bp.response(200, s.ReportOut)
def donor_report():
    """The donor's report: what was received, erased, sold, recycled, and the money saved."""
    donor = g.api_scope.donor(g.api_scope.donor_ids[0])
    report = impact.donor_report(donor)
    return {"donor_id": donor.id, "declared": report.declared, "received": report.received, "erased": report.erased,
            "by_status": {status.value: n for status, n in report.by_status.items()},
            "categories": [{"category": line.category.value, "received": line.received, "sold": line.sold,
                            "in_stock": line.in_stock, "recycled": line.recycled} for line in report.categories],
            "money_saved_cents": report.money_saved_cents}


# --- Partner: the structure's codes ---------------------------------------------------------------------

@bp.route("/codes")
@allow(P)
@bp.arguments(s.ListArgs, location="query")
@bp.response(200, s.CodePage)
def codes(args):
    """The structure's codes: states, dates, categories and their reservations. No names, no codes."""
    now = utcnow()
    found = g.api_scope.codes(after_id=_after(args), limit=args["limit"] + 1)
    reservations: dict[int, list] = {}
    if found:
        rows = db.session.execute(
            sa.select(Reservation.code_id, Reservation.status, Device.category, Reservation.created_at,
                      Reservation.picked_up_at)
            .join(Device, Device.id == Reservation.device_id)
            .where(Reservation.code_id.in_([c.id for c in found])).order_by(Reservation.id))
        for row in rows:
            reservations.setdefault(row.code_id, []).append(
                {"status": row.status.value, "category": Category(row.category).value, "created_at": row.created_at,
                 "picked_up_at": row.picked_up_at})

    def dump(code):
        return {"id": code.id, "state": code.state(now).value, "categories": [c.value for c in code.category_list],
                "issued_at": code.issued_at, "expires_at": code.expires_at, "used_at": code.used_at,
                "revoked_at": code.revoked_at, "reservations": reservations.get(code.id, [])}

    return _page(found, args["limit"], dump)



