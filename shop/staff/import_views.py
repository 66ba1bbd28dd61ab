"""Staff: import a refurbisher's device file (upload → preview → import), at their pickup point(s)."""

from pathlib import Path

from flask import abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_babel import lazy_gettext as _l

from shop.i18n import isolate
from shop.services import stock_import
from shop.services.errors import DomainError, NotFound
from shop.services.staff import StaffScope
from shop.staff.forms import ConfirmForm, ImportForm
from shop.staff.views import TOO_LARGE_PAGES, bp, staff_only

SAMPLE = Path(__file__).resolve().parent.parent.parent / "docs" / "sample-devices.csv"
SESSION_KEY = "stock_import"
# The multipart envelope around the file: boundaries, the point, the CSRF token.
ENVELOPE_BYTES = 64 * 1024


def _points():
    points = [p for p in StaffScope(current_user).points() if p.active]
    if not points:
        abort(404)
    return points


def _upload_page(form, *, status=200, problems=()):
    return render_template("staff/import.html", form=form, columns=stock_import.COLUMNS,
                           max_mb=stock_import.MAX_BYTES // (1024 * 1024), problems=problems), status


@bp.get("/stock/import")
@staff_only
def import_devices():
    return _upload_page(ImportForm(points=_points()))


@bp.get("/stock/import/sample.csv")
@staff_only
def import_sample():
    response = make_response(SAMPLE.read_bytes())
    response.mimetype = "text/csv"
    response.headers["Content-Disposition"] = 'attachment; filename="sample-devices.csv"'
    return response


@bp.post("/stock/import")
@staff_only
def import_preview():
    points = _points()
    form = ImportForm(points=points)
    # Refuse a big file from its declared size, before reading it (a bigger body than the app's
    # MAX_CONTENT_LENGTH never gets here: see too_large below).
    if (request.content_length or 0) > stock_import.MAX_BYTES + ENVELOPE_BYTES:
        return _too_large(form)
    if not form.validate_on_submit():
        return _upload_page(form, status=422)
    point = next(p for p in points if p.id == int(form.pickup_point.data))
    content = form.file.data.stream.read(stock_import.MAX_BYTES + 1)
    if len(content) > stock_import.MAX_BYTES:
        return _too_large(form)
    checked = stock_import.check(content, pickup_point=point)
    confirm = None
    if checked.ok:
        pending = stock_import.keep(content, filename=form.file.data.filename, pickup_point=point, user=current_user)
        session[SESSION_KEY] = {"token": pending.token, "sha256": pending.sha256}
        confirm = ConfirmForm(token=pending.token)
    return render_template("staff/import_preview.html", checked=checked, point=point, confirm=confirm,
                           filename=form.file.data.filename, preview=checked.rows[:stock_import.PREVIEW_ROWS],
                           ), 200 if checked.ok else 422


@bp.post("/stock/import/confirm")
@staff_only
def import_confirm():
    form = ConfirmForm()
    kept = session.get(SESSION_KEY) or {}
    if not form.validate_on_submit() or form.token.data != kept.get("token"):
        return _expired()
    try:
        pending = stock_import.pending_for(form.token.data, user=current_user, sha256=kept.get("sha256"))
    except NotFound:
        return _expired()
    point = next((p for p in _points() if p.id == pending.pickup_point_id), None)
    if point is None:
        abort(404)
    content, filename, pending_id = pending.content, pending.filename, pending.id
    session.pop(SESSION_KEY, None)
    try:
        checked = stock_import.confirm(pending_id, content, pickup_point=point, actor=current_user)
    except NotFound:
        return _expired()
    except DomainError:  # nothing was imported, and the kept file is gone: show why
        checked = stock_import.check(content, pickup_point=point)
        return render_template("staff/import_preview.html", checked=checked, point=point, confirm=None,
                               filename=filename, preview=[], changed=True), 422
    count = len(checked.rows)
    flash(ngettext("%(num)d device imported at %(point)s.", "%(num)d devices imported at %(point)s.", count,
                   point=isolate(point.name)), "success")
    return redirect(url_for("staff.stock", point=point.id), code=303)


def _expired():
    flash(_("This preview has expired. Please send the file again."), "error")
    return redirect(url_for("staff.import_devices"), code=303)


def _too_large(form):
    form.file.errors = [str(stock_import.too_big_message())]
    return _upload_page(form, status=413)


def too_large(error):
    """A body over the app's MAX_CONTENT_LENGTH is refused before it is read; on the import page,
    say so next to the file field instead of showing a bare error page (called by the staff
    blueprint's one handler for 413)."""
    points = [p for p in StaffScope(current_user).points() if p.active] if current_user.is_authenticated else []
    if request.endpoint != "staff.import_preview" or not points:
        return render_template("errors/error.html", code=413, kind=413), 413
    return _too_large(ImportForm(formdata=None, points=points))


TOO_LARGE_PAGES["staff.import_preview"] = too_large
