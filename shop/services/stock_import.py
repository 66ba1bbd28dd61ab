"""Bringing a refurbisher's device file into the stock: check every line, then import all or nothing.

`check(content, ...)` reads the bytes and reports every problem by line and column, with a
constant number of queries whatever the file's size. `import_devices(...)` checks again (the
database may have changed since the preview) and inserts every device with bulk statements in
the caller's transaction. The columns are documented in docs/IMPORT.md.
"""

import csv
import hashlib
import io
import re
import secrets
import unicodedata
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from shop.extensions import db
from shop.models import (
    Category, Device, DeviceEvent, DeviceStatus, DonationBatch, ErasureMethod, ErasureRecord, ErasureResult,
    Grade, KeyboardLayout, PendingImport, PickupPoint,
)
from shop.models.stock import new_passport_token, offer_key_for
from shop.models.types import utcnow
from shop.services import audit, pricing, tx
from shop.services.errors import DomainError, NotFound
from shop.services.tx import atomic

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
PENDING_LIFETIME = timedelta(hours=2)
PREVIEW_ROWS = 10
IMPORT_NOTE = "imported"
_CHUNK = 5_000  # serials looked up per query: one query for a file of the usual size


@dataclass(frozen=True)
class Column:
    key: str  # the Device (or erasure) attribute it fills
    fr: str
    en: str
    required: bool = False
    erasure: bool = False


COLUMNS = (
    Column("serial_number", "numero_serie", "serial_number", required=True),
    Column("category", "categorie", "category", required=True),
    Column("brand", "marque", "brand", required=True),
    Column("model", "modele", "model", required=True),
    Column("cpu", "processeur", "cpu"),
    Column("ram_gb", "ram_go", "ram_gb"),
    Column("storage_gb", "stockage_go", "storage_gb"),
    Column("screen_inches", "ecran_pouces", "screen_inches"),
    Column("os", "systeme", "os"),
    Column("keyboard_layout", "clavier", "keyboard_layout"),
    Column("grade", "etat", "grade", required=True),
    Column("battery_health", "batterie", "battery_health"),
    Column("price", "prix", "price"),
    Column("batch", "lot", "batch"),
    Column("status", "statut", "status"),
    Column("erasure_method", "methode_effacement", "erasure_method", erasure=True),
    Column("erasure_tool", "outil_effacement", "erasure_tool", erasure=True),
    Column("erasure_tool_version", "version_outil", "erasure_tool_version", erasure=True),
    Column("erased_on", "date_effacement", "erased_on", erasure=True),
    Column("erasure_operator", "operateur", "erasure_operator", erasure=True),
    Column("erasure_certificate", "certificat", "erasure_certificate", erasure=True),
)
REQUIRED_ERASURE = ("erasure_method", "erasure_tool", "erased_on", "erasure_operator")
IMPORT_STATUSES = (DeviceStatus.RECEIVED, DeviceStatus.ERASED, DeviceStatus.REFURBISHED)


@lru_cache(maxsize=4096)  # the same few category, grade and status spellings, thousands of times
def _fold(text: str) -> str:
    """Lower case, accents and punctuation folded: "Numéro série" and "numero_serie" match."""
    text = unicodedata.normalize("NFKD", text.strip().lstrip("\ufeff")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


_HEADERS = {_fold(name): column for column in COLUMNS for name in (column.fr, column.en)}


@dataclass(frozen=True)
class Problem:
    line: int | None  # line of the file, the header being line 1
    column: str | None  # the column's name as written in the file
    message: str


@dataclass
class Checked:
    """What a file holds: rows ready to insert, or the problems that stop the import."""

    problems: list[Problem] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)  # Device column values, plus "_erasure" and "_line"
    row_count: int = 0
    headers: list[str] = field(default_factory=list)
    delimiter: str = ";"

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)


# --- Reading values --------------------------------------------------------------------------------

def _choices(enum_cls, members=None, extra=()) -> dict[str, object]:
    """Every way a member may be written: its value, and its label in French and English."""
    found = {}
    for member in members or enum_cls:
        names = [member.value]
        for language in ("fr", "en"):
            with force_locale(language):
                label = str(member.label)
            names += [label, label.split(":")[0]]
        for name in names:
            found.setdefault(_fold(name), member)
    for name, member in extra:
        found.setdefault(_fold(name), member)
    return found


class _Refused(Exception):
    def __init__(self, message):
        self.message = message


