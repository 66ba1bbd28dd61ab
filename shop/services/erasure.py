"""Erasure records: the proof that a device's data is gone, typed in by staff or imported as CSV."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from shop.extensions import db
from shop.models import Device, ErasureMethod, ErasureRecord, ErasureResult
from shop.models.types import utcnow
from shop.services import audit
from shop.services.errors import DomainError
from shop.services.tx import atomic


@dataclass
class ErasureData:
    method: ErasureMethod
    tool: str
    tool_version: str | None
    performed_on: date
    operator: str
    result: ErasureResult
    certificate_reference: str | None


def _check(data: ErasureData, today: date) -> None:
    if not (data.tool or "").strip():
        raise DomainError(_l("Name the erasure tool."), field="tool")
    if not (data.operator or "").strip():
        raise DomainError(_l("Name who performed the erasure."), field="operator")
    if data.performed_on > today:
        raise DomainError(_l("The erasure date cannot be in the future."), field="performed_on")


@atomic
def record(device: Device, data: ErasureData, *, actor) -> ErasureRecord:
    """Add one erasure record to a device (a failed one too: it is part of the device's history)."""
    _check(data, utcnow().date())
    row = ErasureRecord(
        device_id=device.id, method=ErasureMethod(data.method), tool=data.tool.strip(),
        tool_version=(data.tool_version or "").strip() or None, performed_on=data.performed_on,
        operator=data.operator.strip(), result=ErasureResult(data.result),
        certificate_reference=(data.certificate_reference or "").strip() or None,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "erasure.record", device, result=row.result.value)
    return row


def records_for_batch(batch_id: int) -> list[tuple[str, ErasureRecord]]:
    """(serial number, record) for every erasure record of a batch's devices, by serial number."""
    return list(db.session.execute(
        sa.select(Device.serial_number, ErasureRecord)
        .join(ErasureRecord, ErasureRecord.device_id == Device.id)
        .where(Device.batch_id == batch_id)
        .order_by(Device.serial_number, ErasureRecord.performed_on, ErasureRecord.id)
    ).tuples())


def recent(point_ids: list[int] | None, limit: int = 50) -> list[tuple[str, ErasureRecord]]:
    """The latest records at these pickup points (all points for None)."""
    stmt = (sa.select(Device.serial_number, ErasureRecord).join(ErasureRecord, ErasureRecord.device_id == Device.id)
            .order_by(ErasureRecord.id.desc()).limit(limit))
    if point_ids is not None:
        stmt = stmt.where(Device.pickup_point_id.in_(point_ids))
    return list(db.session.execute(stmt).tuples())


# --- CSV import ---------------------------------------------------------------------------------

COLUMNS = ("serial_number", "method", "tool", "tool_version", "performed_on", "operator", "result",
           "certificate_reference")
# Header names a spreadsheet may use, folded to lower case without spaces, dashes or underscores.
ALIASES = {
    "serialnumber": "serial_number", "serial": "serial_number", "numerodeserie": "serial_number",
    "method": "method", "methode": "method",
    "tool": "tool", "outil": "tool",
    "toolversion": "tool_version", "version": "tool_version",
    "performedon": "performed_on", "date": "performed_on",
    "operator": "operator", "operateur": "operator",
    "result": "result", "resultat": "result",
    "certificatereference": "certificate_reference", "certificate": "certificate_reference",
    "certificat": "certificate_reference",
}
REQUIRED = ("serial_number", "method", "tool", "performed_on", "operator", "result")
RESULT_WORDS = {
    "success": ErasureResult.SUCCESS, "succeeded": ErasureResult.SUCCESS, "ok": ErasureResult.SUCCESS,
    "pass": ErasureResult.SUCCESS, "passed": ErasureResult.SUCCESS, "reussi": ErasureResult.SUCCESS,
    "failure": ErasureResult.FAILURE, "failed": ErasureResult.FAILURE, "fail": ErasureResult.FAILURE,
    "echec": ErasureResult.FAILURE, "echoue": ErasureResult.FAILURE,
}
MAX_ROWS = 5000
LIMITS = {"serial_number": 80, "tool": 120, "tool_version": 40, "operator": 160, "certificate_reference": 120}


def _fold(text: str) -> str:
    table = str.maketrans("éèêàçôû", "eeeacou")
    return "".join(ch for ch in text.strip().lower().translate(table) if ch.isalnum())


@dataclass
class Problem:
    line: int
    column: str | None
    message: object


@dataclass
class ParsedFile:
    rows: list = field(default_factory=list)  # (line, device_id, serial_number, ErasureData)
    problems: list = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return bool(self.rows) and not self.problems


def decode(raw: bytes) -> str:
    """The file's text: UTF-8, with or without a byte-order mark."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(_l("The file is not in UTF-8. Save it as “CSV UTF-8” and try again."), field="file")


def _parse_date(text: str) -> date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def parse(text: str, *, point_ids: list[int] | None, today: date | None = None) -> ParsedFile:
    """Check a whole file: each problem with its line and column; rows only if all are valid.

    `point_ids` limits the serial numbers to the devices at those pickup points (None: all).
    """
    today = today or utcnow().date()
    parsed = ParsedFile()
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        parsed.problems.append(Problem(1, None, _l("The file is empty.")))
        return parsed
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader)
    names = [ALIASES.get(_fold(name)) for name in header]
    missing = [column for column in REQUIRED if column not in names]
    for column in missing:
        parsed.problems.append(Problem(1, column, _l("This column is missing.")))
    unknown = [name for name, known in zip(header, names) if known is None and name.strip()]
    for name in unknown:
        parsed.problems.append(Problem(1, name, _l("Unknown column.")))
    if parsed.problems:
        return parsed
    records = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(records) >= MAX_ROWS:
            parsed.problems.append(Problem(number, None, _l("Too many lines: at most %(max)d per file.", max=MAX_ROWS)))
            return parsed
        if len(cells) != len(header):
            parsed.problems.append(Problem(number, None, lazy_ngettext(
                "This line has %(num)d cell instead of %(expected)d.", "This line has %(num)d cells instead of %(expected)d.",
                len(cells), expected=len(header))))
            continue
        records.append((number, {name: cell.strip() for name, cell in zip(names, cells) if name}))
    if not records and not parsed.problems:
        parsed.problems.append(Problem(2, None, _l("The file has no lines after its header.")))
        return parsed
    serials = {values["serial_number"] for _, values in records if values.get("serial_number")}
    stmt = sa.select(Device.serial_number, Device.id).where(Device.serial_number.in_(serials))
    if point_ids is not None:
        stmt = stmt.where(Device.pickup_point_id.in_(point_ids))
    known = dict(db.session.execute(stmt).tuples().all()) if serials else {}
    methods = {m.value: m for m in ErasureMethod}
    candidates = []
    for number, values in records:
        problems_before = len(parsed.problems)

        def refuse(column, message):
            parsed.problems.append(Problem(number, column, message))

        for column in REQUIRED:
            if not values.get(column):
                refuse(column, _l("This cell is empty."))
        for column, limit in LIMITS.items():
            if len(values.get(column) or "") > limit:
                refuse(column, lazy_ngettext("Too long: at most %(num)d character.", "Too long: at most %(num)d characters.", limit))
        serial = values.get("serial_number")
        if serial and serial not in known:
            refuse("serial_number", _l("No device with this serial number in the stock."))
        method = methods.get((values.get("method") or "").strip().lower())
        if values.get("method") and method is None:
            refuse("method", _l("Unknown method. Use one of: %(methods)s.", methods=", ".join(methods)))
        result = RESULT_WORDS.get(_fold(values.get("result") or ""))
        if values.get("result") and result is None:
            refuse("result", _l("Write “success” or “failure”."))
        performed_on = None
        if values.get("performed_on"):
            try:
                performed_on = _parse_date(values["performed_on"])
            except ValueError:
                refuse("performed_on", _l("Write the date as YYYY-MM-DD or DD/MM/YYYY."))
            else:
                if performed_on > today:
                    refuse("performed_on", _l("The erasure date cannot be in the future."))
        if len(parsed.problems) == problems_before:
            candidates.append((number, known[serial], serial, ErasureData(
                method=method, tool=values["tool"], tool_version=values.get("tool_version") or None,
                performed_on=performed_on, operator=values["operator"], result=result,
                certificate_reference=values.get("certificate_reference") or None,
            )))
    if not parsed.problems:
        parsed.rows = candidates
    return parsed


@atomic
def import_rows(parsed: ParsedFile, *, actor) -> int:
    """Store every row of a valid file, or none."""
    if not parsed.valid:
        raise DomainError(_l("The file has problems: nothing was imported."), field="file")
    now = utcnow()
    db.session.execute(sa.insert(ErasureRecord), [
        dict(device_id=device_id, method=data.method, tool=data.tool, tool_version=data.tool_version,
             performed_on=data.performed_on, operator=data.operator, result=data.result,
             certificate_reference=data.certificate_reference, created_at=now)
        for _, device_id, _, data in parsed.rows
    ])
    audit.record(actor, "erasure.import", None, rows=len(parsed.rows))
    return len(parsed.rows)
