from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length

from shop.models import PaymentMethod


class CodeForm(FlaskForm):
    code = StringField(
        _l("Your eligibility code"),
        validators=[DataRequired(_l("Please type the code from your slip.")), Length(max=64, message=_l("This code is too long."))],
        # Typed as printed: capitals, no spell check, left to right in every language.
        render_kw={"autocapitalize": "characters", "spellcheck": "false", "dir": "ltr", "class": "code-input"},
    )
    offer = HiddenField()


class ReserveForm(FlaskForm):
    method = RadioField(_l("How do you want to pay?"), validators=[DataRequired(_l("Please choose how to pay."))])

    def __init__(self, *args, online: bool, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [SelectChoice(PaymentMethod.COUNTER.value, _l("At the pickup point (cash, card or cheque)"))]
        if online:
            choices.append(SelectChoice(PaymentMethod.CARD_ONLINE.value, _l("Now, online by bank card")))
        self.method.choices = choices
        if not self.method.data:
            self.method.data = PaymentMethod.COUNTER.value


class CancelForm(FlaskForm):
    pass
