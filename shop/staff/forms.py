from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from shop.models import PaymentChannel


class FindForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Pickup code or reservation number"), validators=[DataRequired(), Length(max=40)])


class HandOverForm(FlaskForm):
    channel = SelectField(
        _l("Paid with"),
        choices=[SelectChoice(c.value, c.label) for c in (PaymentChannel.CASH, PaymentChannel.CARD_TERMINAL,
                                                          PaymentChannel.CHEQUE)],
    )


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Please give a reason.")), Length(max=200)])
