"""The partner portal: social workers register people, issue codes and print slips.

Every lookup goes through PartnerScope, bound to the signed-in user's structure: a record of
another structure is a 404, never a 403, so its existence is not even confirmed.
"""

import dataclasses

from flask import (
    Blueprint, abort, flash, make_response, redirect, render_template, request, session, url_for,
)
from flask_babel import force_locale, to_user_timezone
from markupsafe import Markup
from flask_babel import gettext as _
from flask_login import current_user

from shop.auth.access import roles_required
from shop.extensions import db
from shop.i18n import current_language, isolate, text_direction
from shop.forms import ActionForm, refuse
from shop.models import CodeState, PaymentMethod, Role
from shop.models.types import utcnow
from shop.partner.forms import (
    CODE_ACTIONS, BeneficiaryForm, DashboardFilterForm, InviteForm, IssueCodeForm, OnBehalfFilterForm, code_form,
)
from shop.models import WaitlistEntry
from shop.reserve.views import waitlist_form
from shop.services import (
    accounts, audit, catalog, csvfile, codes, partners, payments, qr, reservations, slots, waitlist,
)
from shop.services.errors import DomainError, NotFound
from shop.services import yearly_limit
from shop.services.partners import PartnerScope

bp = Blueprint("partner", __name__, url_prefix="/partner")

partner_only = roles_required(Role.SOCIAL_WORKER, Role.PARTNER_ADMIN)
partner_admin_only = roles_required(Role.PARTNER_ADMIN)

PAGE_SIZE = 25
ON_BEHALF_PAGE_SIZE = 10  # offers per page when reserving for someone: short enough for a phone


def _scope() -> PartnerScope:
    return PartnerScope(current_user)


def _found(lookup, record_id: int):
    """A record of the user's own structure, or 404."""
    try:
        return lookup(record_id)
    except NotFound:
        abort(404)


