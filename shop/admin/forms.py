from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from shop.forms import IntegerField, Optional
from shop.models import OrganisationKind, Role

REQUIRED = _l("This field is required.")
# InputRequired, not DataRequired: 0 is a valid quota, and DataRequired would refuse it as "required".
QUOTA = [NumberRange(min=0, max=10000, message=_l("The monthly quota must be between 0 and 10,000 codes."))]


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name of the structure"), validators=[DataRequired(REQUIRED), Length(max=160)])
    kind = SelectField(_l("Kind of structure"), choices=[SelectChoice(k.value, k.label) for k in OrganisationKind])
    town = StringField(_l("Town"), validators=[DataRequired(REQUIRED), Length(max=80)])
    contact_email = EmailField(_l("Contact e-mail"), validators=[Optional(), Length(max=254)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=30)])
    monthly_quota = IntegerField(_l("Codes per month"), default=20, validators=[InputRequired(REQUIRED), *QUOTA])


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
