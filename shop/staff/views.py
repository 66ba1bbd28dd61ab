"""Staff at a pickup point: the reservations board and the counter."""

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from shop.i18n import isolate
from shop.auth.access import roles_required
from shop.forms import ActionForm, refuse
from shop.models import Category, DeviceStatus, PaymentChannel, Role
from shop.models.types import utcnow
from shop.services import audit, devices, payments, photos, qr, reservations, slots
from shop.services import staff as stock_service
from shop.services.errors import DomainError, NotFound
from shop.services.staff import StaffScope
from shop.staff.forms import BulkForm, CancelForm, DeviceForm, FindForm, HandOverForm, PhotoForm, StockSearchForm

bp = Blueprint("staff", __name__, url_prefix="/staff")
staff_only = roles_required(Role.STAFF, Role.ADMIN)


def point_reservation(number: str):
    try:
        return StaffScope(current_user).reservation(number)
    except NotFound:
        abort(404)


@bp.get("/")
@staff_only
def board():
    scope = StaffScope(current_user)
    points = scope.points()
    if not points:
        return render_template("staff/no_point.html")
    point_id = request.args.get("point", type=int) or points[0].id
    try:
        found = scope.board(point_id)
    except NotFound:
        abort(404)
    point = next(p for p in points if p.id == point_id)
    return render_template("staff/board.html", board=found, point=point, points=points, action=ActionForm(),
                           find=FindForm(formdata=None), today=slots.today(point_id))


@bp.get("/slots")
@staff_only
def pickup_slots():
    """The pickup times of the user's point(s), read only (admins edit them)."""
    scope = StaffScope(current_user)
    points = scope.points()
    if not points:
        return render_template("staff/no_point.html")
    point_id = request.args.get("point", type=int) or points[0].id
    point = next((p for p in points if p.id == point_id), None) or abort(404)
    return render_template("staff/slots.html", point=point, points=points, editable=False,
                           **slots.overview(point, utcnow()))


@bp.get("/counter")
@staff_only
def counter():
    form = FindForm(request.args)
    reservation = None
    searched = bool(request.args.get("q"))
    if searched and form.validate():
        reservation = StaffScope(current_user).find(form.q.data)
        if reservation is not None:
            return redirect(url_for(".reservation", number=reservation.number), code=303)
    response = make_response(render_template("staff/counter.html", form=form, searched=searched), 404 if searched else 200)
    # The optional QR scanner (static/scan.js) needs the camera; every other page keeps it off.
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=(), payment=()"
    return response


def _reservation_page(reservation, *, hand_over=None, cancel=None, status=200):
    return render_template(
        "staff/reservation.html", reservation=reservation, hand_over=hand_over or HandOverForm(formdata=None),
        cancel=cancel or CancelForm(formdata=None), action=ActionForm(),
    ), status


@bp.get("/reservations/<number>")
@staff_only
def reservation(number: str):
    found = point_reservation(number)
    audit.record(current_user, "reservation.view", found, organisation_id=found.organisation_id)
    return _reservation_page(found)


