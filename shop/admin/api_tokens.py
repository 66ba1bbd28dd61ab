"""Admin: API tokens for refurbishers, donors and partner structures (created, listed, revoked)."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop.admin.forms import TokenForm
from shop.admin.views import admin_only, bp
from shop.extensions import db
from shop.forms import ActionForm, refuse
from shop.i18n import isolate
from shop.models import ApiRole, ApiToken
from shop.models.types import utcnow
from shop.services import api_tokens
from shop.services.errors import DomainError


def _page(form, *, created=None, status=200):
    return render_template("admin/api_tokens.html", form=form, tokens=api_tokens.all_tokens(), now=utcnow(),
                           created=created, action=ActionForm()), status


@bp.get("/api-tokens")
@admin_only
def api_tokens_page():
    return _page(TokenForm())


@bp.post("/api-tokens")
@admin_only
def create_api_token():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token, raw = api_tokens.create(
                name=form.name.data, role=ApiRole(form.role.data), donor_ids=form.donors.data or [],
                organisation_id=int(form.organisation.data) if form.organisation.data else None,
                expires_on=form.expires_on.data, webhook_url=form.webhook_url.data, actor=current_user)
        except DomainError as error:
            refuse(form, error)
        else:
            # Shown on this answer only, never again: the page is not cached and not redirected to.
            body, status = _page(TokenForm(formdata=None), created=(token, raw))
            return body, status, {"Cache-Control": "no-store"}
    return _page(form, status=422)


@bp.post("/api-tokens/<int:token_id>/revoke")
@admin_only
def revoke_api_token(token_id):
    token = db.session.get(ApiToken, token_id)
    if token is None:
        return redirect(url_for("admin.api_tokens_page"), code=303)
    if ActionForm().validate_on_submit() and api_tokens.revoke(token, actor=current_user):
        flash(_("The token %(name)s no longer works.", name=isolate(token.name)), "success")
    return redirect(url_for("admin.api_tokens_page"), code=303)
