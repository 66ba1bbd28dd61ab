"""Forms and form helpers shared by several areas."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField as _IntegerField
from wtforms import validators

from shop.extensions import db
from shop.services.errors import DomainError


MAX_DIGITS = 15  # beyond this, a number is a typo (and WTForms' NumberRange overflows on it)


class IntegerField(_IntegerField):
    """WTForms' IntegerField, refusing absurdly long numbers with a message instead of crashing."""

    def process_formdata(self, valuelist):
        if valuelist and len(valuelist[0].strip().lstrip("+-")) > MAX_DIGITS:
            self.data = None
            raise ValueError(_l("Enter a smaller number."))
        super().process_formdata(valuelist)


class Optional(validators.Optional):
    """WTForms' Optional, which lets a blank-looking value (" ") through as if empty, but leaves
    it in the field's data; this one empties it, so code after validation never sees it."""

    def __call__(self, form, field):
        if isinstance(field.data, str) and not field.data.strip():
            field.data = ""
        super().__call__(form, field)


class ActionForm(FlaskForm):
    """A bare form for buttons that post: it carries the CSRF token only."""


def refuse(form, error: DomainError, field: str | None = None) -> None:
    """Show a service's refusal on the form (on its field when it names one), after undoing
    anything the request did before the refusal: the request commits below status 400."""
    db.session.rollback()
    name = error.details.get("field", field)
    target = form[name].errors if name in form else form.form_errors
    target.append(str(error.message))
