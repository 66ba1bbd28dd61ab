from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DecimalField, HiddenField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from shop.forms import IntegerField, Optional
from shop.services import aftersale
from shop.models import Category, Device, DeviceStatus, Grade, KeyboardLayout, PaymentChannel, ReturnReason


class FiniteDecimalField(DecimalField):
    """A decimal that is a number: NaN, sNaN and Infinity are refused as mistyped, not crashed on."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(_l("Enter a number, for example 12.5."))


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


class DeviceForm(FlaskForm):
    """A new device as it arrives from the refurbisher."""

    category = SelectField(_l("Kind of device"))
    brand = StringField(_l("Brand"), validators=[DataRequired(_l("This field is required.")), Length(max=60)])
    model = StringField(_l("Model"), validators=[DataRequired(_l("This field is required.")), Length(max=120)])
    serial_number = StringField(_l("Serial number"), validators=[DataRequired(_l("This field is required.")),
                                                                  Length(max=80)])
    cpu = StringField(_l("Processor"), validators=[Optional(), Length(max=120)])
    ram_gb = IntegerField(_l("Memory (GB)"), validators=[Optional(), NumberRange(min=1, max=1024)])
    storage_gb = IntegerField(_l("Storage (GB)"), validators=[Optional(), NumberRange(min=1, max=100000)])
    screen_inches = FiniteDecimalField(_l("Screen (inches)"), places=1, validators=[Optional(), NumberRange(min=1, max=100)])
    os = StringField(_l("System"), validators=[Optional(), Length(max=60)])
    keyboard_layout = SelectField(_l("Keyboard"), validators=[Optional()])
    grade = SelectField(_l("Grade"))
    battery_health = IntegerField(_l("Battery health (%)"), validators=[Optional(), NumberRange(min=0, max=100)])
    price = FiniteDecimalField(_l("Price (euros)"), places=2, validators=[Optional(), NumberRange(min=0, max=1000)])
    batch = SelectField(_l("Donation batch"), validators=[Optional()])
    pickup_point = SelectField(_l("Pickup point"))

    def __init__(self, *args, points, batches, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [SelectChoice(c.value, c.label) for c in Category]
        self.keyboard_layout.choices = [SelectChoice("", _l("None"))] + [
            SelectChoice(k.value, k.label) for k in KeyboardLayout]
        self.grade.choices = [SelectChoice(g.value, f"{g.value} · {g.label}") for g in Grade]
        self.batch.choices = [SelectChoice("", _l("None"))] + [
            SelectChoice(str(b.id), f"{b.reference} · {b.donor.name}") for b in batches]
        self.pickup_point.choices = [SelectChoice(str(p.id), p.name) for p in points]

    @staticmethod
    def data_of(device: Device) -> dict:
        """The form's fields filled in from a device, to edit it."""
        return dict(
            category=device.category.value, brand=device.brand, model=device.model,
            serial_number=device.serial_number, cpu=device.cpu, ram_gb=device.ram_gb, storage_gb=device.storage_gb,
            screen_inches=None if device.screen_tenths is None else Decimal(device.screen_tenths) / 10,
            os=device.os, keyboard_layout=device.keyboard_layout.value if device.keyboard_layout else "",
            grade=device.grade.value, battery_health=device.battery_health,
            price=Decimal(device.price_cents) / 100, batch=str(device.batch_id) if device.batch_id else "",
            pickup_point=str(device.pickup_point_id),
        )

    def values(self) -> dict:
        """The device's attributes as typed (see devices.EDITABLE_ATTRIBUTES)."""
        return dict(
            category=Category(self.category.data), brand=self.brand.data.strip(), model=self.model.data.strip(),
            serial_number=self.serial_number.data.strip(), cpu=(self.cpu.data or "").strip() or None,
            ram_gb=self.ram_gb.data, storage_gb=self.storage_gb.data,
            screen_tenths=int(self.screen_inches.data * 10) if self.screen_inches.data is not None else None,
            os=(self.os.data or "").strip() or None,
            keyboard_layout=KeyboardLayout(self.keyboard_layout.data) if self.keyboard_layout.data else None,
            grade=Grade(self.grade.data), battery_health=self.battery_health.data,
            price_cents=int(self.price.data * 100) if self.price.data is not None else None, batch_id=int(self.batch.data) if self.batch.data else None,
            pickup_point_id=int(self.pickup_point.data),
        )

    def to_device(self) -> Device:
        return Device(**self.values())


class PhotoForm(FlaskForm):
    photo = FileField(_l("Photo"), render_kw={"accept": "image/jpeg,image/png,image/webp"})


class BulkForm(FlaskForm):
    """Several devices of the stock page, and what to do with them all."""

    device = SelectMultipleField(_l("Devices"), coerce=int, validate_choice=False)
    action = SelectField(_l("With the selected devices"))

    def __init__(self, *args, **kwargs):
        from shop.services.devices import MANUAL_TARGETS

        super().__init__(*args, **kwargs)
        self.action.choices = [SelectChoice("labels", _l("Print labels"))] + [
            SelectChoice(s.value, _l("Move to: %(status)s", status=s.label)) for s in DeviceStatus if s in MANUAL_TARGETS]


class StockSearchForm(FlaskForm):
    """Search the stock list (GET): part of a serial number, brand or model, and a kind of device."""

    class Meta:
        csrf = False  # a search: GET, no change

    q = StringField(_l("Serial number or model"), validators=[Optional(), Length(max=120)])
    category = SelectField(_l("Kind of device"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [SelectChoice("", _l("Any"))] + [SelectChoice(c.value, c.label) for c in Category]
# The import of a device file (staff/import_views.py).
class ImportForm(FlaskForm):
    pickup_point = SelectField(_l("Pickup point"))
    file = FileField(_l("Device file (CSV)"), validators=[FileRequired(_l("Please choose a file."))])

    def __init__(self, *args, points, **kwargs):
        super().__init__(*args, **kwargs)
        self.pickup_point.choices = [SelectChoice(str(p.id), p.name) for p in points]


class ConfirmForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])


# After-sale cases (staff/aftersale_views.py).
COUNTER_CHOICES = [SelectChoice(c.value, c.label) for c in aftersale.COUNTER_CHANNELS]  # refunds at the counter


class FindSaleForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Reservation number, pickup code or serial number"),
                    validators=[DataRequired(_l("Enter a reservation number, a pickup code or a serial number.")),
                                Length(max=80)])


class OpenCaseForm(FlaskForm):
    serial = HiddenField(validators=[DataRequired(), Length(max=80)])
    reason = SelectField(_l("Reason"), choices=[SelectChoice(r.value, r.label) for r in ReturnReason])
    description = StringField(_l("What does not work?"), validators=[Optional(), Length(max=300)])


class ExchangeForm(FlaskForm):
    replacement = StringField(_l("Serial number of the unit given instead"),
                              validators=[DataRequired(_l("This field is required.")), Length(max=80)])


class RefundForm(FlaskForm):
    amount = StringField(_l("Amount to refund (euros)"), validators=[DataRequired(_l("This field is required.")),
                                                                      Length(max=20)])
    channel = SelectField(_l("Refunded with"), choices=COUNTER_CHOICES, validate_choice=False,
                          validators=[Optional()])  # the service checks it (none for a card payment)


class RefuseForm(FlaskForm):
    refusal_reason = StringField(_l("Reason"), validators=[DataRequired(_l("Please give a reason.")), Length(max=300)])
