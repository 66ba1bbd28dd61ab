"""Who may reach which page: roles checked in one place."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from shop.models import Role


def roles_required(*roles: Role):
    """Sign-in required (redirect to /login), then 403 unless the user has one of `roles`."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(roles)
        return wrapped

    return decorator


def home_for(user) -> str:
    """The endpoint a signed-in user lands on."""
    if user.role.is_partner:
        return "partner.dashboard"
    if user.role == Role.ADMIN:
        return "admin.index"
    return "staff.board"
