"""Admin: the default price grid, per kind of device and grade, never above the legal caps."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from shop.admin.forms import GridForm, cell_name
from shop.admin.views import admin_only, bp
from shop.models import Category, Grade
from shop.services import pricing
from shop.services.errors import DomainError


@bp.route("/prices", methods=["GET", "POST"])
@admin_only
def prices():
    current = pricing.grid()
    form = GridForm(data={cell_name(c, g): f"{cents / 100:.2f}" for (c, g), cents in current.items()})
    if form.validate_on_submit():
        wanted, ok = {}, True
        for key, cell in form.cells():
            try:
                wanted[key] = pricing.parse_euros(cell.data)
            except DomainError as error:
                cell.errors.append(str(error.message))
                ok = False
        if ok:
            try:
                changed = pricing.set_grid(wanted, actor=current_user)
            except DomainError as error:
                for key, message in error.details.get("problems", {}).items():
                    form[cell_name(*key)].errors.append(str(message))
                form.form_errors.append(str(error.message))
            else:
                flash(ngettext("The price grid is saved (%(num)d change).", "The price grid is saved (%(num)d changes).", changed),
                      "success")
                return redirect(url_for("admin.prices"), code=303)
    return render_template("admin/prices.html", form=form, categories=list(Category), grades=list(Grade),
                           caps=pricing.LEGAL_CAPS_CENTS, cap_source=pricing.LEGAL_CAP_SOURCE,
                           cell_name=cell_name), 422 if form.errors else 200
