"""Signing in and out, two-step sign-in, invitations and password links."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.auth.views import bp

__all__ = ["bp"]
