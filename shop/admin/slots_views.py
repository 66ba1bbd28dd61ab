"""Admin: the pickup times of a point (weekly hours split into slots, closed days, extra slots)."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop.admin.forms import ClosureForm, ExtraSlotForm, ModeForm, TemplateForm
from shop.admin.views import admin_only, bp
from shop.extensions import db
from shop.forms import refuse
from shop.models import PickupPoint, SlotClosure, SlotTemplate
from shop.models.types import utcnow
from shop.services import slots
from shop.services.errors import DomainError

def _minute(value) -> int:
    return value.hour * 60 + value.minute


def _page(point: PickupPoint, *, mode=None, template=None, closure=None, extra=None, status=200):
    now = utcnow()
    context = slots.overview(point, now)
    return render_template(
        "admin/slots.html", point=point, editable=True,
        mode_form=mode or ModeForm(formdata=None, mode=point.slot_mode), template_form=template or TemplateForm(formdata=None),
        closure_form=closure or ClosureForm(formdata=None), extra_form=extra or ExtraSlotForm(formdata=None),
        action=ModeForm(formdata=None), **context), status


def _point(point_id: int) -> PickupPoint:
    return db.session.get(PickupPoint, point_id) or abort(404)


@bp.get("/pickup-points/<int:point_id>/slots")
@admin_only
def pickup_slots(point_id: int):
    return _page(_point(point_id))


def _done(point: PickupPoint, message: str):
    flash(message, "success")
    return redirect(url_for("admin.pickup_slots", point_id=point.id), code=303)


@bp.post("/pickup-points/<int:point_id>/slots/mode")
@admin_only
def pickup_slots_mode(point_id: int):
    point = _point(point_id)
    form = ModeForm()
    if form.validate_on_submit():
        try:
            slots.set_mode(point, form.mode.data, actor=current_user)
            slots.materialise(point.id)
        except DomainError as error:
            refuse(form, error, "mode")
        else:
            return _done(point, _("Saved."))
    return _page(point, mode=form, status=422)


@bp.post("/pickup-points/<int:point_id>/slots/hours")
@admin_only
def pickup_slots_add_hours(point_id: int):
    point = _point(point_id)
    form = TemplateForm()
    if form.validate_on_submit():
        try:
            slots.add_template(point, weekday=form.weekday.data, start_minute=_minute(form.start.data),
                               end_minute=_minute(form.end.data), slot_minutes=form.minutes.data,
                               capacity=form.capacity.data, actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            return _done(point, _("Saved."))
    return _page(point, template=form, status=422)


@bp.post("/pickup-points/<int:point_id>/slots/hours/<int:template_id>/remove")
@admin_only
def pickup_slots_remove_hours(point_id: int, template_id: int):
    point = _point(point_id)
    template = db.session.get(SlotTemplate, template_id)
    if template is None or template.pickup_point_id != point.id or not ModeForm().validate_on_submit():
        abort(404)
    told = slots.remove_template(template, actor=current_user)
    return _done(point, _("Removed. People told to choose a new time: %(count)s.", count=told))


@bp.post("/pickup-points/<int:point_id>/slots/closures")
@admin_only
def pickup_slots_add_closure(point_id: int):
    point = _point(point_id)
    form = ClosureForm()
    if form.validate_on_submit():
        try:
            told = slots.add_closure(point, day=form.day.data, reason=form.reason.data, actor=current_user)
        except DomainError as error:
            refuse(form, error, "day")
        else:
            return _done(point, _("Saved. People told to choose a new time: %(count)s.", count=told))
    return _page(point, closure=form, status=422)


@bp.post("/pickup-points/<int:point_id>/slots/closures/<int:closure_id>/remove")
@admin_only
def pickup_slots_remove_closure(point_id: int, closure_id: int):
    point = _point(point_id)
    closure = db.session.get(SlotClosure, closure_id)
    if closure is None or closure.pickup_point_id != point.id or not ModeForm().validate_on_submit():
        abort(404)
    slots.remove_closure(closure, actor=current_user)
    return _done(point, _("Removed."))


@bp.post("/pickup-points/<int:point_id>/slots/extra")
@admin_only
def pickup_slots_add_extra(point_id: int):
    point = _point(point_id)
    form = ExtraSlotForm()
    if form.validate_on_submit():
        try:
            slots.add_extra_slot(point, day=form.extra_day.data, start_minute=_minute(form.extra_start.data),
                                 minutes=form.extra_minutes.data, capacity=form.extra_capacity.data,
                                 actor=current_user)
        except DomainError as error:
            refuse(form, error, "extra_day")
        else:
            return _done(point, _("Saved."))
    return _page(point, extra=form, status=422)
