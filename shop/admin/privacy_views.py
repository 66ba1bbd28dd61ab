"""Admins answer a person's request (access or erasure) for any structure."""

from flask import url_for

from shop.admin.views import admin_only, bp
from shop.partner.privacy_views import admin_beneficiary, data_file, data_page, erase_page


@bp.get("/beneficiaries/<int:beneficiary_id>/data")
@admin_only
def beneficiary_data(beneficiary_id: int):
    return data_page(admin_beneficiary(beneficiary_id), area="admin")


@bp.get("/beneficiaries/<int:beneficiary_id>/data.json")
@admin_only
def beneficiary_data_file(beneficiary_id: int):
    return data_file(admin_beneficiary(beneficiary_id))


@bp.route("/beneficiaries/<int:beneficiary_id>/erase", methods=["GET", "POST"])
@admin_only
def erase_beneficiary(beneficiary_id: int):
    return erase_page(admin_beneficiary(beneficiary_id), area="admin",
                      done_url=lambda person: url_for("admin.audit_log", target_type="beneficiaries",
                                                      target_id=person.id))
