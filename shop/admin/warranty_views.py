"""Admin: the warranty period of each kind of device."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop.admin.forms import WarrantyForm
from shop.admin.views import admin_only, bp
from shop.forms import refuse
from shop.models import Category
from shop.services import warranty
from shop.services.errors import DomainError


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
