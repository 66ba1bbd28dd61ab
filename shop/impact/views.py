"""Donations, erasure records, donor reports, the impact dashboard and the public impact page
(one blueprint for admins, staff and the public: see shop/impact/__init__.py)."""

import functools
import re

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal, format_percent
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
import sqlalchemy as sa

from shop.auth.access import roles_required
from shop.extensions import db
from shop.forms import ActionForm, refuse
from shop.i18n import isolate
from shop.impact.charts import bar_chart
from shop.impact.forms import BatchForm, DonorForm, ErasureForm, ErasureImportForm, PeriodForm
from shop.models.types import utcnow
from shop.models import Device, DonationBatch, Donor, DonorKind, ErasureMethod, ErasureResult, Role
from shop.services import aftersale, donations, erasure, impact
from shop.services.csvfile import download
from shop.services.errors import DomainError, NotFound
from shop.services.impact_factors import ENVIRONMENT_FACTORS, TYPICAL_NEW_PRICE_CENTS
from shop.services.staff import StaffScope

bp = Blueprint("impact", __name__)
admin_only = roles_required(Role.ADMIN)
staff_only = roles_required(Role.STAFF, Role.ADMIN)
FORMATS = ("html", "print", "csv")


def _no_store(response):
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _donor(donor_id: int) -> Donor:
    return db.session.get(Donor, donor_id) or abort(404)


# --- Donors and batches (admin) -----------------------------------------------------------------

