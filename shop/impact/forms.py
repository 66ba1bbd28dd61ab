from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from shop.forms import IntegerField
from shop.models import DonorKind, ErasureMethod, ErasureResult

REQUIRED = _l("This field is required.")
DATE = _l("Enter a date like 2026-03-31.")


class DonorForm(FlaskForm):
    name = StringField(_l("Name of the donor"), validators=[DataRequired(REQUIRED), Length(max=160)])
    kind = SelectField(_l("Kind of donor"), choices=[SelectChoice(k.value, k.label) for k in DonorKind])


class BatchForm(FlaskForm):
    reference = StringField(_l("Batch reference"), validators=[DataRequired(REQUIRED), Length(max=40)])
    received_on = DateField(_l("Date received"), validators=[InputRequired(REQUIRED)])
    declared_count = IntegerField(_l("Number of devices declared by the donor"), default=0,
                                  validators=[InputRequired(REQUIRED), NumberRange(min=0, max=100000)])
    collection_site = StringField(_l("Collection site"), validators=[Optional(), Length(max=160)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])


class ErasureForm(FlaskForm):
    serial_number = StringField(_l("Serial number"), validators=[DataRequired(REQUIRED), Length(max=80)])
    method = SelectField(_l("Method"), choices=[SelectChoice(m.value, m.label) for m in ErasureMethod])
    tool = StringField(_l("Tool"), validators=[DataRequired(REQUIRED), Length(max=120)])
    tool_version = StringField(_l("Tool version"), validators=[Optional(), Length(max=40)])
    performed_on = DateField(_l("Date of the erasure"), validators=[InputRequired(REQUIRED)])
    operator = StringField(_l("Operator"), validators=[DataRequired(REQUIRED), Length(max=160)])
    result = SelectField(_l("Result"), choices=[SelectChoice(r.value, r.label) for r in ErasureResult])
    certificate_reference = StringField(_l("Certificate reference"), validators=[Optional(), Length(max=120)])


class ErasureImportForm(FlaskForm):
    file = FileField(_l("CSV file"))
    content = HiddenField()  # the checked file, sent back with the confirmation


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
