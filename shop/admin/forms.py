import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import validators  # the pickup point form keeps WTForms' own Optional
from wtforms import (
    BooleanField, DateField, EmailField, SelectChoice, SelectField, SelectMultipleField, StringField, TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from shop.extensions import db
from shop.forms import IntegerField, Optional
from shop.models import (
    ApiRole, Category, Donor, Grade, Organisation, OrganisationAudience, OrganisationKind, Role, SlotMode,
)
from shop.services import warranty
from shop.services.partners import PublicDetails

REQUIRED = _l("This field is required.")
# InputRequired, not DataRequired: 0 is a valid quota, and DataRequired would refuse it as "required".
QUOTA = [NumberRange(min=0, max=10000, message=_l("The monthly quota must be between 0 and 10,000 codes."))]


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name of the structure"), validators=[DataRequired(REQUIRED), Length(max=160)])
    kind = SelectField(_l("Kind of structure"), choices=[SelectChoice(k.value, k.label) for k in OrganisationKind])
    town = StringField(_l("Town"), validators=[DataRequired(REQUIRED), Length(max=80)])
    contact_email = EmailField(_l("Contact e-mail"), validators=[Optional(), Length(max=254)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=30)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=160)])
    postcode = StringField(_l("Postcode"), validators=[Optional(), Length(max=10)])
    opening_hours = StringField(_l("Opening hours"), validators=[Optional(), Length(max=200)])
    audience = SelectField(_l("Who it helps"), validators=[Optional()], choices=[
        SelectChoice("", _l("Whom this kind of structure usually helps")),
        *(SelectChoice(a.value, a.label) for a in OrganisationAudience),
    ])
    monthly_quota = IntegerField(_l("Codes per month"), default=20, validators=[InputRequired(REQUIRED), *QUOTA])


class PublicDetailsForm(FlaskForm):
    """What "Where to get a code" shows about a structure."""

    address = StringField(_l("Address"), validators=[Optional(), Length(max=160)])
    postcode = StringField(_l("Postcode"), validators=[Optional(), Length(max=10)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=30)])
    contact_email = EmailField(_l("Contact e-mail"), validators=[Optional(), Length(max=254)])
    opening_hours = StringField(_l("Opening hours"), validators=[Optional(), Length(max=200)])
    audience = SelectField(_l("Who it helps"), choices=[SelectChoice(a.value, a.label) for a in OrganisationAudience])



def public_details(form) -> PublicDetails:
    """The public details typed in either structure form."""
    return PublicDetails(address=form.address.data, postcode=form.postcode.data, opening_hours=form.opening_hours.data,
                         audience=OrganisationAudience(form.audience.data) if form.audience.data else None)


