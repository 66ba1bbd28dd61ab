"""Staff at a pickup point: reservations, the counter, the stock and its import."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.staff.views import bp
from shop.staff import aftersale_views, import_views  # noqa: F401,E402 (their routes attach to bp)

__all__ = ["bp"]
