"""Donors, donation batches, devices and the history of every device."""

import hashlib
import secrets
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.catalog import PickupPoint
from shop.models.types import LabelledEnum, UTCDateTime, enum_column, utcnow


class DonorKind(LabelledEnum):
    PUBLIC_BODY = "public_body", _l("Public body")
    COMPANY = "company", _l("Company")
    INDIVIDUAL = "individual", _l("Individual")


class Category(LabelledEnum):
    LAPTOP = "laptop", _l("Laptop")
    DESKTOP = "desktop", _l("Desktop computer")
    SMARTPHONE = "smartphone", _l("Smartphone")
    TABLET = "tablet", _l("Tablet")
    SCREEN = "screen", _l("Screen")
    PRINTER = "printer", _l("Printer")
    MULTIFUNCTION_PRINTER = "multifunction_printer", _l("Multifunction printer")
    ACCESSORY = "accessory", _l("Accessory")

    @property
    def is_computer(self) -> bool:
        return self in (Category.LAPTOP, Category.DESKTOP)


class Grade(LabelledEnum):
    A = "A", _l("Like new: hardly any marks.")
    B = "B", _l("Good: light signs of use.")
    C = "C", _l("Fair: visible marks, works perfectly.")


class DeviceStatus(LabelledEnum):
    RECEIVED = "received", _l("Received")
    ERASED = "erased", _l("Data erased")
    REFURBISHED = "refurbished", _l("Refurbished")
    LISTED = "listed", _l("On sale")
    RESERVED = "reserved", _l("Reserved")
    SOLD = "sold", _l("Sold")
    WITHDRAWN = "withdrawn", _l("Withdrawn")
    RECYCLED = "recycled", _l("Recycled")


class KeyboardLayout(LabelledEnum):
    AZERTY = "azerty", _l("French (AZERTY)")
    QWERTY = "qwerty", _l("English (QWERTY)")
    QWERTZ = "qwertz", _l("German (QWERTZ)")
    ARABIC = "arabic", _l("Arabic")
    UKRAINIAN = "ukrainian", _l("Ukrainian")


