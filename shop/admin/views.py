"""Admin pages: partner structures, quotas and accounts."""

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop.i18n import isolate
from shop.admin.forms import STAFF_ROLES, InviteForm, OrganisationForm, PublicDetailsForm, QuotaForm, public_details
from shop.forms import ActionForm, refuse
from shop.auth.access import roles_required
from shop.extensions import db
from shop.models import Organisation, OrganisationKind, OrganisationStatus, Role, User
from shop.services import accounts, catalog, codes, partners
from shop.models.types import utcnow
from shop.services.errors import DomainError

bp = Blueprint("admin", __name__, url_prefix="/admin")
admin_only = roles_required(Role.ADMIN)


def _organisation(organisation_id: int) -> Organisation:
    return db.session.get(Organisation, organisation_id) or abort(404)


@bp.get("/")
@admin_only
def index():
    organisations = db.session.scalars(sa.select(Organisation).order_by(Organisation.status, Organisation.name)).all()
    usage = {o.id: codes.quota_used(o.id) for o in organisations}
    return render_template("admin/index.html", organisations=organisations, usage=usage,
                           form=OrganisationForm(), action=ActionForm(), no_shows=_no_shows())


def _no_shows():
    """Missed pickups per point and month over the last 12 months (the no-show rate)."""
    from shop.services import slots

    return slots.no_shows(since=utcnow() - timedelta(days=365))


@bp.post("/organisations")
@admin_only
def create_organisation():
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            organisation = partners.create_organisation(
                name=form.name.data, kind=OrganisationKind(form.kind.data), town=form.town.data,
                contact_email=form.contact_email.data or None, contact_phone=form.contact_phone.data or None,
                monthly_quota=form.monthly_quota.data, actor=current_user, details=public_details(form),
            )
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The structure is created. Approve it when it is ready to issue codes."), "success")
            return redirect(url_for("admin.organisation", organisation_id=organisation.id), code=303)
    organisations = db.session.scalars(sa.select(Organisation).order_by(Organisation.status, Organisation.name)).all()
    usage = {o.id: codes.quota_used(o.id) for o in organisations}
    return render_template("admin/index.html", organisations=organisations, usage=usage, form=form,
                           no_shows=_no_shows(),
                           action=ActionForm()), 422


def _organisation_page(organisation: Organisation, *, quota_form=None, invite_form=None, details_form=None,
                       status=200):
    members = db.session.scalars(sa.select(User).where(User.organisation_id == organisation.id).order_by(User.name)).all()
    return render_template(
        "admin/organisation.html", organisation=organisation, members=members, used=codes.quota_used(organisation.id),
        quota_form=quota_form or QuotaForm(monthly_quota=organisation.monthly_quota),
        invite_form=invite_form or InviteForm(roles=(Role.PARTNER_ADMIN, Role.SOCIAL_WORKER)),
        details_form=details_form or PublicDetailsForm(obj=organisation, audience=organisation.audience.value),
        action=ActionForm(), statuses=OrganisationStatus,
    ), status


@bp.get("/organisations/<int:organisation_id>")
@admin_only
def organisation(organisation_id: int):
    return _organisation_page(_organisation(organisation_id))


@bp.post("/organisations/<int:organisation_id>/status/<status>")
@admin_only
def set_status(organisation_id: int, status: str):
    organisation = _organisation(organisation_id)
    if status not in {s.value for s in OrganisationStatus} or not ActionForm().validate_on_submit():
        abort(400)
    partners.set_organisation_status(organisation, OrganisationStatus(status), actor=current_user)
    flash(_("The structure is now: %(status)s.", status=organisation.status.label), "success")
    return redirect(url_for("admin.organisation", organisation_id=organisation.id), code=303)


@bp.post("/organisations/<int:organisation_id>/quota")
@admin_only
def set_quota(organisation_id: int):
    organisation = _organisation(organisation_id)
    form = QuotaForm()
    if form.validate_on_submit():
        try:
            partners.set_quota(organisation, form.monthly_quota.data, actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The monthly quota is saved."), "success")
            return redirect(url_for("admin.organisation", organisation_id=organisation.id), code=303)
    return _organisation_page(organisation, quota_form=form, status=422)


@bp.post("/organisations/<int:organisation_id>/details")
@admin_only
def set_details(organisation_id: int):
    organisation = _organisation(organisation_id)
    form = PublicDetailsForm()
    if form.validate_on_submit():
        try:
            partners.set_public_details(organisation, public_details(form), contact_phone=form.contact_phone.data,
                                        contact_email=form.contact_email.data, actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The details shown to the public are saved."), "success")
            return redirect(url_for("admin.organisation", organisation_id=organisation.id), code=303)
    return _organisation_page(organisation, details_form=form, status=422)


@bp.post("/organisations/<int:organisation_id>/invite")
@admin_only
def invite_member(organisation_id: int):
    organisation = _organisation(organisation_id)
    form = InviteForm(roles=(Role.PARTNER_ADMIN, Role.SOCIAL_WORKER))
    if form.validate_on_submit():
        try:
            user, _token = accounts.invite(email=form.email.data, name=form.name.data, role=Role(form.role.data),
                                          inviter=current_user, organisation=organisation)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("The invitation is sent to %(email)s.", email=isolate(user.email)), "success")
            return redirect(url_for("admin.organisation", organisation_id=organisation.id), code=303)
    return _organisation_page(organisation, invite_form=form, status=422)


@bp.route("/accounts", methods=["GET", "POST"])
@admin_only
def accounts_page():
    points = catalog.active_pickup_points()
    form = InviteForm(roles=STAFF_ROLES, points=points)
    status = 200
    if form.validate_on_submit():
        try:
            user, _token = accounts.invite(
                email=form.email.data, name=form.name.data, role=Role(form.role.data), inviter=current_user,
                pickup_point_id=int(form.pickup_point.data) if form.pickup_point.data else None,
            )
        except DomainError as error:
            refuse(form, error)
            status = 422
        else:
            flash(_("The invitation is sent to %(email)s.", email=isolate(user.email)), "success")
            return redirect(url_for("admin.accounts_page"), code=303)
    elif form.is_submitted():
        status = 422
    users = db.session.scalars(sa.select(User).order_by(User.role, User.email)).all()
    return render_template("admin/accounts.html", users=users, form=form, action=ActionForm()), status


@bp.post("/accounts/<int:user_id>/<any(activate, deactivate):change>")
@admin_only
def set_account_active(user_id: int, change: str):
    user = db.session.get(User, user_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        accounts.set_active(user, change == "activate", actor=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("The account is saved."), "success")
    return redirect(url_for("admin.accounts_page"), code=303)


@bp.post("/accounts/<int:user_id>/two-factor/reset")
@admin_only
def reset_two_factor(user_id: int):
    """A lost phone: the person sets two-step sign-in up again at their next sign-in, within a few days."""
    from shop.services import twofactor

    user = db.session.get(User, user_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        twofactor.reset(user, actor=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Two-step sign-in is reset for %(email)s. They set it up again at their next sign-in, "
                "within %(days)d days.", email=isolate(user.email), days=twofactor.ENROL_WINDOW.days), "success")
    return redirect(url_for("admin.accounts_page"), code=303)
