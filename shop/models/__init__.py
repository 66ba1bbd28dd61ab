"""Every model, imported here so that Alembic and the app see the whole schema."""

from shop.models.catalog import OpeningHours, PickupPoint
from shop.models.stock import (
    Category,
    Device,
    DeviceEvent,
    DeviceStatus,
    DonationBatch,
    Donor,
    DonorKind,
    Grade,
    KeyboardLayout,
)

__all__ = [
    "Category", "Device", "DeviceEvent", "DeviceStatus", "DonationBatch", "Donor", "DonorKind",
    "Grade", "KeyboardLayout", "OpeningHours", "PickupPoint",
]
