"""Every model, imported here so that Alembic and the app see the whole schema."""

from shop.models.accounts import AuditEntry, OneTimeToken, RecoveryCode, Role, TokenPurpose, User
from shop.models.catalog import OpeningHours, PickupPoint
from shop.models.imports import PendingImport
from shop.models.impact import DonorShareLink
from shop.models.partners import (
    Beneficiary,
    CodeCategory,
    CodeState,
    EligibilityCode,
    EligibilityGround,
    Organisation,
    OrganisationKind,
    OrganisationStatus,
    QuotaUsage,
)
from shop.models.reservations import (
    ACTIVE_STATUSES,
    Payment,
    PaymentChannel,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
    Reservation,
    ReservationStatus,
    StripeEvent,
)
from shop.models.stock import (
    Category,
    Device,
    DeviceEvent,
    DevicePhoto,
    DeviceStatus,
    DonationBatch,
    Donor,
    DonorKind,
    ErasureMethod,
    ErasureRecord,
    ErasureResult,
    Grade,
    KeyboardLayout,
    StockVersion,
)
from shop.models.prices import GridPrice
from shop.models.messages import Channel, Message, MessageStatus

__all__ = [
    "ACTIVE_STATUSES", "Payment", "PaymentChannel", "PaymentKind", "PaymentMethod", "PaymentStatus",
    "Reservation", "ReservationStatus", "StripeEvent",
    "AuditEntry", "Beneficiary", "CodeCategory", "CodeState", "EligibilityCode", "EligibilityGround", "OneTimeToken",
    "Organisation", "OrganisationKind", "OrganisationStatus", "QuotaUsage", "RecoveryCode", "Role", "TokenPurpose", "User",
    "Category", "Device", "DeviceEvent", "DevicePhoto", "DeviceStatus", "DonationBatch", "Donor", "DonorKind",
    "DonorShareLink", "ErasureMethod", "ErasureRecord", "ErasureResult",
    "Grade", "KeyboardLayout", "StockVersion", "OpeningHours", "PickupPoint",
    "GridPrice", "PendingImport", "Channel", "Message", "MessageStatus",
]
