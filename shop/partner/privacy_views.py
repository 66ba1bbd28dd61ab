"""A person's rights, for their social worker (own structure only) and for admins: everything
held about them (a printable page and a JSON file), and erasure on request."""

import json

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop.extensions import db
from shop.forms import refuse
from shop.models import Beneficiary
from shop.partner.forms import ErasureForm
from shop.partner.views import bp, found, no_store, partner_only, scope
from shop.services import audit, privacy
from shop.services.errors import DomainError


def data_page(person: Beneficiary, *, area: str):
    audit.record(current_user, "beneficiary.export", person, organisation_id=person.organisation_id, format="page")
    return no_store(render_template(
        "privacy/beneficiary_data.html", person=person, codes=sorted(person.codes, key=lambda c: c.id),
        reservations=privacy.held_reservations(person), area=area,
    ))


def data_file(person: Beneficiary):
    body = json.dumps(privacy.everything_about(person, actor=current_user), ensure_ascii=False, indent=2)
    response = make_response(body)
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = f'attachment; filename="person-{person.id}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


def erase_page(person: Beneficiary, *, area: str, done_url):
    form = ErasureForm()
    if form.validate_on_submit():
        try:
            summary = privacy.erase(person, actor=current_user)
        except DomainError as error:
            refuse(form, error, field="confirm")
        else:
            flash(_("The person's data is erased. Cancelled reservations: %(cancelled)d; revoked codes: "
                    "%(revoked)d.", cancelled=summary["cancelled"], revoked=summary["revoked"]), "success")
            return redirect(done_url(person), code=303)
    status = 422 if form.errors else 200
    return no_store(render_template(
        "privacy/erase.html", person=person, form=form, preview=privacy.erasure_preview(person), area=area,
    )), status


@bp.get("/beneficiaries/<int:beneficiary_id>/data")
@partner_only
def beneficiary_data(beneficiary_id: int):
    return data_page(found(scope().beneficiary, beneficiary_id), area="partner")


@bp.get("/beneficiaries/<int:beneficiary_id>/data.json")
@partner_only
def beneficiary_data_file(beneficiary_id: int):
    return data_file(found(scope().beneficiary, beneficiary_id))


@bp.route("/beneficiaries/<int:beneficiary_id>/erase", methods=["GET", "POST"])
@partner_only
def erase_beneficiary(beneficiary_id: int):
    return erase_page(found(scope().beneficiary, beneficiary_id), area="partner",
                      done_url=lambda person: url_for("partner.dashboard"))


def admin_beneficiary(beneficiary_id: int) -> Beneficiary:
    person = db.session.get(Beneficiary, beneficiary_id)
    if person is None or person.anonymised_at is not None:
        abort(404)
    return person
