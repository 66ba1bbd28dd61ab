"""Donations, erasure records, donor reports, the impact dashboard and the public impact page.

One blueprint for three audiences (admins under /admin/donors and /admin/impact, staff under
/staff/erasures, the public at /impact and /donor-report/<token>), each route guarded by its own
role check: they share the donation and impact services, forms and templates, and splitting them
would rename every endpoint (impact.*) that templates, e-mails and bookmarks use.
"""

# The blueprint is defined in views.py; every route module of this area is imported here, once.
from shop.impact.views import bp

__all__ = ["bp"]
