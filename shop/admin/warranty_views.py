"""Admin: the warranty period of each kind of device."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.validators import InputRequired, NumberRange

from shop.admin.views import admin_only, bp
from shop.forms import IntegerField, refuse
from shop.models import Category
from shop.services import warranty
from shop.services.errors import DomainError


class WarrantyForm(FlaskForm):
    def cells(self):
        for category in Category:
            yield category, self[category.value]


for _category in Category:
    setattr(WarrantyForm, _category.value, IntegerField(_category.label, validators=[
        InputRequired(_l("This field is required.")),
        NumberRange(min=1, max=warranty.MAX_MONTHS, message=_l("A warranty lasts from 1 to %(max)d months.",
                                                                 max=warranty.MAX_MONTHS))]))


@bp.route("/warranty", methods=["GET", "POST"])
@admin_only
def warranty_periods():
    form = WarrantyForm(data={c.value: months for c, months in warranty.periods().items()})
    if form.validate_on_submit():
        try:
            warranty.set_periods({c: cell.data for c, cell in form.cells()}, actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The warranty periods are saved."), "success")
            return redirect(url_for("admin.warranty_periods"), code=303)
    return render_template("admin/warranty.html", form=form, defaults=warranty.DEFAULT_MONTHS), \
        422 if form.errors else 200