class Donor(db.Model):
    __tablename__ = "donors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(160), unique=True)
    kind: Mapped[DonorKind] = mapped_column(enum_column(DonorKind, "donor_kind"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    batches: Mapped[list["DonationBatch"]] = relationship(back_populates="donor")

    @property
    def is_public(self) -> bool:
        return self.kind == DonorKind.PUBLIC_BODY


class DonationBatch(db.Model):
    __tablename__ = "donation_batches"
    __table_args__ = (sa.CheckConstraint("declared_count >= 0", name="declared_count_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(sa.ForeignKey("donors.id"), index=True)
    reference: Mapped[str] = mapped_column(sa.String(40), unique=True)
    received_on: Mapped[date] = mapped_column(sa.Date)
    declared_count: Mapped[int] = mapped_column(default=0)
    collection_site: Mapped[str | None] = mapped_column(sa.String(160))
    notes: Mapped[str | None] = mapped_column(sa.Text)

    donor: Mapped[Donor] = relationship(back_populates="batches")
    devices: Mapped[list["Device"]] = relationship(back_populates="batch")


# The attributes that make two listed devices "the same offer" in the catalog.
OFFER_ATTRIBUTES = (
    "category", "brand", "model", "cpu", "ram_gb", "storage_gb", "screen_tenths",
    "os", "keyboard_layout", "grade", "price_cents", "pickup_point_id",
)


OFFER_KEY_LENGTH = 16  # hex digits of an 8-byte digest


def looks_like_offer_key(text) -> bool:
    """Shaped like an offer key (so worth looking up, or putting back into an address)."""
    return isinstance(text, str) and len(text) == OFFER_KEY_LENGTH and text.isalnum()


def offer_key_for(values) -> str:
    """The offer key of a device given as a mapping of OFFER_ATTRIBUTES (for bulk inserts,
    which bypass the before_insert listener below)."""
    parts = []
    for name in OFFER_ATTRIBUTES:
        value = values.get(name)
        parts.append("" if value is None else str(getattr(value, "value", value)))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=OFFER_KEY_LENGTH // 2).hexdigest()


def new_passport_token() -> str:
    """An unguessable, URL-safe token for a device's public passport page (printed on its label)."""
    return secrets.token_urlsafe(12)


def device_title(brand: str, model: str) -> str:
    """"Lenovo ThinkPad T480", but "Fairphone 3+" rather than "Fairphone Fairphone 3+"."""
    if model.casefold().startswith(brand.casefold()):
        return model
    return f"{brand} {model}"


class Device(db.Model):
    """One physical, unique item: a stock of one."""

    __tablename__ = "devices"
    __table_args__ = (
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.CheckConstraint(
            "battery_health IS NULL OR (battery_health >= 0 AND battery_health <= 100)",
            name="battery_health_range",
        ),
        sa.CheckConstraint("ram_gb IS NULL OR ram_gb > 0", name="ram_positive"),
        sa.CheckConstraint("storage_gb IS NULL OR storage_gb > 0", name="storage_positive"),
        sa.Index("ix_devices_status_offer_key", "status", "offer_key"),
        sa.Index("ix_devices_status_category_price", "status", "category", "price_cents"),
        sa.Index("ix_devices_status_held_until", "status", "held_until"),
        sa.Index("ix_devices_offer_key_status", "offer_key", "status"),
        # The photographed units of an offer, for its cover photo (shop.services.catalog).
        sa.Index("ix_devices_photographed", "offer_key", "id",
                 sqlite_where=sa.text("photo_count > 0"), postgresql_where=sa.text("photo_count > 0")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial_number: Mapped[str] = mapped_column(sa.String(80), unique=True)
    category: Mapped[Category] = mapped_column(enum_column(Category, "device_category"))
    brand: Mapped[str] = mapped_column(sa.String(60))
    model: Mapped[str] = mapped_column(sa.String(120))
    cpu: Mapped[str | None] = mapped_column(sa.String(120))
    ram_gb: Mapped[int | None]
    storage_gb: Mapped[int | None]
    screen_tenths: Mapped[int | None]  # diagonal in tenths of an inch: 156 is 15.6"
    os: Mapped[str | None] = mapped_column(sa.String(60))
    keyboard_layout: Mapped[KeyboardLayout | None] = mapped_column(
        enum_column(KeyboardLayout, "keyboard_layout")
    )
    grade: Mapped[Grade] = mapped_column(enum_column(Grade, "device_grade"))
    battery_health: Mapped[int | None]
    price_cents: Mapped[int]
    status: Mapped[DeviceStatus] = mapped_column(
        enum_column(DeviceStatus, "device_status"), default=DeviceStatus.RECEIVED
    )
    pickup_point_id: Mapped[int] = mapped_column(sa.ForeignKey("pickup_points.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("donation_batches.id"), index=True)
    offer_key: Mapped[str] = mapped_column(sa.String(16))
    # The public passport's URL carries this token, not the id: ids would let anyone walk the
    # whole stock and its history, and a printed label must keep working for the device's life.
    passport_token: Mapped[str] = mapped_column(sa.String(24), unique=True, default=new_passport_token)
    # While `reserved`: until when the unit is held. Past that moment the unit is available again,
    # even if no job has run yet (see Device.available()).
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How many photos the unit has: kept by triggers on device_photos (migration d4b8e2f7a913), never
    # written from Python.
    photo_count: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    pickup_point: Mapped[PickupPoint] = relationship()
    batch: Mapped[DonationBatch | None] = relationship(back_populates="devices")
    events: Mapped[list["DeviceEvent"]] = relationship(
        back_populates="device", order_by="DeviceEvent.id", cascade="all, delete-orphan"
    )
    erasure_records: Mapped[list["ErasureRecord"]] = relationship(
        back_populates="device", order_by="ErasureRecord.id", cascade="all, delete-orphan"
    )
    photos: Mapped[list["DevicePhoto"]] = relationship(
        back_populates="device", order_by="[DevicePhoto.position, DevicePhoto.id]", cascade="all, delete-orphan"
    )

    def compute_offer_key(self) -> str:
        """A short stable key shared by every identical unit (see OFFER_ATTRIBUTES)."""
        return offer_key_for({name: getattr(self, name) for name in OFFER_ATTRIBUTES})

    @property
    def screen_inches(self) -> float | None:
        return None if self.screen_tenths is None else self.screen_tenths / 10

    @property
    def title(self) -> str:
        return device_title(self.brand, self.model)

    @property
    def editable(self) -> bool:
        """Reserved and sold units are promised to someone: their description no longer changes."""
        return self.status not in (DeviceStatus.RESERVED, DeviceStatus.SOLD)

    @classmethod
    def available(cls, now: datetime, columns=None):
        """SQL condition: on sale, or held by a reservation whose hold has run out. `columns`: the
        table's columns (`Device.__table__.c`) for a Core statement, else the mapped attributes."""
        status, held_until = (columns.status, columns.held_until) if columns is not None else (cls.status, cls.held_until)
        return sa.or_(
            status == DeviceStatus.LISTED,
            sa.and_(status == DeviceStatus.RESERVED, held_until <= now),
        )


@sa.event.listens_for(Device, "before_insert")
@sa.event.listens_for(Device, "before_update")
def _set_offer_key(mapper, connection, device: Device) -> None:
    device.offer_key = device.compute_offer_key()


class DeviceEvent(db.Model):
    """One recorded lifecycle transition of a device."""

    __tablename__ = "device_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[DeviceStatus | None] = mapped_column(
        enum_column(DeviceStatus, "device_event_from_status")
    )
    to_status: Mapped[DeviceStatus] = mapped_column(enum_column(DeviceStatus, "device_event_to_status"))
    actor: Mapped[str | None] = mapped_column(sa.String(160))
    note: Mapped[str | None] = mapped_column(sa.String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    device: Mapped[Device] = relationship(back_populates="events")


class RecyclingReason(LabelledEnum):
    """The reasons the shop itself gives for recycling a device. The event's note stores the
    value, so reports show the reason in the reader's language; any other note shows as typed."""

    BROKEN_MOTHERBOARD = "broken_motherboard", _l("Broken motherboard")
    SCREEN_BEYOND_REPAIR = "screen_beyond_repair", _l("Screen damaged beyond repair")
    TOO_OLD = "too_old", _l("Too old to be refurbished")

    @classmethod
    def label_for(cls, note: str | None):
        """The translated label of a known reason, the note itself otherwise (None stays None)."""
        try:
            return cls(note).label
        except ValueError:
            return note


class ErasureMethod(LabelledEnum):
    NIST_CLEAR = "nist_800_88_clear", _l("NIST SP 800-88 clear (overwrite)")
    NIST_PURGE = "nist_800_88_purge", _l("NIST SP 800-88 purge")
    CRYPTOGRAPHIC = "cryptographic_erase", _l("Cryptographic erase")
    ANSSI_TOOL = "anssi_tool", _l("Tool recommended by ANSSI")
    PHYSICAL_DESTRUCTION = "physical_destruction", _l("Physical destruction of the storage")


class ErasureResult(LabelledEnum):
    SUCCESS = "success", _l("Succeeded")
    FAILURE = "failure", _l("Failed")


class ErasureRecord(db.Model):
    """Proof that a device's data was erased: how, with what, by whom, and the certificate."""

    __tablename__ = "erasure_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    method: Mapped[ErasureMethod] = mapped_column(enum_column(ErasureMethod, "erasure_method"))
    tool: Mapped[str] = mapped_column(sa.String(120))
    tool_version: Mapped[str | None] = mapped_column(sa.String(40))
    performed_on: Mapped[date] = mapped_column(sa.Date)
    operator: Mapped[str] = mapped_column(sa.String(160))
    result: Mapped[ErasureResult] = mapped_column(enum_column(ErasureResult, "erasure_result"))
    certificate_reference: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the device came back after a sale (shop.services.aftersale): the old proof no
    # longer counts, and the device needs a new erasure before it is listed again.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    device: Mapped[Device] = relationship(back_populates="erasure_records")

    @property
    def succeeded(self) -> bool:
        return self.result == ErasureResult.SUCCESS


class DevicePhoto(db.Model):
    """One photo of a device, stored as small WebP variants named by a random token."""

    __tablename__ = "device_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    small_width: Mapped[int]
    small_height: Mapped[int]
    large_width: Mapped[int]
    large_height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    device: Mapped[Device] = relationship(back_populates="photos")


class OfferRow(db.Model):
    """One row per offer key: what the catalog lists, with its counts, never a scan of the units.

    Kept exact by database triggers on `devices` (migration 9f3b7c21d4e8), in the transaction of
    every change of a unit, whoever makes it: nothing in Python maintains it, so nothing can
    forget to. A row exists while any unit has the key (sold out or not). Holds end by timestamp:
    a unit whose hold ran out counts as available at once, read from the held units (by the
    (status, held_until) index) when the page is built (shop.services.catalog).
    """

    __tablename__ = "offers"
    __table_args__ = (
        sa.CheckConstraint("listed >= 0", name="listed_not_negative"),
        sa.CheckConstraint("held >= 0", name="held_not_negative"),
        sa.Index("ix_offers_category_price", "category", "price_cents"),
        sa.Index("ix_offers_price", "price_cents", "offer_key"),  # the catalog's order: a page stops early
    )

    offer_key: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    category: Mapped[Category] = mapped_column(enum_column(Category, "offer_category"))
    brand: Mapped[str] = mapped_column(sa.String(60))
    model: Mapped[str] = mapped_column(sa.String(120))
    cpu: Mapped[str | None] = mapped_column(sa.String(120))
    ram_gb: Mapped[int | None]
    storage_gb: Mapped[int | None]
    screen_tenths: Mapped[int | None]
    os: Mapped[str | None] = mapped_column(sa.String(60))
    keyboard_layout: Mapped[KeyboardLayout | None] = mapped_column(enum_column(KeyboardLayout, "offer_keyboard_layout"))
    grade: Mapped[Grade] = mapped_column(enum_column(Grade, "offer_grade"))
    price_cents: Mapped[int]
    pickup_point_id: Mapped[int] = mapped_column(sa.ForeignKey("pickup_points.id"), index=True)
    listed: Mapped[int]  # units on sale
    listed_battery_min: Mapped[int | None]
    listed_battery_max: Mapped[int | None]
    held: Mapped[int]  # units reserved (their hold may have run out)
    first_hold_end: Mapped[datetime | None] = mapped_column(UTCDateTime)


VERSION_SHARDS = 8


class CatalogVersion(db.Model):
    """Counters whose sum per scope grows whenever what the catalog shows of that scope may change.

    A scope is "<category>:<pickup point id>" (bumped by the triggers on `devices`), or "*" for
    what every page shows (pickup points). Cached pages keep the versions of the scopes they
    show, so reserving a laptop at one point leaves the other pages cached. Each scope has up to
    VERSION_SHARDS rows, one picked at random per change: concurrent reservations do not queue on
    one hot row.
    """

    __tablename__ = "catalog_versions"

    scope: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    shard: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(sa.BigInteger)
