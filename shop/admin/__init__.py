"""Admins: structures, accounts, pickup points, the price grid, audit log, messages, payment issues, privacy."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.admin.views import bp
from shop.admin import (  # noqa: F401,E402 (their routes attach to bp)
    api_tokens, audit_views, messages_views, payment_issues, pickup_points, prices, privacy_views, slots_views,
    system_views, warranty_views,
)

__all__ = ["bp"]
