"""The public catalog: home, offers, photos."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.catalog.views import bp

__all__ = ["bp"]