def _no_store(response):
    """Pages with personal data or a code in clear: not kept in any cache, nor the back button."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


# Shared with the other route module of this blueprint (privacy_views.py), under public names.
scope, found, no_store = _scope, _found, _no_store


# --- Dashboard --------------------------------------------------------------------------------

@bp.get("/")
@partner_only
def dashboard():
    scope = _scope()
    form = DashboardFilterForm(request.args)
    form.validate()
    search = form.q.data.strip() if form.q.data and not form.q.errors else None
    status = form.status.data if form.status.data and not form.status.errors else None
    page = max(1, request.args.get("page", 1, type=int))
    people = db.paginate(scope.beneficiaries(search=search, status=status), page=page, per_page=PAGE_SIZE,
                         error_out=False, count=True)
    organisation = scope.organisation()
    in_line = waitlist.for_organisation(organisation.id)
    args = {k: v for k, v in (("q", search), ("status", status)) if v}
    return _no_store(render_template(
        "partner/dashboard.html",
        form=form,
        people=people,
        filtered=bool(args),
        page_url=lambda n: url_for(".dashboard", **args, page=n),
        expiring=scope.expiring_codes(),
        in_line=in_line,
        places=waitlist.places(in_line),
        now=utcnow(),
        organisation=organisation,
        quota_used=codes.quota_used(organisation.id) if partners.can_manage_team(current_user) else None,
        missed=slots.missed_for_organisation(organisation.id), action=ActionForm(),
        without_time=slots.without_time_for_organisation(organisation.id),
    ))


# --- Beneficiaries ----------------------------------------------------------------------------

@bp.route("/beneficiaries/new", methods=["GET", "POST"])
@partner_only
def new_beneficiary():
    form = BeneficiaryForm()
    if form.validate_on_submit():
        try:
            person = partners.register_beneficiary(
                form.to_data(), worker=current_user, override_reason=form.override_reason.data
            )
        except partners.PossibleDuplicate as error:
            refuse(form, error, field="override_reason")
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("%(name)s is registered. You can now issue a code.", name=isolate(person.display_name)), "success")
            return redirect(url_for(".beneficiary", beneficiary_id=person.id), code=303)
    return render_template("partner/beneficiary_form.html", form=form, person=None,
                           ask_override=bool(form.override_reason.errors or form.override_reason.data))


@bp.get("/beneficiaries/<int:beneficiary_id>")
@partner_only
def beneficiary(beneficiary_id: int):
    return _beneficiary_page(_found(_scope().beneficiary, beneficiary_id))


def _beneficiary_page(person, bound=None, status=200):
    """The person's page; `bound` is (code id, action, form) to show a refused action's form again
    (action "waitlist": the form to join a queue on the person's behalf)."""
    audit.record(current_user, "beneficiary.view", person, organisation_id=person.organisation_id)
    forms = {
        code.id: {action: code_form(action, code.id, formdata=None) for action in CODE_ACTIONS}
        for code in person.codes
        if code.status == CodeState.ACTIVE
    }
    for code_id, code_forms in forms.items():
        code_forms["waitlist"] = waitlist_form(next(c for c in person.codes if c.id == code_id))
    if bound is not None:
        code_id, action, form = bound
        if code_id in forms:
            forms[code_id][action] = form
        else:  # the code is no longer active (changed in another tab, a double click): say why on top
            for message in (m for messages in form.errors.values() for m in messages):
                flash(str(message), "error")
    in_line = [entry for code in person.codes for entry in waitlist.for_code(code.id)]
    return _no_store((render_template(
        "partner/beneficiary.html",
        person=person,
        forms=forms,
        open_form=bound[:2] if bound else None,
        replaced={code.replaces_id for code in person.codes if code.replaces_id},
        reservations_by_code=_scope().reservations_by_code(person),
        in_line=in_line,
        places=waitlist.places(in_line),
        action_form=ActionForm(),
        now=utcnow(),
    ), status))


@bp.route("/beneficiaries/<int:beneficiary_id>/edit", methods=["GET", "POST"])
@partner_only
def edit_beneficiary(beneficiary_id: int):
    person = _found(_scope().beneficiary, beneficiary_id)
    form = BeneficiaryForm(obj=person)
    if request.method == "GET":
        audit.record(current_user, "beneficiary.view", person, organisation_id=person.organisation_id, page="edit")
    if form.validate_on_submit():
        try:
            partners.update_beneficiary(person, form.to_data(), worker=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The changes are saved."), "success")
            return redirect(url_for(".beneficiary", beneficiary_id=person.id), code=303)
    return _no_store(render_template("partner/beneficiary_form.html", form=form, person=person, ask_override=False))


# --- Codes ------------------------------------------------------------------------------------

def _slip_key(code_id: int) -> str:
    return f"partner-slip-{code_id}"


def _show_slip(code, clear: str):
    """Keep the clear code for the one slip page that shows it, then go there."""
    session[_slip_key(code.id)] = clear
    return redirect(url_for(".slip", code_id=code.id), code=303)


@bp.route("/beneficiaries/<int:beneficiary_id>/codes/new", methods=["GET", "POST"])
@partner_only
def issue_code(beneficiary_id: int):
    person = _found(_scope().beneficiary, beneficiary_id)
    form = IssueCodeForm()
    if form.validate_on_submit():
        try:
            code, clear = codes.issue(person, form.category_values(), worker=current_user,
                                      validity_days=form.validity_days.data)
        except DomainError as error:
            refuse(form, error)
        else:
            return _show_slip(code, clear)
    return render_template("partner/issue_code.html", form=form, person=person,
                           default_days=codes.DEFAULT_VALIDITY_DAYS, max_days=codes.MAX_VALIDITY_DAYS,
                           limit_hint=yearly_limit.hint())


@bp.get("/codes/<int:code_id>/slip")
@partner_only
def slip(code_id: int):
    scope = _scope()
    code = _found(scope.code, code_id)
    clear = session.pop(_slip_key(code.id), None)
    if clear is None:
        return _no_store(render_template(
            "partner/slip_gone.html", code=code, person=code.beneficiary,
            form=code_form("reissue", code.id, formdata=None),
        ))
    person = code.beneficiary
    audit.record(current_user, "code.slip_print", code, organisation_id=code.organisation_id)
    slip = _in_language_of(
        person, "partner/_slip_for_person.html", code=code, person=person, organisation=scope.organisation(),
        shown_code=codes.display(clear),
        qr_code=lambda: qr.svg(url_for("reserve.enter_code", code=clear, _external=True),
                               _("QR code: scan it to open the shop with your code filled in")),
        site=request.url_root, pickup_points=catalog.active_pickup_points(with_hours=True),
    )
    html = render_template("partner/slip.html", person=person, slip=slip, person_lang=person.language,
                           person_dir=text_direction(person.language))
    return _no_store(html)


def _code_action(code_id: int, action: str, run, done: str | None = None):
    """Validate one action's form on one code and run it; then show the new slip that `run`
    returned, if any, or go back to the person's page."""
    code = _found(_scope().code, code_id)
    form = code_form(action, code.id)
    if form.validate_on_submit():
        try:
            result = run(code, form)
        except DomainError as error:
            refuse(form, error)
        else:
            if result is not None:
                return _show_slip(*result)
            flash(done, "success")
            return redirect(url_for(".beneficiary", beneficiary_id=code.beneficiary_id, _anchor=f"code-{code.id}"),
                            code=303)
    return _beneficiary_page(code.beneficiary, bound=(code.id, action, form))


@bp.post("/codes/<int:code_id>/revoke")
@partner_only
def revoke_code(code_id: int):
    return _code_action(
        code_id, "revoke",
        lambda code, form: codes.revoke(code, worker=current_user, reason=form.reason.data),
        _("The code is revoked: it can no longer be used."),
    )


@bp.post("/codes/<int:code_id>/extend")
@partner_only
def extend_code(code_id: int):
    return _code_action(
        code_id, "extend",
        lambda code, form: codes.extend(code, worker=current_user, days=form.days.data, reason=form.reason.data),
        _("The code is extended."),
    )


@bp.post("/codes/<int:code_id>/reissue")
@partner_only
def reissue_code(code_id: int):
    return _code_action(
        code_id, "reissue",
        lambda code, form: codes.reissue(code, worker=current_user, reason=form.reason.data),
    )


# --- Team (partner admin) ---------------------------------------------------------------------

@bp.route("/team", methods=["GET", "POST"])
@partner_admin_only
def team():
    scope = _scope()
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user, _token = accounts.invite(email=form.email.data, name=form.name.data, role=Role.SOCIAL_WORKER,
                                          organisation=scope.organisation(), inviter=current_user)
        except DomainError as error:
            refuse(form, error, field="email")
        else:
            flash(_("An invitation was sent to %(email)s.", email=isolate(user.email)), "success")
            return redirect(url_for(".team"), code=303)
    return _no_store(render_template("partner/team.html", form=form, members=scope.team(),
                                     organisation=scope.organisation(), may_switch=accounts.may_switch))


def _set_active(user_id: int, active: bool):
    scope = _scope()
    member = _found(scope.team_member, user_id)
    # The rule lives in the accounts service: a partner admin manages the social workers of
    # their own structure, nobody else.
    if not accounts.can_invite(current_user, member.role, scope.organisation()):
        abort(403)
    try:
        accounts.set_active(member, active, actor=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        if active:
            flash(_("%(name)s can sign in again.", name=isolate(member.name)), "success")
        else:
            flash(_("%(name)s can no longer sign in.", name=isolate(member.name)), "success")
    return redirect(url_for(".team"), code=303)


@bp.post("/team/<int:user_id>/deactivate")
@partner_admin_only
def deactivate_member(user_id: int):
    return _set_active(user_id, False)


@bp.post("/team/<int:user_id>/activate")
@partner_admin_only
def activate_member(user_id: int):
    return _set_active(user_id, True)


# --- Export -----------------------------------------------------------------------------------

@bp.get("/export.csv")
@partner_only
def export():
    today = to_user_timezone(utcnow()).date().isoformat()
    return csvfile.download(_scope().export_csv(), f"solidarity-shop-{today}.csv")


# --- Reserving on behalf of a person ------------------------------------------------------------

@bp.get("/codes/<int:code_id>/reserve")
@partner_only
def reserve_for(code_id: int):
    """Offers this person's code allows, to reserve with them present or on the phone."""
    code = _found(_scope().code, code_id)
    live = reservations.live_reservation(code.id)
    if live is not None:
        return redirect(url_for(".reservation", number=live.number), code=303)
    allowed = tuple(c for allowed in code.category_list for c in allowed.device_categories)
    filters_form = OnBehalfFilterForm(request.args, catalog.active_pickup_points(), allowed)
    filters_form.validate()
    filters, page = filters_form.to_filters()
    # The pickup point of the structure's town first: the one the person can most likely reach.
    near = catalog.pickup_point_in(code.beneficiary.organisation.town)
    filters = dataclasses.replace(filters, categories=allowed, first_point_id=near.id if near else None)
    result = catalog.list_offers(filters, page=page, per_page=ON_BEHALF_PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if k != "page" and k in filters_form._fields and v}
    return _no_store(render_template(
        "partner/reserve_for.html", code=code, person=code.beneficiary, result=result, near=near,
        filters_form=filters_form, beyond_last_page=page > result.pages, form=ActionForm(),
        page_url=lambda n: url_for(".reserve_for", code_id=code.id, **args, page=n),
    ))


@bp.post("/codes/<int:code_id>/reserve/<offer_key>")
@partner_only
def reserve_for_offer(code_id: int, offer_key: str):
    code = _found(_scope().code, code_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _reserved_on_behalf(code, lambda slot: reservations.reserve(
        code, offer_key, method=PaymentMethod.COUNTER, actor=current_user, slot_id=slot))


def _reserved_on_behalf(code, reserve, back: str | None = None):
    """Run the reservation (with the pickup time posted, if any); say what happened and go to its
    confirmation, or back (to the list). At a point that requires a time, the times are offered
    first, and the same form posts again with the one chosen."""
    back = back or url_for(".reserve_for", code_id=code.id)
    try:
        reservation = reserve(request.form.get("slot", type=int))
    except DomainError as error:
        point_id = error.details.get("point_id")  # the time was missing, full, passed…: offer the times
        if point_id:  # the service undid everything it began
            point = catalog.get_pickup_point(point_id)
            return _no_store(render_template(
                "partner/choose_time.html", point=point, person=code.beneficiary, form=ActionForm(),
                action=request.path, back=back, message=None if isinstance(error, slots.TimeRequired) else error.message,
                days=reservations.times_to_choose(point).days,
            )), 200 if isinstance(error, slots.TimeRequired) else 422
        if isinstance(error, NotFound):
            abort(404)
        flash(str(error.message), "error")
        return redirect(back, code=303)
    flash(_("The device is reserved for %(name)s.", name=isolate(code.beneficiary.display_name)), "success")
    return redirect(url_for(".reservation", number=reservation.number), code=303)


@bp.get("/reservations/<number>")
@partner_only
def reservation(number: str):
    """A printable confirmation, in the person's language, to hand over or read on the phone."""
    found = _found(_scope().reservation, number)
    person = found.beneficiary
    audit.record(current_user, "reservation.view", found, organisation_id=found.organisation_id)
    for_person = _in_language_of(
        person, "partner/_reservation_for_person.html", reservation=found, person=person,
        pickup_qr=lambda: qr.svg(found.pickup_code, _("Pickup code %(code)s", code=isolate(found.pickup_code))),
        point=catalog.get_pickup_point(found.pickup_point_id),
    )
    return _no_store(render_template(
        "partner/reservation.html", reservation=found, person=person, form=ActionForm(), for_person=for_person,
        person_lang=person.language, person_dir=text_direction(person.language), slot_days=slots.choices(found),
    ))


@bp.post("/reservations/<number>/again")
@partner_only
def reserve_again(number: str):
    """A missed pickup: reserve the same kind of device again with the same code, in one step."""
    found = _found(_scope().reservation, number)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _reserved_on_behalf(found.code, lambda slot: reservations.reserve_again(found, actor=current_user,
                                                                                   slot_id=slot))


@bp.post("/reservations/<number>/slot")
@partner_only
def choose_slot(number: str):
    """Take or change the pickup time on the person's behalf."""
    found = _found(_scope().reservation, number)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        slots.choose(found, request.form.get("slot", type=int), actor=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("The pickup time is saved."), "success")
    return redirect(url_for(".reservation", number=found.number) + "#slot", code=303)


def _in_language_of(reader, template: str, **context) -> Markup:
    """The part of a worker's page meant for the person, in the person's language (the page
    around it, menu and buttons included, stays in the worker's). Callables in `context` are
    called inside the person's language, for texts made in Python (a QR code's label)."""
    with force_locale(reader.language):
        values = {name: value() if callable(value) else value for name, value in context.items()}
        return Markup(render_template(template, **values))


@bp.post("/reservations/<number>/cancel")
@partner_only
def cancel_reservation(number: str):
    found = _found(_scope().reservation, number)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        payments.cancel_and_refund(found, reason="cancelled by the social worker", actor=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("The reservation is cancelled. The code can be used again."), "success")
    return redirect(url_for(".beneficiary", beneficiary_id=found.beneficiary_id), code=303)


# --- The waitlist, on the person's behalf -------------------------------------------------------

@bp.post("/codes/<int:code_id>/waitlist")
@partner_only
def join_waitlist(code_id: int):
    code = _found(_scope().code, code_id)
    person = _found(_scope().beneficiary, code.beneficiary_id)
    form = waitlist_form(code, request.form)
    if form.validate_on_submit():
        try:
            entry = waitlist.join(code, **form.service_arguments(), actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            if entry.status.value == "offered":
                flash(_("A device was on sale: it is held for %(name)s now.", name=person.display_name), "success")
            else:
                flash(_("%(name)s is in the queue.", name=person.display_name), "success")
            return redirect(url_for(".beneficiary", beneficiary_id=person.id, _anchor="queues"), code=303)
    return _beneficiary_page(person, bound=(code.id, "waitlist", form), status=422)


def _scoped_entry(entry_id: int) -> WaitlistEntry:
    entry = db.session.get(WaitlistEntry, entry_id)
    if entry is None or entry.organisation_id != _scope().organisation().id:
        abort(404)
    _found(_scope().beneficiary, entry.beneficiary_id)  # not a person whose data was erased
    return entry


@bp.post("/waitlist/<int:entry_id>/leave")
@partner_only
def leave_waitlist(entry_id: int):
    entry = _scoped_entry(entry_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        waitlist.leave(entry, actor=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("The place in the queue is given up."), "success")
    return redirect(url_for(".beneficiary", beneficiary_id=entry.beneficiary_id, _anchor="queues"), code=303)


@bp.post("/waitlist/<int:entry_id>/reserve")
@partner_only
def reserve_turn(entry_id: int):
    """Reserve the unit held for the person's turn, with them present or on the phone."""
    entry = _scoped_entry(entry_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _reserved_on_behalf(
        entry.code, lambda slot: reservations.reserve(entry.code, entry.device.offer_key if entry.device else "",
                                                      method=PaymentMethod.COUNTER, actor=current_user, turn=entry,
                                                      slot_id=slot),
        back=url_for(".beneficiary", beneficiary_id=entry.beneficiary_id, _anchor="queues"))
