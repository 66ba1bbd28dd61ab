"""After-sale cases: a sold device comes back; it is repaired, exchanged, refunded, or the return
is refused. An exchanged or refunded device goes back into the pipeline at `received` and needs a
new erasure record before it is listed again (shop.services.devices.has_successful_erasure)."""

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.models import (
    AftersaleCase, CaseOutcome, Category, Device, DeviceStatus, DonationBatch, ErasureRecord, Payment,
    PaymentChannel, PaymentKind, PaymentStatus, Reservation, ReservationStatus, ReturnReason, User,
)
from shop.models.types import utcnow
from shop.services import audit, payments, warranty
from shop.services import devices as device_service
from shop.services.errors import Conflict, DomainError, NotFound
from shop.services.tx import atomic

O = CaseOutcome
COUNTER_CHANNELS = (PaymentChannel.CASH, PaymentChannel.CARD_TERMINAL, PaymentChannel.CHEQUE)


@dataclass(frozen=True)
class Sale:
    """A handed-over reservation and the device the person has now (a replacement after an exchange)."""

    reservation: Reservation
    device: Device

    @property
    def warranty_end(self) -> date | None:
        return warranty.end_for_device(self.device)


def current_device(reservation: Reservation) -> Device:
    replacement_id = db.session.scalar(
        sa.select(AftersaleCase.replacement_id)
        .where(AftersaleCase.reservation_id == reservation.id, AftersaleCase.outcome == O.EXCHANGED)
        .order_by(AftersaleCase.closed_at.desc(), AftersaleCase.id.desc()).limit(1))
    return db.session.get(Device, replacement_id) if replacement_id else reservation.device


def find_sale(query: str, point_ids: list[int]) -> Sale:
    """The sale named by a reservation number, a pickup code or a serial number, at these points."""
    text = " ".join((query or "").split())[:80]
    if not text:
        raise DomainError(_l("Enter a reservation number, a pickup code or a serial number."), field="q")
    packed = text.replace(" ", "").upper()
    sold_here = sa.and_(Reservation.status == ReservationStatus.PICKED_UP, Reservation.pickup_point_id.in_(point_ids))
    reservation = None
    if packed.isdigit() and len(packed) == 6:
        reservation = db.session.scalar(sa.select(Reservation).where(sold_here, Reservation.pickup_code == packed)
                                        .order_by(Reservation.picked_up_at.desc()).limit(1))
    if reservation is None and len(packed) <= 12:
        reservation = db.session.scalar(sa.select(Reservation).where(sold_here, Reservation.number == packed))
    if reservation is not None:
        return Sale(reservation, current_device(reservation))
    # The unique index first; then the same serial typed in another case (a full scan, rare).
    device = db.session.scalar(sa.select(Device).where(Device.serial_number == text)) or db.session.scalar(
        sa.select(Device).where(sa.func.upper(Device.serial_number) == text.upper()).limit(1))
    if device is None:
        raise NotFound(_l("No device with this serial number is known to the shop."), field="q")
    # The sale that gave this device to someone: its reservation, or the case that exchanged it.
    reservation = db.session.scalar(
        sa.select(Reservation).where(sold_here, sa.or_(
            Reservation.device_id == device.id,
            Reservation.id.in_(sa.select(AftersaleCase.reservation_id).where(
                AftersaleCase.replacement_id == device.id, AftersaleCase.outcome == O.EXCHANGED))))
        .order_by(Reservation.picked_up_at.desc()).limit(1))
    if reservation is None or current_device(reservation).id != device.id or device.status != DeviceStatus.SOLD:
        raise DomainError(_l("This device is not with a buyer of this pickup point: it cannot be returned."), field="q")
    return Sale(reservation, device)


@atomic
def open_case(sale: Sale, *, reason: ReturnReason, description: str | None, actor: User,
              now: datetime | None = None) -> AftersaleCase:
    """Open a case for the device the person brought back (one open case per device)."""
    now = now or utcnow()
    if sale.device.status != DeviceStatus.SOLD:
        raise DomainError(_l("This device is not with a buyer of this pickup point: it cannot be returned."))
    if db.session.scalar(sa.select(AftersaleCase.id).where(AftersaleCase.device_id == sale.device.id,
                                                           AftersaleCase.outcome == O.OPEN)) is not None:
        raise Conflict(_l("A case is already open for this device."))
    case = AftersaleCase(reservation_id=sale.reservation.id, device_id=sale.device.id,
                         pickup_point_id=sale.reservation.pickup_point_id, reason=ReturnReason(reason),
                         description=(description or "").strip()[:300] or None, outcome=O.OPEN,
                         opened_at=now, opened_by_id=actor.id)
    db.session.add(case)
    try:
        with db.session.begin_nested():
            db.session.flush()  # the partial unique index: a case opened at the same instant wins
    except sa.exc.IntegrityError:
        raise Conflict(_l("A case is already open for this device.")) from None
    audit.record(actor, "aftersale.open", case, organisation_id=sale.reservation.organisation_id,
                 reason=case.reason.value, device_id=sale.device.id)
    return case


