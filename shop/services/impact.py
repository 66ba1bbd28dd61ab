"""What became of donated devices, and the impact they had: donor reports, the admin dashboard
and the public figures.

Every figure is computed by the database (COUNT / SUM with GROUP BY): a report runs a fixed
number of queries whatever the number of devices. No report reads a beneficiary's name, phone,
e-mail or year of birth; people are only ever counted.
"""

from decimal import Decimal
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.models import (
    Beneficiary, Category, CodeState, Device, DeviceEvent, DeviceStatus, DonationBatch, Donor, EligibilityCode,
    EligibilityGround, ErasureMethod, ErasureRecord, ErasureResult, Organisation, PickupPoint, Reservation, ReservationStatus,
)
from shop.models.stock import RecyclingReason
from shop.models.types import utcnow
from shop.services.csvfile import to_csv
from shop.services.donations import BatchCount, batch_counts
from shop.services.errors import DomainError, NotFound
from shop.services.impact_factors import ENVIRONMENT_FACTORS, SMALL_COUNT_LIMIT, TYPICAL_NEW_PRICE_CENTS, Factor

S = DeviceStatus
PARIS = ZoneInfo("Europe/Paris")
# A device that reached refurbishment, whatever happened next.
REFURBISHED_OR_LATER = (S.REFURBISHED, S.LISTED, S.RESERVED, S.SOLD)
IN_STOCK = (S.RECEIVED, S.ERASED, S.REFURBISHED, S.LISTED, S.RESERVED)


def is_small(count: int) -> bool:
    """A count from 1 to 4: shown as "fewer than 5", never as the number."""
    return 0 < count < SMALL_COUNT_LIMIT


@dataclass
class ImpactLine:
    factor: Factor
    value: float
    counted: int       # reused devices of a kind the factor covers
    not_counted: int   # reused devices of other kinds


def impact_lines(sold_by_category: dict[Category, int]) -> list[ImpactLine]:
    lines = []
    for factor in ENVIRONMENT_FACTORS:
        value = sum(n * factor.per_device.get(c, 0) for c, n in sold_by_category.items())
        counted = sum(n for c, n in sold_by_category.items() if c in factor.per_device)
        lines.append(ImpactLine(factor, round(value, 1), counted, sum(sold_by_category.values()) - counted))
    return lines


def money_saved_cents(sold_by_category: dict[Category, int], paid_cents: int) -> int:
    new_value = sum(n * TYPICAL_NEW_PRICE_CENTS.per_device.get(c, 0) for c, n in sold_by_category.items())
    return max(new_value - paid_cents, 0)


# --- Donor report -------------------------------------------------------------------------------

@dataclass
class CategoryLine:
    category: Category
    received: int = 0
    sold: int = 0
    in_stock: int = 0
    recycled: int = 0


@dataclass
class Certificate:
    serial_number: str
    method: object
    tool: str
    tool_version: str | None
    performed_on: date
    certificate_reference: str | None


@dataclass
class DonorReport:
    donor: Donor
    batch: DonationBatch | None
    batches: list[BatchCount]
    by_status: dict = field(default_factory=dict)
    categories: list[CategoryLine] = field(default_factory=list)
    erased: int = 0
    certificates: list[Certificate] = field(default_factory=list)
    recycled_reasons: list = field(default_factory=list)  # (reason or None, count)
    people_equipped: int = 0
    paid_cents: int = 0
    money_saved_cents: int = 0
    impacts: list[ImpactLine] = field(default_factory=list)

    @property
    def declared(self) -> int:
        return sum(b.batch.declared_count for b in self.batches if self.batch is None or b.batch.id == self.batch.id)

    @property
    def received(self) -> int:
        return sum(self.by_status.values())

    @property
    def difference(self) -> int:
        return self.received - self.declared

    def count(self, *statuses) -> int:
        return sum(self.by_status.get(s, 0) for s in statuses)

    @property
    def refurbished(self) -> int:
        return self.count(*REFURBISHED_OR_LATER)

    @property
    def sold(self) -> int:
        return self.count(S.SOLD)

    @property
    def in_stock(self) -> int:
        return self.count(*IN_STOCK)

    @property
    def recycled(self) -> int:
        return self.count(S.RECYCLED)

    @property
    def withdrawn(self) -> int:
        return self.count(S.WITHDRAWN)

    @property
    def people_equipped_is_small(self) -> bool:
        return is_small(self.people_equipped)


