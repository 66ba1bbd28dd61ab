"""The partner portal: social workers and partner admins of a structure."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.partner.views import bp
from shop.partner import privacy_views  # noqa: F401,E402 (their routes attach to bp)

__all__ = ["bp"]