def _close(case: AftersaleCase, outcome: CaseOutcome, *, actor: User, now: datetime, **values) -> None:
    """Decide an open case: one conditional UPDATE, so two decisions never both count."""
    result = db.session.execute(
        sa.update(AftersaleCase).where(AftersaleCase.id == case.id, AftersaleCase.outcome == O.OPEN)
        .values(outcome=outcome, closed_at=now, closed_by_id=actor.id, **values)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(_l("This case was decided in the meantime. Please reload the page."))
    db.session.expire(case)


def _take_back(device_id: int, *, actor: User, now: datetime) -> None:
    """The returned device re-enters the pipeline at `received` (its history kept); its old
    erasure records stop counting, so it is listed again only after a new erasure."""
    device_service.transition(device_id, DeviceStatus.SOLD, DeviceStatus.RECEIVED, actor=actor.email,
                              note="after-sale return")
    db.session.execute(
        sa.update(ErasureRecord).where(ErasureRecord.device_id == device_id, ErasureRecord.superseded_at.is_(None))
        .values(superseded_at=now).execution_options(synchronize_session=False))


@atomic
def repair(case: AftersaleCase, *, actor: User, now: datetime | None = None) -> None:
    """The device was repaired and given back to the person."""
    now = now or utcnow()
    _close(case, O.REPAIRED, actor=actor, now=now)
    audit.record(actor, "aftersale.repaired", case, organisation_id=case.reservation.organisation_id)


@atomic
def refuse(case: AftersaleCase, *, reason: str, actor: User, now: datetime | None = None) -> None:
    """The return is refused (out of warranty, damage by the buyer…): the reason is kept."""
    now = now or utcnow()
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_l("Please give a reason."), field="refusal_reason")
    _close(case, O.REFUSED, actor=actor, now=now, refusal_reason=reason[:300])
    audit.record(actor, "aftersale.refused", case, organisation_id=case.reservation.organisation_id)


@atomic
def exchange(case: AftersaleCase, *, replacement_serial: str, actor: User, now: datetime | None = None) -> Device:
    """Give another unit of the same kind on sale at the case's pickup point; the returned one goes
    back to `received`. Taking the unit is a conditional UPDATE: a unit reserved by someone else
    meanwhile refuses the exchange, and nothing of it is kept."""
    now = now or utcnow()
    serial = (replacement_serial or "").strip()[:80]
    replacement = db.session.scalar(sa.select(Device).where(sa.func.upper(Device.serial_number) == serial.upper(),
                                                            Device.pickup_point_id == case.pickup_point_id)) if serial else None
    if replacement is None or replacement.id == case.device_id:
        raise DomainError(_l("No unit with this serial number is on sale at this pickup point."), field="replacement")
    if replacement.category != case.device.category:
        raise DomainError(_l("Give a unit of the same kind: %(kind)s.", kind=case.device.category.label),
                          field="replacement")
    if replacement.status != DeviceStatus.LISTED:
        raise Conflict(_l("This unit is no longer on sale: someone else took it. Choose another one."),
                       field="replacement")
    _close(case, O.EXCHANGED, actor=actor, now=now, replacement_id=replacement.id)
    try:
        # Taken off the shelf by a conditional UPDATE (listed → reserved), then handed over.
        device_service.transition(replacement.id, DeviceStatus.LISTED, DeviceStatus.RESERVED, actor=actor.email,
                                  note="after-sale exchange")
        device_service.transition(replacement.id, DeviceStatus.RESERVED, DeviceStatus.SOLD, actor=actor.email,
                                  note="after-sale exchange")
    except Conflict:
        raise Conflict(_l("This unit is no longer on sale: someone else took it. Choose another one."),
                       field="replacement") from None
    _take_back(case.device_id, actor=actor, now=now)
    audit.record(actor, "aftersale.exchanged", case, organisation_id=case.reservation.organisation_id,
                 replacement_id=replacement.id)
    return replacement


def refundable_cents(reservation: Reservation) -> int:
    """What was paid and not yet given back."""
    refunded = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0)).where(
            Payment.reservation_id == reservation.id, Payment.kind == PaymentKind.REFUND,
            Payment.status.in_([PaymentStatus.DONE, PaymentStatus.PENDING])))
    return max(reservation.paid_cents - refunded, 0)


def paid_online(reservation: Reservation) -> bool:
    return db.session.scalar(sa.select(Payment.id).where(
        Payment.reservation_id == reservation.id, Payment.kind == PaymentKind.PAYMENT,
        Payment.channel == PaymentChannel.STRIPE, Payment.status == PaymentStatus.DONE).limit(1)) is not None


