"""Beneficiaries: entering a code, reserving, paying, their turns in the queue."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.reserve.views import bp

__all__ = ["bp"]