def _text(limit):
    def read(value):
        if len(value) > limit:
            raise _Refused(lazy_ngettext("At most %(num)d character.", "At most %(num)d characters.", limit))
        return value
    return read


def _integer(low, high):
    def read(value):
        cleaned = value.replace("%", "").replace(" ", "").strip()
        if not re.fullmatch(r"\d+", cleaned):
            raise _Refused(_l("“%(value)s” is not a whole number.", value=value[:20]))
        number = int(cleaned)
        if not low <= number <= high:
            raise _Refused(_l("Must be between %(low)d and %(high)d.", low=low, high=high))
        return number
    return read


def _screen_tenths(value):
    match = re.fullmatch(r"(\d{1,3})(?:[.,](\d))?\d*", value.replace("\"", "").replace("″", "").strip())
    if match is None:
        raise _Refused(_l("“%(value)s” is not a screen size in inches, such as 15.6.", value=value[:20]))
    tenths = int(match.group(1)) * 10 + int(match.group(2) or 0)
    if not 10 <= tenths <= 1000:
        raise _Refused(_l("Must be between %(low)d and %(high)d.", low=1, high=100))
    return tenths


@lru_cache(maxsize=1024)
def _parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    for pattern in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def _date(value):
    day = _parse_day(value.strip())
    if day is None:
        raise _Refused(_l("“%(value)s” is not a date such as 2026-03-31 or 31/03/2026.", value=value[:20]))
    if day > date.today():
        raise _Refused(_l("This date is in the future."))
    return day


def _price(value):
    try:
        return pricing.parse_euros(value)
    except DomainError as error:
        raise _Refused(error.message) from None


class _Reader:
    """The parsers of one check, with the enum spellings computed once."""

    def __init__(self):
        self.category = _choices(Category, extra=[("ordinateur", Category.LAPTOP), ("portable", Category.LAPTOP),
                                                  ("telephone", Category.SMARTPHONE), ("ecran", Category.SCREEN)])
        self.grade = _choices(Grade, extra=[("comme neuf", Grade.A), ("bon", Grade.B), ("correct", Grade.C)])
        self.keyboard = _choices(KeyboardLayout)
        self.status = _choices(DeviceStatus, IMPORT_STATUSES, extra=[("recu", DeviceStatus.RECEIVED),
                                                                    ("efface", DeviceStatus.ERASED)])
        self.method = _choices(ErasureMethod)
        self.parsers = {
            "serial_number": _text(80), "brand": _text(60), "model": _text(120), "cpu": _text(120),
            "ram_gb": _integer(1, 1024), "storage_gb": _integer(1, 100_000), "screen_inches": _screen_tenths,
            "os": _text(60), "battery_health": _integer(0, 100), "price": _price, "batch": _text(40),
            "erasure_tool": _text(120), "erasure_tool_version": _text(40), "erased_on": _date,
            "erasure_operator": _text(160), "erasure_certificate": _text(120),
            "category": self._enum(self.category, lambda value, known: _l(
                "Unknown kind of device “%(value)s”. Use one of: %(known)s.", value=value, known=known)),
            "grade": self._enum(self.grade, lambda value, known: _l(
                "Unknown grade “%(value)s”. Use A, B or C.", value=value)),
            "keyboard_layout": self._enum(self.keyboard, lambda value, known: _l(
                "Unknown keyboard “%(value)s”. Use one of: %(known)s.", value=value, known=known)),
            "status": self._enum(self.status, lambda value, known: _l(
                "Status “%(value)s” cannot be imported. Use one of: %(known)s.", value=value, known=known)),
            "erasure_method": self._enum(self.method, lambda value, known: _l(
                "Unknown erasure method “%(value)s”. Use one of: %(known)s.", value=value, known=known)),
        }

    @staticmethod
    def _enum(choices, message):
        known = ", ".join(dict.fromkeys(m.value for m in choices.values()))

        def read(value):
            member = choices.get(_fold(value))
            if member is None:
                raise _Refused(message(value[:40], known))
            return member
        return read


# --- Checking a file -------------------------------------------------------------------------------

def decode(content: bytes) -> tuple[str | None, Problem | None]:
    """The text of a UTF-8 file (with or without BOM), or the problem that stops reading it."""
    if not content.strip(b"\xef\xbb\xbf \r\n\t"):
        return None, Problem(None, None, _l("The file is empty."))
    try:
        return content.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = content[:error.start].count(b"\n") + 1
        return None, Problem(line, None, _l("The file is not in UTF-8. Save it as “CSV UTF-8” in your "
                                            "spreadsheet program, then send it again."))