def donor_report(donor: Donor, batch_id: int | None = None) -> DonorReport:
    """A donor's report, for all its batches or one of them (NotFound for another donor's batch)."""
    batches = batch_counts(donor.id)
    batch = None
    if batch_id is not None:
        batch = next((b.batch for b in batches if b.batch.id == batch_id), None)
        if batch is None:
            raise NotFound(_l("Page not found"))
    if batch is not None:
        scope = Device.batch_id == batch.id
    else:
        scope = Device.batch_id.in_(sa.select(DonationBatch.id).where(DonationBatch.donor_id == donor.id))
    report = DonorReport(donor=donor, batch=batch, batches=batches)

    lines: dict[Category, CategoryLine] = {}
    for category, status, n in db.session.execute(
        sa.select(Device.category, Device.status, sa.func.count()).where(scope).group_by(Device.category, Device.status)
    ):
        report.by_status[status] = report.by_status.get(status, 0) + n
        line = lines.setdefault(category, CategoryLine(category))
        line.received += n
        if status == S.SOLD:
            line.sold += n
        elif status == S.RECYCLED:
            line.recycled += n
        elif status in IN_STOCK:
            line.in_stock += n
    report.categories = [lines[c] for c in Category if c in lines]

    succeeded = sa.and_(ErasureRecord.device_id == Device.id, ErasureRecord.result == ErasureResult.SUCCESS)
    report.erased = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(ErasureRecord.device_id))).join(Device, succeeded).where(scope)
    ) or 0
    report.certificates = [Certificate(*row) for row in db.session.execute(
        sa.select(Device.serial_number, ErasureRecord.method, ErasureRecord.tool, ErasureRecord.tool_version,
                  ErasureRecord.performed_on, ErasureRecord.certificate_reference)
        .join(Device, succeeded).where(scope).order_by(Device.serial_number, ErasureRecord.id)
    )]
    # Grouped by the stored note; a reason the shop itself gives shows in the reader's language.
    report.recycled_reasons = [(RecyclingReason.label_for(note), n) for note, n in db.session.execute(
        sa.select(DeviceEvent.note, sa.func.count(sa.distinct(DeviceEvent.device_id)))
        .join(Device, Device.id == DeviceEvent.device_id)
        .where(scope, Device.status == S.RECYCLED, DeviceEvent.to_status == S.RECYCLED)
        .group_by(DeviceEvent.note).order_by(sa.func.count(sa.distinct(DeviceEvent.device_id)).desc(), DeviceEvent.note)
    ).tuples()]

    picked_up = sa.and_(Reservation.device_id == Device.id, Reservation.status == ReservationStatus.PICKED_UP)
    sold_by_category = {}
    for category, n, paid in db.session.execute(
        sa.select(Device.category, sa.func.count(Reservation.id), sa.func.coalesce(sa.func.sum(Reservation.amount_cents), 0))
        .join(Device, picked_up).where(scope).group_by(Device.category)
    ):
        sold_by_category[category] = n
        report.paid_cents += paid
    report.people_equipped = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Reservation.beneficiary_id))).join(Device, picked_up).where(scope)
    ) or 0
    report.money_saved_cents = money_saved_cents(sold_by_category, report.paid_cents)
    report.impacts = impact_lines(sold_by_category)
    return report


# --- Dashboard ----------------------------------------------------------------------------------

MAX_RANGE_DAYS = 5 * 366


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), PARIS).astimezone(ZoneInfo("UTC"))

    @property
    def end_at(self) -> datetime:  # exclusive
        return datetime.combine(self.end + timedelta(days=1), time(0), PARIS).astimezone(ZoneInfo("UTC"))

    def months(self) -> list[str]:
        months, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months

    def contains(self, column):
        return sa.and_(column >= self.start_at, column < self.end_at)


