"""Forms and form helpers shared by several areas."""

from babel import support
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path
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


_wtforms_messages: dict[str, support.Translations] = {}


class WTFormsMessages:
    """WTForms' own messages ("Not a valid choice.") in the request's language, read from disk
    once per language and process. Flask-WTF reads the catalog again in every request that
    validates a form: a third of a millisecond, for each catalog page."""

    def _translations(self):
        language = str(get_locale() or "en")
        found = _wtforms_messages.get(language)
        if found is None:
            found = _wtforms_messages[language] = support.Translations.load(messages_path(), [language], domain="wtforms")
        return found

    def gettext(self, string):
        return self._translations().ugettext(string)

    def ngettext(self, singular, plural, n):
        return self._translations().ungettext(singular, plural, n)


class CachedMessagesMeta:
    """A form Meta whose WTForms messages come from `WTFormsMessages`."""

    def get_translations(self, form):
        return WTFormsMessages()


class ActionForm(FlaskForm):
    """A bare form for buttons that post: it carries the CSRF token only."""


def refuse(form, error: DomainError, field: str | None = None) -> None:
    """Show a service's refusal on the form (on its field when it names one), after undoing
    anything the request did before the refusal: the request commits below status 400."""
    db.session.rollback()
    name = error.details.get("field", field)
    target = form[name].errors if name in form else form.form_errors
    target.append(str(error.message))
