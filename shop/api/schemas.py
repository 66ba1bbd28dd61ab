"""Request and response schemas of the API: the OpenAPI document is generated from them.

They check shapes only (fields, types, a JSON object): the rules (price caps, serial numbers,
the lifecycle, erasure before sale) are the services', with their own translated messages.
Unknown fields are refused (marshmallow's default, RAISE).
"""

from marshmallow import Schema, fields, validate

from shop.models import (
    ApiRole, Category, CodeState, DeviceStatus, ErasureMethod, ErasureResult, Grade, KeyboardLayout, ReservationStatus,
)
from shop.services import devices, stock_import

MAX_ITEMS = 5_000  # devices or erasure records in one request


def _values(enum_cls, members=None):
    return [member.value for member in (members or enum_cls)]


class Strict(Schema):
    """Integers are JSON integers ("12" is refused), as a generated client sends them."""

    class Meta:
        ordered = True


def Int(**kwargs):
    return fields.Integer(strict=True, **kwargs)


class ListArgs(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200), metadata={"description": "Items per page (1-200)."})
    cursor = fields.String(load_default=None, validate=validate.Length(max=40),
                           metadata={"description": "The `next_cursor` of the previous page."})


class Page(Strict):
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page."})


class ProblemItem(Strict):
    item = fields.Integer(metadata={"description": "Index of the item in the request's list, from 0."})
    field = fields.String(allow_none=True)
    detail = fields.String()