class QuotaForm(FlaskForm):
    monthly_quota = IntegerField(_l("Codes per month"), validators=[InputRequired(REQUIRED), *QUOTA])


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(REQUIRED), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    role = SelectField(_l("Role"))
    pickup_point = SelectField(_l("Pickup point (staff)"), validators=[Optional()])

    def __init__(self, *args, roles, points=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [SelectChoice(r.value, r.label) for r in roles]
        self.pickup_point.choices = [SelectChoice("", _l("None"))] + [
            SelectChoice(str(p.id), p.name) for p in points
        ]


STAFF_ROLES = (Role.STAFF, Role.ADMIN)


# The price grid (admin/prices.py).

def cell_name(category: Category, grade: Grade) -> str:
    return f"price_{category.value}_{grade.value}"


class GridForm(FlaskForm):
    def cells(self):
        for category in Category:
            for grade in Grade:
                yield (category, grade), self[cell_name(category, grade)]


for _category in Category:
    for _grade in Grade:
        setattr(GridForm, cell_name(_category, _grade), StringField(
            _l("%(category)s, grade %(grade)s (euros)", category=_category.label, grade=_grade.value),
            validators=[Length(max=20)]))


# A pickup point and its opening hours (admin/pickup_points.py).

SLOTS = (1, 2)


class PointForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    address = StringField(_l("Address"), validators=[DataRequired(REQUIRED), Length(max=200)])
    postcode = StringField(_l("Postcode"), validators=[
        DataRequired(REQUIRED), Regexp(r"^\s*\d{5}\s*$", message=_l("A postcode has 5 digits, such as 57000."))])
    town = StringField(_l("Town"), validators=[DataRequired(REQUIRED), Length(max=80)])
    phone = StringField(_l("Phone"), validators=[validators.Optional(), Length(max=30)])
    active = BooleanField(_l("Open: shown to the public and takes new devices"), default=True)

    def slot(self, weekday: int, slot: int):
        return self[f"d{weekday}_opens{slot}"], self[f"d{weekday}_closes{slot}"]

    def hours(self) -> list:
        found = []
        for weekday in range(7):
            for slot in SLOTS:
                opens, closes = self.slot(weekday, slot)
                if opens.data and closes.data:
                    found.append((weekday, slot, opens.data, closes.data))
        return found

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for weekday in range(7):
            for slot in SLOTS:
                opens, closes = self.slot(weekday, slot)
                if bool(opens.data) != bool(closes.data) and not (opens.errors or closes.errors):
                    (closes if opens.data else opens).errors.append(_("Give both the opening and the closing time."))
                    ok = False
        return ok


for _weekday in range(7):
    for _slot in SLOTS:
        setattr(PointForm, f"d{_weekday}_opens{_slot}",
                TimeField(_l("Opens (slot %(slot)d)", slot=_slot), validators=[validators.Optional()]))
        setattr(PointForm, f"d{_weekday}_closes{_slot}",
                TimeField(_l("Closes (slot %(slot)d)", slot=_slot), validators=[validators.Optional()]))


# API tokens (admin/api_tokens.py).
class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r.value, r.label) for r in ApiRole])
    donors = SelectMultipleField(_l("Donors (refurbisher or donor)"), coerce=int, validators=[Optional()])
    organisation = SelectField(_l("Structure (partner)"), validators=[Optional()])
    expires_on = DateField(_l("Works until (optional)"), validators=[Optional()])
    webhook_url = StringField(_l("Webhook address (refurbisher, optional)"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.donors.choices = [(d.id, d.name) for d in db.session.scalars(sa.select(Donor).order_by(Donor.name))]
        self.organisation.choices = [("", "—")] + [
            (str(o.id), o.name) for o in db.session.scalars(sa.select(Organisation).order_by(Organisation.name))]


# Pickup times of a point (admin/slots_views.py).
class ModeForm(FlaskForm):
    mode = SelectField(_l("Pickup times"), choices=[SelectChoice(m.value, m.label) for m in SlotMode])


class TemplateForm(FlaskForm):
    weekday = SelectField(_l("Day"), coerce=int, validators=[InputRequired(REQUIRED)])
    start = TimeField(_l("From"), validators=[DataRequired(REQUIRED)])
    end = TimeField(_l("To"), validators=[DataRequired(REQUIRED)])
    minutes = IntegerField(_l("Minutes per slot"), default=15, validators=[InputRequired(REQUIRED)])
    capacity = IntegerField(_l("People per slot"), default=1, validators=[InputRequired(REQUIRED)])

    def __init__(self, *args, **kwargs):
        from shop.i18n import weekday_name

        super().__init__(*args, **kwargs)
        self.weekday.choices = [SelectChoice(day, weekday_name(day)) for day in range(7)]


class ClosureForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired(REQUIRED)])
    reason = StringField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=120)])


class ExtraSlotForm(FlaskForm):
    extra_day = DateField(_l("Date"), validators=[DataRequired(REQUIRED)])
    extra_start = TimeField(_l("From"), validators=[DataRequired(REQUIRED)])
    extra_minutes = IntegerField(_l("Minutes per slot"), default=15, validators=[InputRequired(REQUIRED)])
    extra_capacity = IntegerField(_l("People per slot"), default=1, validators=[InputRequired(REQUIRED)])


# Warranty periods (admin/warranty_views.py).
class WarrantyForm(FlaskForm):
    def cells(self):
        for category in Category:
            yield category, self[category.value]


for _category in Category:
    setattr(WarrantyForm, _category.value, IntegerField(_category.label, validators=[
        InputRequired(REQUIRED),
        NumberRange(min=1, max=warranty.MAX_MONTHS, message=warranty.PERIOD_REFUSAL)]))