def _delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") >= header_line.count(",") else ","


def check(content: bytes, *, pickup_point: PickupPoint) -> Checked:
    """Every problem of the file by line and column, or the rows ready to insert."""
    result = Checked()
    if len(content) > MAX_BYTES:
        result.problems.append(Problem(None, None, too_big_message()))
        return result
    text, problem = decode(content)
    if problem is not None:
        result.problems.append(problem)
        return result
    first_line = text.lstrip().splitlines()[0] if text.strip() else ""
    result.delimiter = _delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=result.delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        result.problems.append(Problem(1, None, _l("The first line must name the columns.")))
        return result
    columns = _read_header(header, result)
    if result.problems:
        return result
    if not pickup_point.active:
        result.problems.append(Problem(None, None, _l("This pickup point is closed: choose another one.")))
        return result
    raw_rows = []
    previous_end = reader.line_num
    try:
        for cells in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are ignored
            result.row_count += 1
            if result.row_count > MAX_ROWS:
                result.problems.append(Problem(None, None, lazy_ngettext(
                    "The file has more than %(num)d device: split it into smaller files.",
                    "The file has more than %(num)d devices: split it into smaller files.", MAX_ROWS)))
                return result
            if len(cells) != len(header):
                result.problems.append(Problem(line, None, lazy_ngettext(
                    "This line has %(num)d cell but the first line names %(expected)d columns. "
                    "Check the separators and quotes.",
                    "This line has %(num)d cells but the first line names %(expected)d columns. "
                    "Check the separators and quotes.", len(cells), expected=len(header))))
                continue
            raw_rows.append((line, cells))
    except csv.Error:
        result.problems.append(Problem(previous_end + 1, None, _l("This line cannot be read: check the quotes.")))
        return result
    if result.row_count == 0:
        result.problems.append(Problem(None, None, _l("The file has a header but no device.")))
        return result
    _check_rows(raw_rows, columns, header, pickup_point, result)
    return result


def _read_header(header: list[str], result: Checked) -> dict[str, int]:
    result.headers = [h.strip().lstrip("\ufeff") for h in header]
    columns: dict[str, int] = {}
    for index, name in enumerate(result.headers):
        column = _HEADERS.get(_fold(name))
        if column is None:
            result.problems.append(Problem(1, name or None, _l("Unknown column “%(name)s”.", name=name[:40])))
        elif column.key in columns:
            result.problems.append(Problem(1, name, _l("This column appears twice.")))
        else:
            columns[column.key] = index
    for column in COLUMNS:
        if column.required and column.key not in columns:
            result.problems.append(Problem(1, column.fr, _l(
                "The column “%(fr)s” (or “%(en)s”) is missing.", fr=column.fr, en=column.en)))
    return columns


