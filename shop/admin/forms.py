from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from shop.forms import IntegerField, Optional
from shop.models import OrganisationAudience, OrganisationKind, Role
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
