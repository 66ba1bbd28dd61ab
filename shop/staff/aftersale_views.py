"""Staff: the handover form printed for the person, and after-sale cases (returns)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

import sqlalchemy as sa

from shop.extensions import db
from shop.forms import ActionForm, refuse
from shop.i18n import text_direction
from shop.models import ErasureRecord, ErasureResult, PaymentChannel, ReturnReason
from shop.services import aftersale, audit, pricing
from shop.services.errors import DomainError, NotFound
from shop.services.staff import StaffScope
from shop.staff.forms import ExchangeForm, FindSaleForm, OpenCaseForm, RefundForm, RefuseForm
from shop.staff.views import bp, point_reservation, staff_only

def _points() -> list[int]:
    return [p.id for p in StaffScope(current_user).points()]


# --- Handover form ----------------------------------------------------------------------------

@bp.get("/reservations/<number>/handover-form")
@staff_only
def handover_form(number: str):
    """One page to print and sign at the counter: the part for the person is in the person's
    language (and direction); the page around it stays in the staff's."""
    found = point_reservation(number)
    if found.picked_up_at is None:
        abort(404)
    device = aftersale.current_device(found)
    erasure = db.session.scalar(
        sa.select(ErasureRecord).where(ErasureRecord.device_id == device.id, ErasureRecord.result == ErasureResult.SUCCESS,
                                       ErasureRecord.superseded_at.is_(None))
        .order_by(ErasureRecord.performed_on.desc(), ErasureRecord.id.desc()).limit(1))
    sale = aftersale.Sale(found, device)
    person = found.beneficiary
    audit.record(current_user, "reservation.handover_form", found, organisation_id=found.organisation_id)
    with force_locale(person.language):
        for_person = Markup(render_template("staff/_handover_for_person.html", reservation=found, device=device,
                                            erasure=erasure, warranty_end=sale.warranty_end, person=person,
                                            point=found.pickup_point))
    return render_template("staff/handover_form.html", reservation=found, for_person=for_person,
                           person_lang=person.language, person_dir=text_direction(person.language))


# --- After-sale cases -------------------------------------------------------------------------

@bp.get("/aftersale", endpoint="aftersale")
@staff_only
def aftersale_page():
    form = FindSaleForm(request.args)
    sale, status = None, 200
    if request.args.get("q") is not None:
        if form.validate():
            try:
                sale = aftersale.find_sale(form.q.data, _points())
            except DomainError as error:
                form.q.errors = [str(error.message)]
                status = 404 if isinstance(error, NotFound) else 422
        else:
            status = 422
    open_form = OpenCaseForm(formdata=None, serial=sale.device.serial_number) if sale else None
    return _list_page(form, sale, open_form, status)


def _list_page(form, sale, open_form, status):
    points = _points()
    return render_template("staff/aftersale.html", form=form, sale=sale, open_form=open_form,
                           open_cases=aftersale.cases(points, open_only=True),
                           recent=aftersale.cases(points, limit=20)), status



@bp.post("/aftersale/open")
@staff_only
def open_case():
    open_form = OpenCaseForm()
    find = FindSaleForm(formdata=None, q=open_form.serial.data)
    sale = None
    try:
        sale = aftersale.find_sale(open_form.serial.data or "", _points())
    except DomainError as error:
        find.q.errors = [str(error.message)]  # a form not validated has no error list yet
        return _list_page(find, None, None, 422)
    if open_form.validate_on_submit():
        try:
            case = aftersale.open_case(sale, reason=ReturnReason(open_form.reason.data),
                                       description=open_form.description.data, actor=current_user)
        except DomainError as error:
            refuse(open_form, error, field="reason")
        else:
            flash(_("The after-sale case is open."), "success")
            return redirect(url_for(".aftersale_case", case_id=case.id), code=303)
    return _list_page(find, sale, open_form, 422)


def _case(case_id: int):
    try:
        return aftersale.get_case(case_id, _points())
    except NotFound:
        abort(404)


def _case_page(case, status=200, **forms):
    forms = {"exchange": ExchangeForm(formdata=None), "refund": RefundForm(formdata=None),
             "refuse": RefuseForm(formdata=None), **forms}
    return render_template("staff/aftersale_case.html", case=case, action=ActionForm(),
                           sale=aftersale.Sale(case.reservation, case.device),
                           refundable=aftersale.refundable_cents(case.reservation),
                           online=aftersale.paid_online(case.reservation), **forms), status


@bp.get("/aftersale/<int:case_id>")
@staff_only
def aftersale_case(case_id: int):
    case = _case(case_id)
    audit.record(current_user, "aftersale.view", case, organisation_id=case.reservation.organisation_id)
    return _case_page(case)


def _decided(case, message):
    flash(message, "success")
    return redirect(url_for(".aftersale_case", case_id=case.id), code=303)


@bp.post("/aftersale/<int:case_id>/repaired")
@staff_only
def case_repaired(case_id: int):
    case = _case(case_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        aftersale.repair(case, actor=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
        return redirect(url_for(".aftersale_case", case_id=case.id), code=303)
    return _decided(case, _("Recorded: the device was repaired."))


@bp.post("/aftersale/<int:case_id>/exchange")
@staff_only
def case_exchange(case_id: int):
    case = _case(case_id)
    form = ExchangeForm()
    if form.validate_on_submit():
        try:
            aftersale.exchange(case, replacement_serial=form.replacement.data, actor=current_user)
        except DomainError as error:
            refuse(form, error, field="replacement")
        else:
            return _decided(case, _("Exchanged. The returned device is back in the stock as received."))
    return _case_page(case, 422, exchange=form)


@bp.post("/aftersale/<int:case_id>/refund")
@staff_only
def case_refund(case_id: int):
    case = _case(case_id)
    form = RefundForm()
    if form.validate_on_submit():
        try:
            cents = pricing.parse_euros(form.amount.data)
            payment = aftersale.refund(case, amount_cents=cents or 0, channel=PaymentChannel(form.channel.data)
                                       if form.channel.data else None, actor=current_user)
        except DomainError as error:
            refuse(form, error, field="amount")
        else:
            if payment is not None and payment.status.value == "pending":
                return _decided(case, _("Refund recorded, but Stripe did not answer: it is to be retried."))
            return _decided(case, _("Refunded. The device is back in the stock as received."))
    return _case_page(case, 422, refund=form)


@bp.post("/aftersale/<int:case_id>/refuse")
@staff_only
def case_refuse(case_id: int):
    case = _case(case_id)
    form = RefuseForm()
    if form.validate_on_submit():
        try:
            aftersale.refuse(case, reason=form.refusal_reason.data, actor=current_user)
        except DomainError as error:
            refuse(form, error, field="refusal_reason")
        else:
            return _decided(case, _("Recorded: the return is refused."))
    return _case_page(case, 422, refuse=form)