def _check_rows(raw_rows, columns, header, pickup_point, result: Checked) -> None:
    reader = _Reader()
    name_of = {key: header[index].strip().lstrip("\ufeff") for key, index in columns.items()}
    serials = [cells[columns["serial_number"]].strip() for _, cells in raw_rows]
    taken = existing_serials(serials)
    references = {cells[columns["batch"]].strip() for _, cells in raw_rows} - {""} if "batch" in columns else set()
    batches = _batches(references)
    prices = pricing.grid()
    first_seen: dict[str, int] = {}
    for line, cells in raw_rows:
        problems_before = len(result.problems)

        def refuse(key, message):
            result.problems.append(Problem(line, name_of.get(key), message))

        values = {}
        for key, index in columns.items():
            value = cells[index].strip()
            if not value:
                values[key] = None
                continue
            try:
                values[key] = reader.parsers[key](value)
            except _Refused as refused:
                refuse(key, refused.message)
                values[key] = _Refused
        for key in ("serial_number", "category", "brand", "model", "grade"):
            if values.get(key) is None:
                refuse(key, _l("This cell must be filled in."))
        serial = values.get("serial_number")
        if isinstance(serial, str):
            if serial in first_seen:
                refuse("serial_number", _l("Serial number “%(serial)s” is already on line %(line)d.",
                                           serial=serial, line=first_seen[serial]))
            else:
                first_seen[serial] = line
                if serial in taken:
                    refuse("serial_number", _l("A device with serial number “%(serial)s” is already in the stock.",
                                               serial=serial))
        batch = None
        if isinstance(values.get("batch"), str):
            batch = batches.get(values["batch"])
            if batch is None:
                refuse("batch", _l("Unknown donation batch “%(reference)s”.", reference=values["batch"]))
        status = values.get("status") or DeviceStatus.RECEIVED
        erasure = {key: values.get(key) for key in REQUIRED_ERASURE + ("erasure_tool_version", "erasure_certificate")}
        erasure_given = any(v is not None for v in erasure.values())
        if status in (DeviceStatus.ERASED, DeviceStatus.REFURBISHED):
            for key in REQUIRED_ERASURE:
                if erasure[key] is None:
                    refuse(key if key in columns else "status", _l(
                        "A device that is “%(status)s” needs its erasure details: method, tool, date and operator.",
                        status=status.label))
                    break
        elif erasure_given and status is not _Refused:
            refuse("status", _l("Erasure details are given: the status must be “erased” or “refurbished”."))
        category, grade, price = values.get("category"), values.get("grade"), values.get("price")
        if isinstance(category, Category) and isinstance(grade, Grade) and price is not _Refused and (
                batch is not None or values.get("batch") is None):
            try:
                price = pricing.resolve_price(category, grade, price, prices=prices,
                                              public_donor=batch is not None and batch.donor.is_public)
            except DomainError as error:
                refuse("price", error.message)
        if len(result.problems) > problems_before:
            continue
        row = {
            "serial_number": serial, "category": category, "brand": values["brand"], "model": values["model"],
            "cpu": values.get("cpu"), "ram_gb": values.get("ram_gb"), "storage_gb": values.get("storage_gb"),
            "screen_tenths": values.get("screen_inches"), "os": values.get("os"),
            "keyboard_layout": values.get("keyboard_layout"), "grade": grade,
            "battery_health": values.get("battery_health"), "price_cents": price, "status": status,
            "pickup_point_id": pickup_point.id, "batch_id": batch.id if batch is not None else None,
            "_line": line, "_erasure": erasure if erasure_given else None,
        }
        row["offer_key"] = offer_key_for(row)
        result.rows.append(row)


def existing_serials(serials: list[str]) -> set[str]:
    """The serial numbers among these that the stock already has, in few queries."""
    wanted = sorted({s for s in serials if s})
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        found.update(db.session.scalars(sa.select(Device.serial_number).where(Device.serial_number.in_(chunk))))
    return found


def _ids_by_serial(serials: list[str]) -> dict[str, int]:
    found = {}
    for start in range(0, len(serials), _CHUNK):
        chunk = serials[start:start + _CHUNK]
        found.update(db.session.execute(
            sa.select(Device.serial_number, Device.id).where(Device.serial_number.in_(chunk))).tuples().all())
    return found


def _batches(references: set[str]) -> dict[str, DonationBatch]:
    if not references:
        return {}
    from sqlalchemy.orm import selectinload

    return {b.reference: b for b in db.session.scalars(
        sa.select(DonationBatch).where(DonationBatch.reference.in_(sorted(references)))
        .options(selectinload(DonationBatch.donor)))}


