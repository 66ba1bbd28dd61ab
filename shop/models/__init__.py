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
    OrganisationAudience,
    OrganisationKind,
    OrganisationStatus,
    QuotaUsage,
)
from shop.models.reservations import (
    ACTIVE_STATUSES,
    Payment,
    PaymentChannel,
    PaymentIssue,
    PaymentIssueReason,
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
    CatalogVersion,
    OfferRow,
)
from shop.models.prices import GridPrice
from shop.models.slots import PickupSlot, SlotClosure, SlotMode, SlotTemplate
from shop.models.waitlist import WaitlistEntry, WaitlistStatus
from shop.models.messages import Channel, Message, MessageStatus
from shop.models.aftersale import AftersaleCase, CaseOutcome, ReturnReason, WarrantyPeriod
from shop.models.api import ApiRole, ApiToken, IdempotentRequest, WebhookDelivery, WebhookStatus
from shop.models.ops import CronRun

__all__ = [
    "ACTIVE_STATUSES", "Payment", "PaymentChannel", "PaymentIssue", "PaymentIssueReason", "PaymentKind", "PaymentMethod", "PaymentStatus",
    "Reservation", "ReservationStatus", "StripeEvent",
    "AuditEntry", "Beneficiary", "CodeCategory", "CodeState", "EligibilityCode", "EligibilityGround", "OneTimeToken",
    "Organisation", "OrganisationAudience", "OrganisationKind", "OrganisationStatus", "QuotaUsage", "RecoveryCode", "Role", "TokenPurpose", "User",
    "Category", "Device", "DeviceEvent", "DevicePhoto", "DeviceStatus", "DonationBatch", "Donor", "DonorKind",
    "DonorShareLink", "ErasureMethod", "ErasureRecord", "ErasureResult",
    "Grade", "KeyboardLayout", "CatalogVersion", "OfferRow", "OpeningHours", "PickupPoint",
    "GridPrice", "PendingImport", "WaitlistEntry", "WaitlistStatus", "Channel", "Message", "MessageStatus",
    "AftersaleCase", "CaseOutcome", "ReturnReason", "WarrantyPeriod",
    "ApiRole", "ApiToken", "IdempotentRequest", "WebhookDelivery", "WebhookStatus",
    "CronRun",
    "PickupSlot", "SlotClosure", "SlotMode", "SlotTemplate",
]
