"""Forms and form helpers shared by several areas."""

from flask_wtf import FlaskForm

from shop.extensions import db
from shop.services.errors import DomainError


class ActionForm(FlaskForm):
    """A bare form for buttons that post: it carries the CSRF token only."""


def refuse(form, error: DomainError, field: str | None = None) -> None:
    """Show a service's refusal on the form (on its field when it names one), after undoing
    anything the request did before the refusal: the request commits below status 400."""
    db.session.rollback()
    name = error.details.get("field", field)
    target = form[name].errors if name in form else form.form_errors
    target.append(str(error.message))
