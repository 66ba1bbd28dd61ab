"""What staff see and do at a pickup point: scoped to their point (admins see every point)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.models import PickupPoint, Reservation, ReservationStatus, Role, User
from shop.models.types import is_row_id, utcnow
from shop.services.errors import NotFound

R = ReservationStatus
RECENT = timedelta(days=7)


@dataclass
class Board:
    to_prepare: list
    ready: list
    overdue: list
    cancelled: list

    @property
    def counts(self) -> dict:
        return {name: len(getattr(self, name)) for name in ("to_prepare", "ready", "overdue", "cancelled")}


STOCK_PAGE = 200  # devices on one page of the stock list


class StaffScope:
    """Every staff query goes through here, bound to the pickup points the user works at."""

    def __init__(self, user: User):
        if user.role not in (Role.STAFF, Role.ADMIN):
            raise NotFound(_l("Page not found"))
        self.user = user

    def points(self) -> list[PickupPoint]:
        stmt = sa.select(PickupPoint).order_by(PickupPoint.town, PickupPoint.name)
        if self.user.role != Role.ADMIN:
            stmt = stmt.where(PickupPoint.id == self.user.pickup_point_id)
        return list(db.session.scalars(stmt))

    def _point_ids(self) -> list[int]:
        return [p.id for p in self.points()]

    def board(self, point_id: int, now: datetime | None = None) -> Board:
        now = now or utcnow()
        if point_id not in self._point_ids():
            raise NotFound(_l("Page not found"))
        rows = db.session.scalars(
            sa.select(Reservation)
            .where(Reservation.pickup_point_id == point_id,
                   sa.or_(Reservation.status.in_([R.CONFIRMED, R.READY]),
                          sa.and_(Reservation.status == R.CANCELLED, Reservation.ended_at > now - RECENT)))
            .options(selectinload(Reservation.device), selectinload(Reservation.beneficiary))
            .order_by(Reservation.held_until)
        ).all()
        board = Board([], [], [], [])
        for reservation in rows:
            state = reservation.state(now)
            if state in (R.EXPIRED, R.MISSED):  # past the deadline; the sweep releases it
                board.overdue.append(reservation)
            elif state == R.CONFIRMED:
                board.to_prepare.append(reservation)
            elif state == R.READY:
                board.ready.append(reservation)
            elif state == R.CANCELLED:
                board.cancelled.append(reservation)
        return board

    def find(self, query: str) -> Reservation | None:
        """A reservation at the user's points by pickup code (6 digits) or reservation number."""
        text = "".join((query or "").split()).upper()[:12]
        if not text:
            return None
        condition = Reservation.pickup_code == text if text.isdigit() else Reservation.number == text
        return db.session.scalar(
            sa.select(Reservation)
            .where(condition, Reservation.pickup_point_id.in_(self._point_ids()))
            .order_by(Reservation.id.desc()).limit(1)
        )

    def reservation(self, number: str) -> Reservation:
        found = db.session.scalar(
            sa.select(Reservation).where(Reservation.number == (number or "").upper()[:12],
                                         Reservation.pickup_point_id.in_(self._point_ids()))
        )
        if found is None:
            raise NotFound(_l("Page not found"))
        return found

    # --- Stock at the user's pickup points ---

    def devices(self, point_id: int, status=None, *, search: str = "", category=None, before: int | None = None,
                limit: int | None = None) -> tuple[list, int | None]:
        """One page of a point's devices, newest first, and the id to ask for the next page from
        (None on the last). Keyset paging: one query, as fast on the 50th page as on the first."""
        from shop.models import Device

        if point_id not in self._point_ids():
            raise NotFound(_l("Page not found"))
        limit = limit or STOCK_PAGE
        stmt = sa.select(Device).where(Device.pickup_point_id == point_id).order_by(Device.id.desc()).limit(limit + 1)
        if status is not None:
            stmt = stmt.where(Device.status == status)
        if category is not None:
            stmt = stmt.where(Device.category == category)
        if before is not None:
            stmt = stmt.where(Device.id < before)
        words = search.strip().casefold()
        if words:  # a serial number or a brand/model, in part, whatever the case
            stmt = stmt.where(sa.or_(*(sa.func.lower(column).contains(words, autoescape=True)
                                       for column in (Device.serial_number, Device.brand, Device.model))))
        found = list(db.session.scalars(stmt))
        return found[:limit], (found[limit - 1].id if len(found) > limit else None)

    def device(self, device_id: int):
        from shop.models import Device

        found = db.session.scalar(sa.select(Device).where(Device.id == device_id,
                                                          Device.pickup_point_id.in_(self._point_ids())))
        if found is None:
            raise NotFound(_l("Page not found"))
        return found

    def selection(self, device_ids) -> list:
        """The selected devices, in id order, all at the user's points, else NotFound (nothing is
        acted on when one of them is out of reach)."""
        from shop.models import Device

        ids = sorted({int(i) for i in device_ids})
        if not ids:
            return []
        if not all(is_row_id(i) for i in ids):
            raise NotFound(_l("Page not found"))
        found = list(db.session.scalars(sa.select(Device).where(Device.id.in_(ids),
                                                                Device.pickup_point_id.in_(self._point_ids()))
                                        .order_by(Device.id)))
        if len(found) != len(ids):
            raise NotFound(_l("Page not found"))
        return found

    def status_counts(self, point_id: int) -> dict:
        from shop.models import Device

        rows = db.session.execute(sa.select(Device.status, sa.func.count()).where(Device.pickup_point_id == point_id)
                                  .group_by(Device.status)).all()
        return dict(rows)


def batches() -> list:
    """Donation batches to attach a new device to, newest first."""
    from shop.models import DonationBatch

    return list(db.session.scalars(
        sa.select(DonationBatch).options(selectinload(DonationBatch.donor)).order_by(DonationBatch.received_on.desc())
    ))