class Problem(Strict):
    """RFC 9457 problem details (application/problem+json); `detail` in the Accept-Language language."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(fields.Nested(ProblemItem))


# Every POST: a key of the client's choice; a retry with the same key gets the first answer.
IDEMPOTENCY_KEY = {"parameters": [{"in": "header", "name": "Idempotency-Key", "required": True,
                                   "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                                   "description": "One per operation; resend the same key to retry."}]}


# --- Tokens ---------------------------------------------------------------------------------------

class TokenInfo(Strict):
    name = fields.String()
    role = fields.String(metadata={"enum": _values(ApiRole)})
    donor_ids = fields.List(fields.Integer())
    organisation_id = fields.Integer(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)


class PickupPointOut(Strict):
    id = fields.Integer()
    name = fields.String()
    town = fields.String()


class PickupPointPage(Page):
    items = fields.List(fields.Nested(PickupPointOut))


# --- Batches --------------------------------------------------------------------------------------

class BatchIn(Strict):
    donor_id = Int(required=True)
    reference = fields.String(required=True, validate=validate.Length(max=40))
    received_on = fields.Date(required=True)
    declared_count = Int(load_default=0)
    collection_site = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=160))
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class BatchOut(Strict):
    id = fields.Integer()
    donor_id = fields.Integer()
    reference = fields.String()
    received_on = fields.Date()
    declared_count = fields.Integer()
    collection_site = fields.String(allow_none=True)


class BatchPage(Page):
    items = fields.List(fields.Nested(BatchOut))


# --- Devices --------------------------------------------------------------------------------------

class DeviceIn(Strict):
    """One device, with the columns of the CSV import (docs/IMPORT.md) and the same rules."""

    serial_number = fields.String(required=True)
    category = fields.String(required=True, metadata={"enum": _values(Category)})
    brand = fields.String(required=True)
    model = fields.String(required=True)
    grade = fields.String(required=True, metadata={"enum": _values(Grade)})
    batch = fields.String(required=True, metadata={"description": "Reference of one of the token's batches."})
    cpu = fields.String(allow_none=True)
    ram_gb = Int(allow_none=True)
    storage_gb = Int(allow_none=True)
    screen_inches = fields.Float(allow_none=True)
    os = fields.String(allow_none=True)
    keyboard_layout = fields.String(allow_none=True, metadata={"enum": _values(KeyboardLayout)})
    battery_health = Int(allow_none=True)
    price_cents = Int(allow_none=True, metadata={"description": "None: the price grid's. Legal caps apply."})
    status = fields.String(allow_none=True, metadata={"enum": _values(DeviceStatus, stock_import.IMPORT_STATUSES)})
    erasure_method = fields.String(allow_none=True, metadata={"enum": _values(ErasureMethod)})
    erasure_tool = fields.String(allow_none=True)
    erasure_tool_version = fields.String(allow_none=True)
    erased_on = fields.Date(allow_none=True)
    erasure_operator = fields.String(allow_none=True)
    erasure_certificate = fields.String(allow_none=True)


class DevicesIn(Strict):
    pickup_point_id = Int(required=True)
    devices = fields.List(fields.Nested(DeviceIn), required=True, validate=validate.Length(1, MAX_ITEMS))


class DevicesCreated(Strict):
    count = fields.Integer()
    serial_numbers = fields.List(fields.String())


class ErasureOut(Strict):
    method = fields.String(metadata={"enum": _values(ErasureMethod)})
    tool = fields.String()
    tool_version = fields.String(allow_none=True)
    performed_on = fields.Date()
    operator = fields.String()
    result = fields.String(metadata={"enum": _values(ErasureResult)})
    certificate_reference = fields.String(allow_none=True)


FATES = ("in_preparation", "returned", "listed", "reserved", "sold", "withdrawn", "recycled")


class DeviceOut(Strict):
    serial_number = fields.String()
    category = fields.String(metadata={"enum": _values(Category)})
    brand = fields.String()
    model = fields.String()
    grade = fields.String(metadata={"enum": _values(Grade)})
    price_cents = fields.Integer()
    status = fields.String(metadata={"enum": _values(DeviceStatus)})
    fate = fields.String(metadata={"enum": list(FATES), "description": "What became of the device."})
    batch_id = fields.Integer(allow_none=True)
    pickup_point_id = fields.Integer()
    updated_at = fields.DateTime()
    erasure_records = fields.List(fields.Nested(ErasureOut))


class DevicePage(Page):
    items = fields.List(fields.Nested(DeviceOut))


class MoveIn(Strict):
    to = fields.String(required=True, validate=validate.OneOf(_values(DeviceStatus, devices.MANUAL_TARGETS)),
                       metadata={"description": "Reserving and selling belong to the shop, not to a client."})


class ErasureIn(Strict):
    method = fields.String(required=True, validate=validate.OneOf(_values(ErasureMethod)))
    tool = fields.String(required=True, validate=validate.Length(max=120))
    tool_version = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    performed_on = fields.Date(required=True)
    operator = fields.String(required=True, validate=validate.Length(max=160))
    result = fields.String(required=True, validate=validate.OneOf(_values(ErasureResult)))
    certificate_reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))


class ErasureItemIn(ErasureIn):
    serial_number = fields.String(required=True)


class ErasuresIn(Strict):
    records = fields.List(fields.Nested(ErasureItemIn), required=True, validate=validate.Length(1, MAX_ITEMS))


class ErasuresCreated(Strict):
    count = fields.Integer()


# --- Donor report ---------------------------------------------------------------------------------

class ReportLine(Strict):
    category = fields.String(metadata={"enum": _values(Category)})
    received = fields.Integer()
    sold = fields.Integer()
    in_stock = fields.Integer()
    recycled = fields.Integer()


class ReportOut(Strict):
    donor_id = fields.Integer()
    declared = fields.Integer()
    received = fields.Integer()
    erased = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    categories = fields.List(fields.Nested(ReportLine))
    money_saved_cents = fields.Integer()


# --- Partner: codes -------------------------------------------------------------------------------

class CodeReservation(Strict):
    status = fields.String(metadata={"enum": _values(ReservationStatus)})
    category = fields.String(metadata={"enum": _values(Category)})
    created_at = fields.DateTime()
    picked_up_at = fields.DateTime(allow_none=True)


class CodeOut(Strict):
    """A code of the structure: no code, no name, only what became of it."""

    id = fields.Integer()
    state = fields.String(metadata={"enum": _values(CodeState)})
    categories = fields.List(fields.String())
    issued_at = fields.DateTime()
    expires_at = fields.DateTime()
    used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    reservations = fields.List(fields.Nested(CodeReservation))


class CodePage(Page):
    items = fields.List(fields.Nested(CodeOut))