def date_range(start: date | None, end: date | None, today: date | None = None) -> DateRange:
    """The range asked for; by default the last 12 months. Refuses an end before the start or a range over 5 years."""
    today = today or utcnow().astimezone(PARIS).date()
    end = end or today
    start = start or (end.replace(day=1) - timedelta(days=335)).replace(day=1)
    if end < start:
        raise DomainError(_l("The end date is before the start date."), field="end")
    if (end - start).days > MAX_RANGE_DAYS:
        raise DomainError(_l("Choose a period of 5 years at most."), field="start")
    return DateRange(start, end)


def _month(column):
    """The month of a timestamp as "YYYY-MM", in Paris time on PostgreSQL (UTC on SQLite)."""
    # Literal SQL, not bound parameters: PostgreSQL must see the same expression in GROUP BY.
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone(sa.literal_column("'Europe/Paris'"), column),
                               sa.literal_column("'YYYY-MM'"))
    return sa.func.strftime(sa.literal_column("'%Y-%m'"), column)


@dataclass
class MonthLine:
    month: str
    received: int = 0
    handed_over: int = 0
    codes_issued: int = 0


@dataclass
class PointLine:
    point: str
    handed_over: int = 0
    cancelled: int = 0
    expired: int = 0
    on_sale: int = 0


@dataclass
class PartnerLine:
    name: str
    monthly_quota: int
    issued: int
    counted: int  # issued against the quota (replacements for a lost slip are not counted)
    used: int
    expired: int
    revoked: int
    quota_available: int

    @property
    def quota_share(self) -> float | None:
        return None if not self.quota_available else self.counted / self.quota_available


@dataclass
class GroundLine:
    ground: EligibilityGround
    codes_issued: int = 0
    people_equipped: int = 0


@dataclass
class Dashboard:
    period: DateRange
    months: list[MonthLine]
    categories: list[CategoryLine]
    money_saved_cents: int
    points: list[PointLine]
    partners: list[PartnerLine]
    grounds: list[GroundLine]
    impacts: list[ImpactLine]

    @property
    def handed_over(self) -> int:
        return sum(m.handed_over for m in self.months)


