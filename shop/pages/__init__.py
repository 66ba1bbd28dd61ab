"""Plain public pages: how it works, where to get a code, privacy, accessibility."""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.pages.views import bp

__all__ = ["bp"]