@bp.post("/reservations/<number>/ready")
@staff_only
def mark_ready(number: str):
    found = point_reservation(number)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        reservations.mark_ready(found, actor=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Reservation %(number)s is ready for pickup.", number=isolate(found.number)), "success")
    if request.form.get("back") == "board":
        return redirect(url_for(".board", point=found.pickup_point_id), code=303)
    return redirect(url_for(".reservation", number=found.number), code=303)


@bp.post("/reservations/<number>/hand-over")
@staff_only
def hand_over(number: str):
    found = point_reservation(number)
    form = HandOverForm()
    if form.validate_on_submit():
        try:
            reservations.hand_over(found, actor=current_user, channel=PaymentChannel(form.channel.data))
        except DomainError as error:
            refuse(form, error, field="channel")
        else:
            flash(_("Handed over. The device is sold and the code is used."), "success")
            return redirect(url_for(".receipt", number=found.number), code=303)
    return _reservation_page(found, hand_over=form, status=422)


@bp.post("/reservations/<number>/cancel")
@staff_only
def cancel(number: str):
    found = point_reservation(number)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            payments.cancel_and_refund(found, reason=form.reason.data, actor=current_user)
        except DomainError as error:
            refuse(form, error, field="reason")
        else:
            flash(_("The reservation is cancelled."), "success")
            return redirect(url_for(".reservation", number=found.number), code=303)
    return _reservation_page(found, cancel=form, status=422)


@bp.get("/reservations/<number>/receipt")
@staff_only
def receipt(number: str):
    found = point_reservation(number)
    if found.picked_up_at is None:
        abort(404)
    audit.record(current_user, "reservation.receipt", found, organisation_id=found.organisation_id)
    from shop.services import warranty

    return render_template("staff/receipt.html", reservation=found,
                           warranty_end=warranty.end_date(found.picked_up_at, found.device.category))


# --- Stock at the pickup point ----------------------------------------------------------------

def _points_or_404(scope):
    points = scope.points()
    if not points:
        abort(404)
    return points


def _known_status(value: str | None) -> str | None:
    """A stock status filter sent back by a form: a status name, or no filter (never the raw text)."""
    return value if value in {s.value for s in DeviceStatus} else None


def _stock_page(scope, point_id: int | None, status_value: str | None, *, bulk=None, selected=(), code=200):
    points = _points_or_404(scope)
    point_id = point_id or points[0].id
    status = DeviceStatus(status_value) if status_value in {s.value for s in DeviceStatus} else None
    search = StockSearchForm(request.args)
    search.validate()  # a value that is not a choice is ignored, never an error page
    category = Category(search.category.data) if search.category.data in {c.value for c in Category} else None
    query = (search.q.data or "")[:120] if not search.q.errors else ""
    try:
        found, next_before = scope.devices(point_id, status, search=query, category=category,
                                           before=request.args.get("before", type=int))
    except NotFound:
        abort(404)
    return render_template(
        "staff/stock.html", devices=found, point=next(p for p in points if p.id == point_id), points=points,
        status=status, counts=scope.status_counts(point_id), statuses=DeviceStatus,
        moves=devices.manual_moves, action=ActionForm(), bulk=bulk or BulkForm(formdata=None),
        selected=set(selected), search=search, query=query, category=category, next_before=next_before,
        paged=request.args.get("before", type=int) is not None,
    ), code


@bp.get("/stock")
@staff_only
def stock():
    return _stock_page(StaffScope(current_user), request.args.get("point", type=int), request.args.get("status"))


@bp.post("/stock/bulk")
@staff_only
def bulk():
    scope = StaffScope(current_user)
    form = BulkForm()
    point_id, status = request.form.get("point", type=int), request.form.get("status") or None
    if not form.validate_on_submit():
        return _stock_page(scope, point_id, status, bulk=form, code=422)
    try:
        selection = scope.selection(form.device.data or [])
    except NotFound:
        abort(404)
    if form.action.data == "labels" and selection:
        return redirect(url_for(".labels", device=[d.id for d in selection]), code=303)
    try:
        if form.action.data == "labels":
            raise DomainError(_("Please select at least one device."))
        devices.move_many(selection, DeviceStatus(form.action.data), actor=current_user.email)
    except DomainError as error:
        refuse(form, error, field="device")
        return _stock_page(scope, point_id, status, bulk=form, selected=[d.id for d in selection], code=422)
    target = DeviceStatus(form.action.data)
    # Only known values go back into the address: a point of this person's, a status name.
    point_id = point_id if point_id in {p.id for p in scope.points()} else None
    status = _known_status(status)
    flash(ngettext("%(num)d device moved to “%(status)s”.", "%(num)d devices moved to “%(status)s”.",
                   len(selection), status=target.label), "success")
    return redirect(url_for(".stock", point=point_id, status=status), code=303)


def _device(device_id: int):
    try:
        return StaffScope(current_user).device(device_id)
    except NotFound:
        abort(404)


def _edit_page(device, form=None, photo_form=None, code=200):
    scope = StaffScope(current_user)
    if form is None:
        form = DeviceForm(formdata=None, data=DeviceForm.data_of(device), points=scope.points(),
                          batches=stock_service.batches())
    return render_template(
        "staff/device_edit.html", device=device, form=form, photo_form=photo_form or PhotoForm(formdata=None),
        photos=device.photos, action=ActionForm(formdata=None), photo_max_mb=photos.max_bytes() // (1024 * 1024),
    ), code


@bp.route("/stock/<int:device_id>/edit", methods=["GET", "POST"])
@staff_only
def edit_device(device_id: int):
    device = _device(device_id)
    if request.method == "GET":
        return _edit_page(device)
    form = DeviceForm(points=StaffScope(current_user).points(), batches=stock_service.batches())
    if form.validate_on_submit():
        try:
            changed = devices.edit_device(device, form.values(), actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Device %(serial)s is saved.", serial=isolate(device.serial_number)) if changed
                  else _("Nothing to save: no change."), "success")
            return redirect(url_for(".edit_device", device_id=device.id), code=303)
    return _edit_page(device, form=form, code=422)


@bp.url_value_preprocessor
def _photo_size_limit(endpoint, values):
    """Photos may be larger than other uploads; this runs before the CSRF check reads the body."""
    if endpoint == "staff.upload_photo":
        request.max_content_length = photos.max_bytes() + 64 * 1024  # the form's other fields


# Endpoint → its own page for a body over the limit; the route modules of this blueprint add theirs.
TOO_LARGE_PAGES = {}


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error):
    if request.endpoint in TOO_LARGE_PAGES:
        return TOO_LARGE_PAGES[request.endpoint](error)
    device = None
    if request.endpoint == "staff.upload_photo" and current_user.is_authenticated:
        try:
            device = StaffScope(current_user).device(request.view_args["device_id"])
        except NotFound:
            return render_template("errors/error.html", code=404, kind=404), 404
    if device is None:
        return render_template("errors/error.html", code=413, kind=413), 413
    form = PhotoForm(formdata=None)
    form.photo.errors = [_("This photo is too large (at most %(mb)d MB).", mb=photos.max_bytes() // (1024 * 1024))]
    return _edit_page(device, photo_form=form, code=413)


@bp.post("/stock/<int:device_id>/photos")
@staff_only
def upload_photo(device_id: int):
    device = _device(device_id)
    form = PhotoForm()
    if form.validate_on_submit():
        upload = form.photo.data
        try:
            if not upload:
                raise DomainError(_("Please choose a photo."), field="photo")
            photos.add_photo(device, upload.read(photos.max_bytes() + 1), actor=current_user)
        except DomainError as error:
            refuse(form, error, field="photo")
        else:
            flash(_("The photo is added."), "success")
            return redirect(url_for(".edit_device", device_id=device.id, _anchor="photos"), code=303)
    return _edit_page(device, photo_form=form, code=422)


@bp.post("/stock/<int:device_id>/photos/<int:photo_id>/delete")
@staff_only
def delete_photo(device_id: int, photo_id: int):
    device = _device(device_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        photos.delete_photo(device, photo_id, actor=current_user)
    except NotFound:
        abort(404)
    flash(_("The photo is deleted."), "success")
    return redirect(url_for(".edit_device", device_id=device.id, _anchor="photos"), code=303)


MAX_LABELS = 60


@bp.get("/stock/labels")
@staff_only
def labels():
    ids = request.args.getlist("device", type=int)
    try:
        selection = StaffScope(current_user).selection(ids[:MAX_LABELS])
    except NotFound:
        abort(404)
    items = [
        (d, qr.svg(url_for("catalog.passport", token=d.passport_token, _external=True),
                   _("QR code: the passport of device %(serial)s", serial=d.serial_number)))
        for d in selection
    ]
    return render_template("staff/labels.html", items=items, max_labels=MAX_LABELS,
                           left_out=max(0, len(set(ids)) - MAX_LABELS))


@bp.route("/stock/new", methods=["GET", "POST"])
@staff_only
def new_device():
    scope = StaffScope(current_user)
    points = _points_or_404(scope)
    form = DeviceForm(points=points, batches=stock_service.batches())
    if form.validate_on_submit():
        try:
            device = devices.add_device(form.to_device(), actor=current_user.email)
        except DomainError as error:
            refuse(form, error, field="price")
        else:
            flash(_("Device %(serial)s is in the stock as received.", serial=isolate(device.serial_number)), "success")
            return redirect(url_for(".stock", point=device.pickup_point_id), code=303)
    return render_template("staff/device_form.html", form=form), 422 if form.errors else 200


@bp.post("/stock/<int:device_id>/move/<to_status>")
@staff_only
def move_device(device_id: int, to_status: str):
    try:
        device = StaffScope(current_user).device(device_id)
    except NotFound:
        abort(404)
    if to_status not in {s.value for s in devices.MANUAL_TARGETS} or not ActionForm().validate_on_submit():
        abort(400)
    target = DeviceStatus(to_status)
    try:
        devices.move_by_hand(device, target, actor=current_user.email)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("%(serial)s: %(status)s.", serial=isolate(device.serial_number), status=target.label), "success")
    return redirect(url_for(".stock", point=device.pickup_point_id, status=_known_status(request.form.get("back_status"))),
                    code=303)


@bp.get("/waitlist")
@staff_only
def waitlist_figures():
    """Each queue's length per pickup point and kind of device, and how long people wait."""
    from shop.services import waitlist

    return render_template("staff/waitlist.html", figures=waitlist.queue_figures())