def dashboard(period: DateRange, now: datetime | None = None) -> Dashboard:
    """Impact figures over a period, per month, category, pickup point, partner structure and ground."""
    now = now or utcnow()
    R = Reservation
    handed = sa.and_(R.status == ReservationStatus.PICKED_UP, period.contains(R.picked_up_at))

    months = {m: MonthLine(m) for m in period.months()}
    for column, attribute, stmt in (
        (Device.created_at, "received", sa.select(_month(Device.created_at), sa.func.count())
         .where(period.contains(Device.created_at))),
        (R.picked_up_at, "handed_over", sa.select(_month(R.picked_up_at), sa.func.count()).where(handed)),
        (EligibilityCode.issued_at, "codes_issued", sa.select(_month(EligibilityCode.issued_at), sa.func.count())
         .where(period.contains(EligibilityCode.issued_at))),
    ):
        for month, n in db.session.execute(stmt.group_by(_month(column))):
            if month in months:
                setattr(months[month], attribute, n)

    lines: dict[Category, CategoryLine] = {}
    in_range = sa.case((period.contains(Device.created_at), 1), else_=0)
    for category, received, in_stock in db.session.execute(
        sa.select(Device.category, sa.func.sum(in_range),
                  sa.func.sum(sa.case((Device.status.in_(IN_STOCK), 1), else_=0)))
        .group_by(Device.category)
    ):
        lines[category] = CategoryLine(category, received=received or 0, in_stock=in_stock or 0)
    sold_by_category, paid = {}, 0
    for category, n, amount in db.session.execute(
        sa.select(Device.category, sa.func.count(R.id), sa.func.coalesce(sa.func.sum(R.amount_cents), 0))
        .join(Device, Device.id == R.device_id).where(handed).group_by(Device.category)
    ):
        lines.setdefault(category, CategoryLine(category)).sold = n
        sold_by_category[category] = n
        paid += amount

    points = {name: PointLine(name) for name in db.session.scalars(sa.select(PickupPoint.name).order_by(PickupPoint.name))}
    ended = sa.and_(period.contains(R.ended_at))
    for name, picked, cancelled, expired in db.session.execute(
        sa.select(PickupPoint.name,
                  sa.func.sum(sa.case((handed, 1), else_=0)),
                  sa.func.sum(sa.case((sa.and_(R.status == ReservationStatus.CANCELLED, ended), 1), else_=0)),
                  sa.func.sum(sa.case((sa.and_(R.status == ReservationStatus.EXPIRED, ended), 1), else_=0)))
        .join(R, R.pickup_point_id == PickupPoint.id).group_by(PickupPoint.name)
    ):
        line = points.setdefault(name, PointLine(name))
        line.handed_over, line.cancelled, line.expired = picked or 0, cancelled or 0, expired or 0
    for name, n in db.session.execute(
        sa.select(PickupPoint.name, sa.func.count(Device.id)).join(Device, Device.pickup_point_id == PickupPoint.id)
        .where(Device.available(now)).group_by(PickupPoint.name)
    ):
        points.setdefault(name, PointLine(name)).on_sale = n

    C = EligibilityCode
    issued = period.contains(C.issued_at)
    month_count = len(period.months())
    partners = [
        PartnerLine(name, quota, issued_n or 0, counted or 0, used or 0, expired or 0, revoked or 0, quota * month_count)
        for name, quota, issued_n, counted, used, expired, revoked in db.session.execute(
            sa.select(
                Organisation.name, Organisation.monthly_quota,
                sa.func.sum(sa.case((issued, 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(issued, C.replaces_id.is_(None)), 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(C.status == CodeState.USED, period.contains(C.used_at)), 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(C.is_expired(now), period.contains(C.expires_at)), 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(C.status == CodeState.REVOKED, period.contains(C.revoked_at)), 1), else_=0)),
            ).outerjoin(C, C.organisation_id == Organisation.id)
            .group_by(Organisation.id, Organisation.name, Organisation.monthly_quota).order_by(Organisation.name)
        )
    ]

    grounds = {g: GroundLine(g) for g in EligibilityGround}
    for ground, n in db.session.execute(
        sa.select(Beneficiary.ground, sa.func.count(C.id)).join(C, C.beneficiary_id == Beneficiary.id)
        .where(issued).group_by(Beneficiary.ground)
    ):
        grounds[ground].codes_issued = n
    for ground, n in db.session.execute(
        sa.select(Beneficiary.ground, sa.func.count(sa.distinct(R.beneficiary_id)))
        .join(R, R.beneficiary_id == Beneficiary.id).where(handed).group_by(Beneficiary.ground)
    ):
        grounds[ground].people_equipped = n

    return Dashboard(
        period=period, months=list(months.values()), categories=[lines[c] for c in Category if c in lines],
        money_saved_cents=money_saved_cents(sold_by_category, paid), points=list(points.values()),
        partners=partners, grounds=list(grounds.values()), impacts=impact_lines(sold_by_category),
    )


# --- Public figures -----------------------------------------------------------------------------

@dataclass
class PublicFigures:
    reused: int
    people_equipped: int
    money_saved_cents: int
    impacts: list[ImpactLine]

    @property
    def people_equipped_is_small(self) -> bool:
        return is_small(self.people_equipped)


def public_figures() -> PublicFigures:
    """Aggregate figures since the start, for everyone to see: no breakdown that could single anyone out."""
    picked_up = Reservation.status == ReservationStatus.PICKED_UP
    sold_by_category, paid = {}, 0
    for category, n, amount in db.session.execute(
        sa.select(Device.category, sa.func.count(Reservation.id), sa.func.coalesce(sa.func.sum(Reservation.amount_cents), 0))
        .join(Device, Device.id == Reservation.device_id).where(picked_up).group_by(Device.category)
    ):
        sold_by_category[category] = n
        paid += amount
    people = db.session.scalar(sa.select(sa.func.count(sa.distinct(Reservation.beneficiary_id))).where(picked_up)) or 0
    return PublicFigures(
        reused=sum(sold_by_category.values()), people_equipped=people,
        money_saved_cents=money_saved_cents(sold_by_category, paid), impacts=impact_lines(sold_by_category),
    )