@bp.route("/admin/donors", methods=["GET", "POST"])
@admin_only
def donors():
    form = DonorForm()
    status = 200
    if form.validate_on_submit():
        try:
            donor = donations.create_donor(name=form.name.data, kind=DonorKind(form.kind.data), actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The donor is saved."), "success")
            return redirect(url_for(".donor", donor_id=donor.id), code=303)
    if form.is_submitted():
        status = 422
    return render_template("impact/donors.html", donors=donations.donors(), form=form), status


def _donor_page(donor: Donor, *, form=None, batch_form=None, new_link: str | None = None, status=200):
    response = _no_store(render_template(
        "impact/donor.html", donor=donor, batches=donations.batch_counts(donor.id),
        form=form or DonorForm(obj=donor, formdata=None, kind=donor.kind.value),
        batch_form=batch_form or BatchForm(formdata=None), link=donations.live_link(donor.id), new_link=new_link,
        action=ActionForm(),
    ))
    response.status_code = status
    return response


@bp.route("/admin/donors/<int:donor_id>", methods=["GET", "POST"])
@admin_only
def donor(donor_id: int):
    found = _donor(donor_id)
    if request.method == "GET":
        return _donor_page(found)
    form = DonorForm()
    if form.validate_on_submit():
        try:
            donations.update_donor(found, name=form.name.data, kind=DonorKind(form.kind.data), actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The donor is saved."), "success")
            return redirect(url_for(".donor", donor_id=found.id), code=303)
    return _donor_page(_donor(donor_id), form=form, status=422)


def _batch_data(form: BatchForm) -> donations.BatchData:
    return donations.BatchData(reference=form.reference.data, received_on=form.received_on.data,
                               declared_count=form.declared_count.data, collection_site=form.collection_site.data,
                               notes=form.notes.data)


@bp.post("/admin/donors/<int:donor_id>/batches")
@admin_only
def new_batch(donor_id: int):
    found = _donor(donor_id)
    form = BatchForm()
    if form.validate_on_submit():
        try:
            batch = donations.create_batch(found, _batch_data(form), actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The batch is saved."), "success")
            return redirect(url_for(".batch", batch_id=batch.id), code=303)
    return _donor_page(_donor(donor_id), batch_form=form, status=422)


@bp.route("/admin/batches/<int:batch_id>", methods=["GET", "POST"])
@admin_only
def batch(batch_id: int):
    found = db.session.get(DonationBatch, batch_id) or abort(404)
    form = BatchForm(obj=found) if request.method == "GET" else BatchForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                donations.update_batch(found, _batch_data(form), actor=current_user)
            except DomainError as error:
                refuse(form, error)
                found = db.session.get(DonationBatch, batch_id)
            else:
                flash(_("The batch is saved."), "success")
                return redirect(url_for(".batch", batch_id=found.id), code=303)
        status = 422
    records = erasure.records_for_batch(found.id)
    erased_ids = {r.device_id for _serial, r in records if r.result == ErasureResult.SUCCESS}
    devices = donations.batch_devices(found.id)
    return render_template("impact/batch.html", batch=found, batch_form=form, devices=devices, records=records,
                           erased_ids=erased_ids, received=len(devices)), status


@bp.post("/admin/donors/<int:donor_id>/share-link")
@admin_only
def share_link(donor_id: int):
    found = _donor(donor_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    token = donations.create_share_link(found, actor=current_user)
    # Shown once, in this response only: the database keeps a hash.
    return _donor_page(found, new_link=url_for(".shared_report", token=token, _external=True))


@bp.post("/admin/donors/<int:donor_id>/share-link/revoke")
@admin_only
def revoke_share_link(donor_id: int):
    found = _donor(donor_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if donations.revoke_share_links(found, actor=current_user):
        flash(_("The link no longer works."), "success")
    return redirect(url_for(".donor", donor_id=found.id), code=303)


# --- Donor reports ------------------------------------------------------------------------------

def _report(donor: Donor, link, *, shared: bool):
    fmt = request.args.get("format", "html")
    raw_batch = request.args.get("batch")
    if fmt not in FORMATS or (raw_batch is not None and not raw_batch.isdigit()):
        abort(404)
    try:
        report = impact.donor_report(donor, int(raw_batch) if raw_batch else None)
    except NotFound:
        abort(404)
    if fmt == "csv":
        name = re.sub(r"[^A-Za-z0-9-]+", "-", report.batch.reference if report.batch else f"donor-{donor.id}")
        return download(impact.report_csv(report), f"impact-{name.strip('-')}.csv")
    # Thousands of certificates share a few dates and methods: format each one once.
    day = functools.lru_cache(maxsize=None)(format_date)
    methods = {m: str(m.label) for m in ErasureMethod}
    returns = aftersale.returns_report(donor_id=donor.id, batch_id=report.batch.id if report.batch else None)
    response = render_template("impact/report.html", report=report, link=link, shared=shared, day=day, methods=methods,
                               returns=returns,
                               printable=fmt == "print", factors=ENVIRONMENT_FACTORS, new_price=TYPICAL_NEW_PRICE_CENTS,
                               certificate_limit=None if fmt == "print" else 100, now_date=utcnow())
    response = _no_store(response)
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/admin/donors/<int:donor_id>/report")
@admin_only
def donor_report(donor_id: int):
    found = _donor(donor_id)
    return _report(found, lambda **kw: url_for(".donor_report", donor_id=found.id, **kw), shared=False)


@bp.get("/donor-report/<token>")
def shared_report(token: str):
    """Read-only: one donor's own report, for whoever holds its secret link."""
    try:
        found = donations.donor_for_token(token)
    except NotFound:
        abort(404)
    return _report(found, lambda **kw: url_for(".shared_report", token=token, **kw), shared=True)


# --- Dashboard (admin) --------------------------------------------------------------------------

def _desc(rows) -> str:
    rows = [r for r in rows if r[1]]
    if not rows:
        return _("Nothing to show for this period. The table below gives every figure.")
    label, _value, text = max(rows, key=lambda r: r[1])
    return _("Bar chart: the largest bar is %(label)s (%(value)s). The table below gives every figure.",
             label=isolate(label), value=isolate(text))


def _chart(chart_id: str, title: str, rows):
    rows = list(rows)
    return bar_chart(chart_id, title, _desc(rows), rows)


@bp.get("/admin/impact")
@admin_only
def dashboard():
    form = PeriodForm(request.args)
    period = None
    if form.validate():
        try:
            period = impact.date_range(form.start.data, form.end.data)
        except DomainError as error:
            form[error.details["field"]].errors.append(str(error.message))
    if period is None:
        return render_template("impact/dashboard.html", form=form, dash=None, charts={}), 422
    dash = impact.dashboard(period)
    if request.args.get("format") == "csv":
        return download(impact.dashboard_csv(dash), f"impact-{period.start.isoformat()}-{period.end.isoformat()}.csv")
    charts = {
        "months": _chart("chart-months", _("Devices handed over, per month"),
                         ((m.month, m.handed_over, format_decimal(m.handed_over)) for m in dash.months)),
        "categories": _chart("chart-categories", _("Devices handed over, per kind"),
                             ((c.category.label, c.sold, format_decimal(c.sold)) for c in dash.categories)),
        "points": _chart("chart-points", _("Devices handed over, per pickup point"),
                         ((p.point, p.handed_over, format_decimal(p.handed_over)) for p in dash.points)),
        "partners": _chart("chart-partners", _("Share of the quota used, per partner structure"),
                           ((p.name, p.quota_share or 0, format_percent(p.quota_share or 0)) for p in dash.partners)),
        "grounds": _chart("chart-grounds", _("People equipped, per eligibility ground"),
                          ((g.ground.label, g.people_equipped, format_decimal(g.people_equipped)) for g in dash.grounds)),
    }
    if not form.start.data:
        form.start.data = period.start
    if not form.end.data:
        form.end.data = period.end
    return render_template("impact/dashboard.html", form=form, dash=dash, charts=charts,
                           returns=aftersale.returns_report(since=period.start_at, until=period.end_at),
                           factors=ENVIRONMENT_FACTORS, new_price=TYPICAL_NEW_PRICE_CENTS)


# --- Public impact page ---------------------------------------------------------------------------

@bp.get("/impact")
def public():
    return render_template("impact/public.html", figures=impact.public_figures(), factors=ENVIRONMENT_FACTORS,
                           new_price=TYPICAL_NEW_PRICE_CENTS)


# --- Erasure records (staff) ----------------------------------------------------------------------

def _point_ids():
    return None if current_user.role == Role.ADMIN else [p.id for p in StaffScope(current_user).points()]


@bp.route("/staff/erasures", methods=["GET", "POST"])
@staff_only
def erasures():
    form = ErasureForm() if request.method == "POST" else ErasureForm(
        formdata=None, serial_number=request.args.get("serial", "")[:80])
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            point_ids = _point_ids()
            stmt = sa.select(Device).where(Device.serial_number == form.serial_number.data.strip())
            if point_ids is not None:
                stmt = stmt.where(Device.pickup_point_id.in_(point_ids))
            device = db.session.scalar(stmt)
            if device is None:
                form.serial_number.errors.append(_("No device with this serial number in your stock."))
            else:
                data = erasure.ErasureData(
                    method=ErasureMethod(form.method.data), tool=form.tool.data, tool_version=form.tool_version.data,
                    performed_on=form.performed_on.data, operator=form.operator.data,
                    result=ErasureResult(form.result.data), certificate_reference=form.certificate_reference.data)
                try:
                    erasure.record(device, data, actor=current_user)
                except DomainError as error:
                    refuse(form, error)
                else:
                    flash(_("Erasure recorded for %(serial)s.", serial=isolate(device.serial_number)), "success")
                    return redirect(url_for(".erasures"), code=303)
    return render_template("impact/erasures.html", form=form, records=erasure.recent(_point_ids())), status


@bp.route("/staff/erasures/import", methods=["GET", "POST"])
@staff_only
def import_erasures():
    form = ErasureImportForm()
    parsed, status = None, 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                if form.content.data and request.form.get("confirm"):
                    text = form.content.data
                else:
                    upload = form.file.data
                    if upload is None or not getattr(upload, "filename", ""):
                        raise DomainError(_("Choose a CSV file."), field="file")
                    text = erasure.decode(upload.read())
                parsed = erasure.parse(text, point_ids=_point_ids())
                if parsed.valid and request.form.get("confirm"):
                    count = erasure.import_rows(parsed, actor=current_user)
                    flash(ngettext("%(num)d erasure record imported.", "%(num)d erasure records imported.", count), "success")
                    return redirect(url_for(".erasures"), code=303)
                form.content.data = text
                status = 200 if parsed.valid else 422
            except DomainError as error:
                refuse(form, error, field="file")
                parsed = None
    return render_template("impact/import_erasures.html", form=form, parsed=parsed, methods=ErasureMethod), status