def too_big_message():
    return _l("This file is larger than %(size)d MB. Split it into smaller files.", size=MAX_BYTES // (1024 * 1024))


# --- Importing -------------------------------------------------------------------------------------

def import_devices(content: bytes, *, pickup_point: PickupPoint, actor) -> Checked:
    """Check the file again and insert every device, or none (DomainError with the problems).

    Bulk INSERTs, in the caller's transaction: devices (offer keys computed here, since bulk
    inserts bypass the ORM listener), one history entry each, erasure records, one audit entry.
    """
    checked = check(content, pickup_point=pickup_point)
    if not checked.ok:
        raise DomainError(_l("The file has problems: nothing was imported."), problems=checked.problems)
    insert_checked(checked, pickup_point=pickup_point, actor=actor)
    return checked


def check_items(items: list[dict], *, pickup_point: PickupPoint) -> Checked:
    """The file's checks for devices given as mappings (the HTTP API): the keys are the English
    column names, item i is "line" i. Same rules, same messages, same constant number of queries."""
    result = Checked(row_count=len(items))
    if not pickup_point.active:
        result.problems.append(Problem(None, None, _l("This pickup point is closed: choose another one.")))
        return result
    header = [column.en for column in COLUMNS]
    columns = {column.key: index for index, column in enumerate(COLUMNS)}
    raw_rows = [(index, ["" if item.get(name) is None else str(item[name]) for name in header])
                for index, item in enumerate(items)]
    _check_rows(raw_rows, columns, header, pickup_point, result)
    return result


def insert_checked(checked: Checked, *, pickup_point: PickupPoint, actor) -> list[int]:
    """Insert checked rows with bulk statements (a constant number of them); returns the new ids."""
    now = utcnow()
    device_columns = [c.name for c in Device.__table__.columns if c.name not in ("id", "held_until", "photo_count")]
    device_rows = [
        {**{name: row.get(name) for name in device_columns}, "created_at": now, "updated_at": now,
         "passport_token": new_passport_token()}
        for row in checked.rows
    ]
    # A plain executemany, then the new ids by serial number: RETURNING in parameter order
    # falls back to one statement per row on SQLite.
    db.session.execute(sa.insert(Device.__table__), device_rows)
    ids = _ids_by_serial([row["serial_number"] for row in checked.rows])
    inserted = [ids[row["serial_number"]] for row in checked.rows]
    actor_name = getattr(actor, "email", actor)
    db.session.execute(sa.insert(DeviceEvent.__table__), [
        {"device_id": device_id, "from_status": None, "to_status": row["status"], "actor": actor_name,
         "note": IMPORT_NOTE, "at": now}
        for device_id, row in zip(inserted, checked.rows)
    ])
    erasures = [
        {"device_id": device_id, "method": row["_erasure"]["erasure_method"], "tool": row["_erasure"]["erasure_tool"],
         "tool_version": row["_erasure"]["erasure_tool_version"], "performed_on": row["_erasure"]["erased_on"],
         "operator": row["_erasure"]["erasure_operator"], "result": ErasureResult.SUCCESS,
         "certificate_reference": row["_erasure"]["erasure_certificate"], "created_at": now}
        for device_id, row in zip(inserted, checked.rows) if row["_erasure"]
    ]
    if erasures:
        db.session.execute(sa.insert(ErasureRecord.__table__), erasures)
    audit.record(actor, "stock.import", pickup_point, count=len(inserted), erasure_records=len(erasures))
    return inserted


# --- Keeping the file between preview and confirmation ---------------------------------------------

def keep(content: bytes, *, filename: str, pickup_point: PickupPoint, user) -> PendingImport:
    """Store the checked file until the staff member confirms it; old ones are removed."""
    forget_expired()
    pending = PendingImport(
        token=secrets.token_urlsafe(32), user_id=user.id, pickup_point_id=pickup_point.id,
        filename=(filename or "devices.csv")[:200], sha256=hashlib.sha256(content).hexdigest(), content=content,
    )
    db.session.add(pending)
    db.session.flush()
    return pending


def pending_for(token: str, *, user, sha256: str | None) -> PendingImport:
    """The kept file behind this token, if it is this user's, unchanged and not expired."""
    pending = db.session.scalar(sa.select(PendingImport).where(PendingImport.token == (token or "")[:64]))
    if (pending is None or pending.user_id != user.id or sha256 is None or pending.sha256 != sha256
            or hashlib.sha256(pending.content).hexdigest() != sha256
            or pending.created_at < utcnow() - PENDING_LIFETIME):
        raise NotFound(_l("This preview has expired. Please send the file again."))
    return pending


def claim(pending_id: int) -> bool:
    """Take the kept file for one import: a single conditional DELETE, so that two clicks (or two
    workers) on the same preview import it once; the loser sees row count 0."""
    result = db.session.execute(sa.delete(PendingImport).where(PendingImport.id == pending_id)
                                .execution_options(synchronize_session=False))
    return result.rowcount == 1


@atomic
def confirm(pending_id: int, content: bytes, *, pickup_point: PickupPoint, actor) -> Checked:
    """Claim the kept file and import it, in one transaction: two clicks import it once.

    NotFound when another click (or worker) took it first. When the import is refused
    (DomainError), nothing is kept, and the kept file is dropped once the transaction has rolled
    back: the preview no longer holds, so the file must be sent again.
    """
    if not claim(pending_id):
        raise NotFound(_l("This preview has expired. Please send the file again."))
    tx.after_rollback(lambda: _drop(pending_id))
    return import_devices(content, pickup_point=pickup_point, actor=actor)


def _drop(pending_id: int) -> None:
    with db.engine.begin() as connection:  # after the rollback: a connection of its own
        connection.execute(sa.delete(PendingImport).where(PendingImport.id == pending_id))


def forget_expired(now: datetime | None = None) -> int:
    """Remove kept files older than PENDING_LIFETIME (also called by `flask purge`)."""
    result = db.session.execute(
        sa.delete(PendingImport).where(PendingImport.created_at < (now or utcnow()) - PENDING_LIFETIME)
    )
    return result.rowcount