@atomic
def refund(case: AftersaleCase, *, amount_cents: int, channel: PaymentChannel | None, actor: User,
           now: datetime | None = None) -> Payment | None:
    """Give money back and take the device back. Paid online: back to the card through Stripe
    (payments.refund; a refusal from Stripe leaves it to retry, as for a cancellation); paid at
    the counter: given back at the counter by the channel chosen. Never more than was paid."""
    now = now or utcnow()
    reservation = case.reservation
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise DomainError(_l("Enter an amount above zero."), field="amount")
    available = refundable_cents(reservation)
    if amount_cents > available:
        raise DomainError(_l("A refund cannot be more than what was paid and not yet refunded: %(amount)s.",
                             amount=_euros(available)), field="amount")
    online = paid_online(reservation)
    if not online and (channel is None or PaymentChannel(channel) not in COUNTER_CHANNELS):
        raise DomainError(_l("Choose how the money is given back."), field="channel")
    if online and available < reservation.paid_cents:
        raise DomainError(_l("This online payment was already refunded once."), field="amount")
    _close(case, O.REFUNDED, actor=actor, now=now, refund_cents=amount_cents,
           refund_channel=PaymentChannel.STRIPE if online else PaymentChannel(channel))
    _take_back(case.device_id, actor=actor, now=now)
    if online:
        payment = payments.refund(reservation, amount_cents, actor=actor)
    else:
        payment = Payment(reservation_id=reservation.id, kind=PaymentKind.REFUND, channel=PaymentChannel(channel),
                          status=PaymentStatus.DONE, amount_cents=amount_cents, recorded_by_id=actor.id,
                          note=f"after-sale case {case.id}", created_at=now)
        db.session.add(payment)
        db.session.flush()
        audit.record(actor, "payment.refund", reservation, organisation_id=reservation.organisation_id,
                     amount_cents=amount_cents, status=payment.status.value)
    audit.record(actor, "aftersale.refunded", case, organisation_id=reservation.organisation_id,
                 amount_cents=amount_cents)
    return payment


def _euros(cents: int) -> str:
    from shop.i18n import isolate, money

    return isolate(money(cents))


# --- Reading ----------------------------------------------------------------------------------

def cases(point_ids: list[int], *, open_only: bool = False, limit: int = 100) -> list[AftersaleCase]:
    from sqlalchemy.orm import selectinload

    stmt = (sa.select(AftersaleCase).where(AftersaleCase.pickup_point_id.in_(point_ids))
            .options(selectinload(AftersaleCase.device), selectinload(AftersaleCase.reservation))
            .order_by(AftersaleCase.id.desc()).limit(limit))
    if open_only:
        stmt = stmt.where(AftersaleCase.outcome == O.OPEN)
    return list(db.session.scalars(stmt))


def get_case(case_id: int, point_ids: list[int]) -> AftersaleCase:
    found = db.session.scalar(sa.select(AftersaleCase).where(AftersaleCase.id == case_id,
                                                             AftersaleCase.pickup_point_id.in_(point_ids)))
    if found is None:
        raise NotFound(_l("Page not found"))
    return found


def case_for_device(device_id: int) -> AftersaleCase | None:
    return db.session.scalar(sa.select(AftersaleCase).where(AftersaleCase.device_id == device_id)
                             .order_by(AftersaleCase.id.desc()).limit(1))


# --- Reports ----------------------------------------------------------------------------------

TAKEN_BACK = (O.EXCHANGED, O.REFUNDED)


@dataclass
class ReturnLine:
    label: object
    returns: int = 0
    taken_back: int = 0  # exchanged or refunded: the device went back into the pipeline


@dataclass
class Returns:
    by_batch: list[ReturnLine] = field(default_factory=list)
    by_category: list[ReturnLine] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.returns for line in self.by_category)


def returns_report(*, donor_id: int | None = None, batch_id: int | None = None,
                   since: datetime | None = None, until: datetime | None = None) -> Returns:
    """After-sale cases per donation batch and per kind of the returned device (two grouped
    queries, whatever the number of cases). Refused returns count as returns too: the device
    came back to the counter."""
    C = AftersaleCase
    back = sa.func.sum(sa.case((C.outcome.in_(TAKEN_BACK), 1), else_=0))
    base = sa.select(sa.func.count(C.id), back).join(Device, Device.id == C.device_id)
    if donor_id is not None or batch_id is not None:
        base = base.join(DonationBatch, DonationBatch.id == Device.batch_id)
    if donor_id is not None:
        base = base.where(DonationBatch.donor_id == donor_id)
    if batch_id is not None:
        base = base.where(DonationBatch.id == batch_id)
    if since is not None:
        base = base.where(C.opened_at >= since)
    if until is not None:
        base = base.where(C.opened_at < until)
    report = Returns()
    per_batch = db.session.execute(
        base.with_only_columns(Device.batch_id, sa.func.count(C.id), back).group_by(Device.batch_id)).all()
    references = dict(db.session.execute(sa.select(DonationBatch.id, DonationBatch.reference).where(
        DonationBatch.id.in_([b for b, _, _ in per_batch if b is not None]))).tuples().all()) if per_batch else {}
    for batch, n, taken in sorted(per_batch, key=lambda row: references.get(row[0], "")):
        report.by_batch.append(ReturnLine(references.get(batch, "—"), n, taken or 0))
    by_category = dict((category, (n, taken)) for category, n, taken in db.session.execute(
        base.with_only_columns(Device.category, sa.func.count(C.id), back).group_by(Device.category)))
    report.by_category = [ReturnLine(c.label, *map(lambda v: v or 0, by_category[c])) for c in Category if c in by_category]
    return report