# --- CSV ----------------------------------------------------------------------------------------

def _people(count: int) -> str:
    return _("fewer than 5") if is_small(count) else str(count)


def _impact_rows(impacts: list[ImpactLine]):
    for line in impacts:
        yield ("impact", str(line.factor.label), line.value, line.factor.unit,
               f"{line.factor.source} ({line.factor.year})")


def report_csv(report: DonorReport) -> str:
    """The donor report as one table: section, item, value, unit, details."""
    rows = [
        ("donor", _("Donor"), report.donor.name, "", report.batch.reference if report.batch else ""),
        ("devices", _("Declared by the donor"), report.declared, "", ""),
        ("devices", _("Received"), report.received, "", ""),
        ("devices", _("Erased (successful erasure recorded)"), report.erased, "", ""),
        ("devices", _("Refurbished"), report.refurbished, "", ""),
        ("devices", _("Sold"), report.sold, "", ""),
        ("devices", _("In stock"), report.in_stock, "", ""),
        ("devices", _("Withdrawn"), report.withdrawn, "", ""),
        ("devices", _("Recycled"), report.recycled, "", ""),
    ]
    rows += [("recycled_reason", reason or _("No reason given"), n, "", "") for reason, n in report.recycled_reasons]
    rows += [("category", str(line.category.label), line.received, "",
              _("sold: %(sold)d, in stock: %(stock)d, recycled: %(recycled)d",
                sold=line.sold, stock=line.in_stock, recycled=line.recycled)) for line in report.categories]
    rows.append(("people", _("People equipped"), _people(report.people_equipped), "", ""))
    rows.append(("money", _("Money saved by the people equipped"), Decimal(report.money_saved_cents).scaleb(-2), "EUR",
                 f"{TYPICAL_NEW_PRICE_CENTS.source} ({TYPICAL_NEW_PRICE_CENTS.year})"))
    rows += list(_impact_rows(report.impacts))
    methods = {method: str(method.label) for method in ErasureMethod}  # translated once, not per line
    rows += [("erasure_certificate", c.serial_number, c.certificate_reference or "", c.performed_on.isoformat(),
              f"{methods[c.method]} · {c.tool} {c.tool_version or ''}".strip()) for c in report.certificates]
    return to_csv([_("Section"), _("Item"), _("Value"), _("Unit"), _("Details")], rows)


def dashboard_csv(dash: Dashboard) -> str:
    rows = [("month", m.month, "received", m.received) for m in dash.months]
    rows += [("month", m.month, "handed_over", m.handed_over) for m in dash.months]
    rows += [("month", m.month, "codes_issued", m.codes_issued) for m in dash.months]
    for line in dash.categories:
        rows += [("category", line.category.value, "received", line.received),
                 ("category", line.category.value, "handed_over", line.sold),
                 ("category", line.category.value, "in_stock", line.in_stock)]
    for p in dash.points:
        rows += [("pickup_point", p.point, name, getattr(p, name)) for name in ("handed_over", "cancelled", "expired", "on_sale")]
    for p in dash.partners:
        rows += [("partner", p.name, name, getattr(p, name))
                 for name in ("issued", "counted", "used", "expired", "revoked", "quota_available")]
    for g in dash.grounds:
        rows += [("ground", g.ground.value, "codes_issued", g.codes_issued),
                 ("ground", g.ground.value, "people_equipped", g.people_equipped)]
    rows.append(("money", "saved_eur", "total", Decimal(dash.money_saved_cents).scaleb(-2)))
    rows += [("impact", line.factor.key, line.factor.unit, line.value) for line in dash.impacts]
    return to_csv([_("Section"), _("Item"), _("Measure"), _("Value")], rows)
