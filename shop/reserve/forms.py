from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from shop.forms import IntegerField, Optional
from shop.models import PaymentMethod
from shop.models.waitlist import MAX_PRICE_CENTS


class CodeForm(FlaskForm):
    code = StringField(
        _l("Your code"),
        validators=[DataRequired(_l("Please type the code from your slip.")), Length(max=64, message=_l("This code is too long."))],
        # Typed as printed: capitals, no spell check, left to right in every language.
        render_kw={"autocapitalize": "characters", "spellcheck": "false", "dir": "ltr", "class": "code-input"},
    )
    offer = HiddenField()
    then = HiddenField()  # where to go once the code is known (the waitlist form)


class ReserveForm(FlaskForm):
    method = RadioField(_l("How do you want to pay?"), validators=[DataRequired(_l("Please choose how to pay."))])
    slot = IntegerField(_l("Pickup time"), validators=[Optional()])  # the service checks the time itself

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


class WaitlistForm(FlaskForm):
    """Join the queue for a kind of device ("Tell me when one is back"); also used by social workers."""

    category = SelectField(_l("Kind of device"), validators=[DataRequired(_l("Choose a kind of device."))])
    pickup_point = SelectField(_l("Pickup point"), validators=[DataRequired(_l("Choose a pickup point."))])
    any_point_in_town = BooleanField(_l("Any pickup point in the same town"))
    max_price = IntegerField(
        _l("Highest price you can pay (euros)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_PRICE_CENTS // 100,
                                            message=_l("Give a price between %(min)s and %(max)s euros, or leave it empty."))],
    )

    def __init__(self, *args, categories, points, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [("", _l("Choose…"))] + [(c.value, c.label) for c in categories]
        self.pickup_point.choices = [("", _l("Choose…"))] + [(str(p.id), f"{p.name} ({p.town})") for p in points]

    def service_arguments(self) -> dict:
        """What waitlist.join takes (the service checks it all again)."""
        point = self.pickup_point.data
        return dict(category=self.category.data, pickup_point_id=int(point) if point and point.isdigit() else None,
                    any_point_in_town=bool(self.any_point_in_town.data),
                    max_price_cents=self.max_price.data * 100 if self.max_price.data is not None else None)


class TurnForm(FlaskForm):
    """Reserve the unit held for a turn: the code, unless this browser already has it."""

    code = StringField(_l("Your code"), validators=[Length(max=64, message=_l("This code is too long."))])
    slot = IntegerField(_l("Pickup time"), validators=[Optional()])
