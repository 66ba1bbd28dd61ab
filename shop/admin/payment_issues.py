"""Admin: card payments that were not the ones the shop asked for (see services.payments)."""

from flask import render_template

from shop.admin.views import admin_only, bp
from shop.services import payments


@bp.get("/payment-issues")
@admin_only
def payment_issues():
    return render_template("admin/payment_issues.html", issues=payments.payment_issues())
