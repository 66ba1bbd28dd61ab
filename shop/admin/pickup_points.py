"""Admin: pickup points (address, opening hours, open or closed)."""

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop.i18n import isolate
from shop.admin.forms import SLOTS, PointForm  # noqa: F401 (SLOTS: the form's slots a day)
from shop.admin.views import admin_only, bp
from shop.extensions import db
from shop.forms import refuse
from shop.models import PickupPoint
from shop.services import pickup_points
from shop.services.errors import DomainError

def _data(form: PointForm) -> pickup_points.PointData:
    return pickup_points.PointData(name=form.name.data, address=form.address.data, postcode=form.postcode.data,
                                   town=form.town.data, phone=form.phone.data, active=form.active.data,
                                   hours=form.hours())


def _refuse(form: PointForm, error: DomainError) -> None:
    weekday, slot = error.details.get("weekday"), error.details.get("slot")
    if weekday is not None and 0 <= weekday <= 6:
        form.slot(weekday, slot)[1].errors.append(str(error.message))
    else:
        refuse(form, error)


def _form_for(point: PickupPoint) -> PointForm:
    form = PointForm(obj=point)
    counts: dict[int, int] = {}
    for hours in point.opening_hours:
        counts[hours.weekday] = counts.get(hours.weekday, 0) + 1
        if counts[hours.weekday] <= len(SLOTS):
            opens, closes = form.slot(hours.weekday, counts[hours.weekday])
            opens.data, closes.data = hours.opens, hours.closes
    return form


@bp.get("/pickup-points")
@admin_only
def pickup_points_page():
    points = db.session.scalars(sa.select(PickupPoint).order_by(PickupPoint.active.desc(), PickupPoint.town,
                                                                PickupPoint.name)).all()
    return render_template("admin/pickup_points.html", points=points)


@bp.route("/pickup-points/new", methods=["GET", "POST"])
@admin_only
def new_pickup_point():
    form = PointForm()
    if form.validate_on_submit():
        try:
            point = pickup_points.create_point(_data(form), actor=current_user)
        except DomainError as error:
            _refuse(form, error)
        else:
            flash(_("The pickup point %(name)s is created.", name=isolate(point.name)), "success")
            return redirect(url_for("admin.pickup_points_page"), code=303)
    return render_template("admin/pickup_point_form.html", form=form, point=None), 422 if form.errors else 200


@bp.route("/pickup-points/<int:point_id>", methods=["GET", "POST"])
@admin_only
def edit_pickup_point(point_id: int):
    point = db.session.get(PickupPoint, point_id) or abort(404)
    form = PointForm() if request.method == "POST" else _form_for(point)
    if form.validate_on_submit():
        try:
            pickup_points.update_point(point, _data(form), actor=current_user)
        except DomainError as error:
            _refuse(form, error)
        else:
            flash(_("The pickup point %(name)s is saved.", name=isolate(point.name)), "success")
            return redirect(url_for("admin.pickup_points_page"), code=303)
    return render_template("admin/pickup_point_form.html", form=form, point=point,
                           still_here=pickup_points.still_here(point.id)), 422 if form.errors else 200

