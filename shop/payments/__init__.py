"""Online payment: the Stripe webhook and the return from Checkout."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.payments.views import bp

__all__ = ["bp"]
