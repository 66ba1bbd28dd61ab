"""Forms of the partner portal. They check the shape of what was typed; the services decide."""

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, SelectChoice, SelectField, SelectMultipleField, StringField, TelField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from shop.catalog.forms import CatalogFilterForm
from shop.forms import MAX_DIGITS
from shop.models import CodeCategory, CodeState, EligibilityGround
from shop.services import codes
from shop.services.accounts import normalise_email
from shop.services.errors import DomainError
from shop.services.partners import BeneficiaryData, check_birth_year, check_justification, normalise_phone

REQUIRED = _l("This field is required.")
NOT_IN_LIST = _l("Choose from the list.")
REASON_REQUIRED = _l("Please give a reason.")


class ChoiceField(SelectField):
    """A select whose refusal of a forged value speaks our words."""

    def pre_validate(self, form):
        if self.data not in {choice[0] for choice in self.iter_choices()}:
            raise ValidationError(NOT_IN_LIST)


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes, one per choice (render it inside a fieldset with a legend)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        known = {choice[0] for choice in self.iter_choices()}
        if any(value not in known for value in self.data or ()):
            raise ValidationError(NOT_IN_LIST)


class WholeNumberField(IntegerField):
    """An integer field that keeps what was typed and leaves the message to its validators."""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0].strip():
            if len(valuelist[0].strip().lstrip("+-")) > MAX_DIGITS:
                self.data = None
                return
            try:
                self.data = int(valuelist[0].strip())
            except ValueError:
                self.data = None


def _through(normalise):
    """A validator that runs a service's normaliser and shows its message on the field."""

    def check(form, field):
        if field.data and field.data.strip():
            try:
                normalise(field.data)
            except DomainError as error:
                raise ValidationError(str(error.message)) from None

    return check


def _at_least_one(form, field):
    # Not DataRequired: its "required" flag would be copied onto every checkbox of the group.
    if not field.data:
        raise ValidationError(_l("Choose at least one kind of device."))


def _year_given(form, field):
    if field.data is None:
        raise ValidationError(_l("Enter the year with 4 digits, for example 1985."))
    # The service's own rule, checked here too so that every field is checked in one round.
    try:
        check_birth_year(field.data)
    except DomainError as error:
        raise ValidationError(str(error.message)) from None


class BeneficiaryForm(FlaskForm):
    display_name = StringField(
        _l("Name the person is called by"), validators=[DataRequired(REQUIRED), Length(max=80)]
    )
    birth_year = WholeNumberField(_l("Year of birth"), validators=[InputRequired(REQUIRED), _year_given],
                                  widget=TextInput())
    language = ChoiceField(_l("Language the person reads best"), validators=[DataRequired(REQUIRED)])
    phone = TelField(_l("Phone"), validators=[Optional(), Length(max=30), _through(normalise_phone)])
    email = EmailField(_l("E-mail address"), validators=[Optional(), Length(max=254), _through(normalise_email)])
    texts_allowed = BooleanField(_l("The person agrees to receive text messages from the shop"))
    sms_phone = TelField(_l("Number for text messages"), validators=[Optional(), Length(max=30)])
    ground = ChoiceField(_l("Eligibility ground"), validators=[DataRequired(REQUIRED)])
    justification = StringField(_l("Justification"), validators=[Optional(), Length(max=200)])
    override_reason = StringField(_l("Why you are sure"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice("", _l("Choose a language"))] + [
            SelectChoice(code, name, render_kw={"lang": code})
            for code, name in current_app.config["LANGUAGES"].items()
        ]
        self.ground.choices = [SelectChoice("", _l("Choose a ground"))] + [
            SelectChoice(ground.value, ground.label) for ground in EligibilityGround
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # A rule across two fields, checked in the same round as the others (not after them).
        if self.ground.data in {ground.value for ground in EligibilityGround}:
            try:
                check_justification(EligibilityGround(self.ground.data), self.justification.data)
            except DomainError as error:
                self.justification.errors = [*self.justification.errors, str(error.message)]
                valid = False
        return valid

    def to_data(self) -> BeneficiaryData:
        return BeneficiaryData(
            display_name=self.display_name.data,
            birth_year=self.birth_year.data,
            language=self.language.data,
            ground=EligibilityGround(self.ground.data),
            phone=(self.phone.data or "").strip() or None,
            email=(self.email.data or "").strip() or None,
            justification=self.justification.data,
            texts_allowed=bool(self.texts_allowed.data),
            sms_phone=(self.sms_phone.data or "").strip() or None,
        )


def _days(label, default):
    return WholeNumberField(
        label,
        default=default,
        validators=[
            InputRequired(REQUIRED),
            NumberRange(min=1, max=codes.MAX_VALIDITY_DAYS,
                        message=_l("Enter a number of days between %(min)d and %(max)d.")),
        ],
    )


class IssueCodeForm(FlaskForm):
    categories = MultiCheckboxField(
        _l("What the code allows"),
        choices=[SelectChoice(category.value, category.label) for category in CodeCategory],
        validators=[_at_least_one],
    )
    validity_days = _days(_l("Valid for (days)"), codes.DEFAULT_VALIDITY_DAYS)

    def category_values(self) -> list[CodeCategory]:
        return [CodeCategory(value) for value in self.categories.data]


def _reason():
    return StringField(_l("Reason"), validators=[DataRequired(REASON_REQUIRED), Length(max=200)])


class RevokeForm(FlaskForm):
    reason = _reason()


class ExtendForm(FlaskForm):
    days = _days(_l("Days to add"), 30)
    reason = _reason()


class ReissueForm(FlaskForm):
    reason = _reason()


# The forms shown next to each active code on a person's page, by action.
CODE_ACTIONS = {"revoke": RevokeForm, "extend": ExtendForm, "reissue": ReissueForm}


def code_form(action: str, code_id: int, **kwargs) -> FlaskForm:
    """The form of one action on one code; the prefix keeps field names and ids unique on the page."""
    return CODE_ACTIONS[action](prefix=f"{action}-{code_id}", **kwargs)


class InviteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    email = EmailField(_l("E-mail address"),
                       validators=[DataRequired(REQUIRED), Length(max=254), _through(normalise_email)])


class DashboardFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Name"), validators=[Optional(), Length(max=80)])
    status = ChoiceField(
        _l("Code status"),
        choices=[SelectChoice("", _l("Any"))] + [SelectChoice(state.value, state.label) for state in CodeState],
        validators=[Optional()],
    )


class ErasureForm(FlaskForm):
    """Erasing a person's data cannot be undone: a box to tick on purpose."""

    confirm = BooleanField(_l("I confirm that the person asked for their data to be erased."),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class OnBehalfFilterForm(CatalogFilterForm):
    """The catalog's filters, offering only the kinds of device the person's code allows."""

    def __init__(self, formdata, pickup_points, categories):
        super().__init__(formdata, pickup_points)
        self.category.choices = [SelectChoice("", _l("Any"))] + [SelectChoice(c.value, c.label) for c in categories]
