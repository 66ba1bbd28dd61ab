"""Admin: pickup points (address, opening hours, open or closed)."""

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TimeField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from shop.i18n import isolate
from shop.admin.views import admin_only, bp
from shop.extensions import db
from shop.forms import refuse
from shop.models import PickupPoint
from shop.services import pickup_points
from shop.services.errors import DomainError

REQUIRED = _l("This field is required.")
SLOTS = (1, 2)


class PointForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    address = StringField(_l("Address"), validators=[DataRequired(REQUIRED), Length(max=200)])
    postcode = StringField(_l("Postcode"), validators=[
        DataRequired(REQUIRED), Regexp(r"^\s*\d{5}\s*$", message=_l("A postcode has 5 digits, such as 57000."))])
    town = StringField(_l("Town"), validators=[DataRequired(REQUIRED), Length(max=80)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    active = BooleanField(_l("Open: shown to the public and takes new devices"), default=True)

    def slot(self, weekday: int, slot: int):
        return self[f"d{weekday}_opens{slot}"], self[f"d{weekday}_closes{slot}"]

    def hours(self) -> list:
        found = []
        for weekday in range(7):
            for slot in SLOTS:
                opens, closes = self.slot(weekday, slot)
                if opens.data and closes.data:
                    found.append((weekday, slot, opens.data, closes.data))
        return found

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for weekday in range(7):
            for slot in SLOTS:
                opens, closes = self.slot(weekday, slot)
                if bool(opens.data) != bool(closes.data) and not (opens.errors or closes.errors):
                    (closes if opens.data else opens).errors.append(_("Give both the opening and the closing time."))
                    ok = False
        return ok


for _weekday in range(7):
    for _slot in SLOTS:
        setattr(PointForm, f"d{_weekday}_opens{_slot}",
                TimeField(_l("Opens (slot %(slot)d)", slot=_slot), validators=[Optional()]))
        setattr(PointForm, f"d{_weekday}_closes{_slot}",
                TimeField(_l("Closes (slot %(slot)d)", slot=_slot), validators=[Optional()]))


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

