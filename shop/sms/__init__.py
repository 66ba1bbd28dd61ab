"""Inbound webhooks of the SMS provider."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.sms.views import bp

__all__ = ["bp"]
