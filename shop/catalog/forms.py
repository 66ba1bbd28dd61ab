"""The catalog filter form, read from the query string."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional

from shop.forms import IntegerField
from shop.models import Category
from shop.services.catalog import OfferFilters

RAM_CHOICES = (4, 8, 16)
STORAGE_CHOICES = (64, 128, 256, 512)


def _optional_int(value):
    return int(value) if value not in (None, "") else None


class CatalogFilterForm(FlaskForm):
    class Meta:
        csrf = False

    category = SelectField(_l("Kind of device"), validators=[Optional()])
    point = SelectField(_l("Pickup point"), validators=[Optional()])
    max_price = IntegerField(
        _l("Maximum price (euros)"),
        validators=[Optional(), NumberRange(min=0, max=1000, message=_l("Enter a whole number of euros, up to %(max)d.", max=1000))],
    )
    min_ram = SelectField(_l("Memory (RAM) at least"), validators=[Optional()])
    min_storage = SelectField(_l("Storage at least"), validators=[Optional()])
    sort = SelectField(
        _l("Sort by"),
        choices=[
            SelectChoice("price_asc", _l("Price: lowest first")),
            SelectChoice("price_desc", _l("Price: highest first")),
        ],
        default="price_asc",
        validators=[Optional()],
    )
    page = IntegerField(
        _l("Page"),
        validators=[Optional(), NumberRange(min=1, max=100000, message=_l("This page number is not valid."))],
    )

    def __init__(self, formdata, pickup_points):
        super().__init__(formdata=formdata)
        anything = SelectChoice("", _l("Any"))
        self.category.choices = [anything] + [SelectChoice(c.value, c.label) for c in Category]
        self.point.choices = [anything] + [SelectChoice(str(p.id), f"{p.name} ({p.town})") for p in pickup_points]
        self.min_ram.choices = [anything] + [SelectChoice(str(n), _l("%(n)d GB", n=n)) for n in RAM_CHOICES]
        self.min_storage.choices = [anything] + [
            SelectChoice(str(n), _l("%(n)d GB", n=n)) for n in STORAGE_CHOICES
        ]

    SHOWN = ("category", "point", "max_price", "min_ram", "min_storage", "sort")

    def rendering_key(self) -> tuple:
        """Everything the rendered form depends on besides the language: what was typed in each
        field shown, its value, its errors, the pickup points offered, and whether any field (the
        page number too) has an error."""
        fields = tuple((tuple(f.raw_data or ()), f.data, tuple(f.errors)) for f in (self[name] for name in self.SHOWN))
        # Labels as text: a lazy one hashes in the language of the moment, and a key must not.
        points = tuple((c.value, str(c.label)) for c in self.point.choices)
        return bool(self.errors), fields, points

    def to_filters(self) -> tuple[OfferFilters, int]:
        """The valid filters and page number; an invalid field is ignored (its error is shown)."""

        def ok(field):
            if field.data in (None, "") or field.errors:
                return False
            # Optional() lets a blank-looking value (" ") through without checking the choices.
            return not isinstance(field, SelectField) or field.data in {c[0] for c in field.iter_choices()}

        max_price = self.max_price.data if ok(self.max_price) else None
        filters = OfferFilters(
            category=Category(self.category.data) if ok(self.category) else None,
            pickup_point_id=_optional_int(self.point.data) if ok(self.point) else None,
            max_price_cents=max_price * 100 if max_price is not None else None,
            min_ram_gb=_optional_int(self.min_ram.data) if ok(self.min_ram) else None,
            min_storage_gb=_optional_int(self.min_storage.data) if ok(self.min_storage) else None,
            sort=self.sort.data if ok(self.sort) else "price_asc",
        )
        page = self.page.data if ok(self.page) else 1
        return filters, page
