"""The audit trail for admins: who saw or did what, filtered, paged, exported as CSV."""

from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone, to_utc
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, NumberRange

from shop.forms import IntegerField, Optional
from shop.admin.views import admin_only, bp
from shop.extensions import db
from shop.models import Organisation
from shop.models.types import MAX_ROW_ID, utcnow
from shop.services import audit, csvfile

PAGE_SIZE = 50

ACTION_LABELS = {
    "beneficiary.create": _l("Person registered"),
    "beneficiary.view": _l("Person's page viewed"),
    "beneficiary.update": _l("Person's details changed"),
    "beneficiary.texts_stopped": _l("Person stopped text messages (STOP reply)"),
    "beneficiary.export": _l("Person's data exported"),
    "beneficiary.erase": _l("Person's data erased on request"),
    "beneficiary.anonymise": _l("Person anonymised"),
    "partner.export": _l("People list exported"),
    "code.issue": _l("Code issued"),
    "code.slip_print": _l("Code slip shown for printing"),
    "code.revoke": _l("Code revoked"),
    "code.extend": _l("Code extended"),
    "code.reissue": _l("Code issued again"),
    "reservation.create": _l("Reservation made"),
    "reservation.view": _l("Reservation viewed"),
    "reservation.receipt": _l("Receipt shown"),
    "reservation.ready": _l("Reservation ready"),
    "reservation.hand_over": _l("Device handed over"),
    "reservation.cancel": _l("Reservation cancelled"),
    "reservation.paid_online": _l("Paid online"),
    "reservation.refund_due": _l("Refund due"),
    "payment.refund": _l("Refund"),
    "organisation.create": _l("Structure created"),
    "organisation.active": _l("Structure approved"),
    "organisation.deactivated": _l("Structure deactivated"),
    "organisation.pending": _l("Structure put back to waiting"),
    "organisation.quota": _l("Quota changed"),
    "user.invite": _l("Account invited"),
    "user.password_set": _l("Password set"),
    "user.password_change": _l("Password changed"),
    "user.sign_in": _l("Password accepted"),
    "user.second_factor": _l("Signed in with a second factor"),
    "user.second_factor_refused": _l("Second factor refused"),
    "user.recovery_code_used": _l("Recovery code used"),
    "user.recovery_codes_renew": _l("Recovery codes renewed"),
    "user.two_factor_enable": _l("Two-step sign-in turned on"),
    "user.two_factor_disable": _l("Two-step sign-in turned off"),
    "user.two_factor_reset": _l("Two-step sign-in reset by an admin"),
    "user.activate": _l("Account reactivated"),
    "user.deactivate": _l("Account deactivated"),
}
GROUPS = {
    "beneficiary.": _l("Every action on people"),
    "code.": _l("Every action on codes"),
    "reservation.": _l("Every action on reservations"),
    "user.": _l("Every action on accounts"),
}
TARGET_TYPES = {
    "beneficiaries": _l("Person"), "eligibility_codes": _l("Code"), "reservations": _l("Reservation"),
    "users": _l("Account"), "organisations": _l("Structure"),
}


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a search: GET, no change

    since = DateField(_l("From (date)"), validators=[Optional()])
    until = DateField(_l("To (date, included)"), validators=[Optional()])
    actor = StringField(_l("Who (e-mail address)"), validators=[Optional(), Length(max=254)])
    action = SelectField(_l("Action"), validators=[Optional()])
    target_type = SelectField(_l("Concerning"), validators=[Optional()])
    target_id = IntegerField(_l("Reference"), validators=[Optional(), NumberRange(min=1, max=MAX_ROW_ID)])
    organisation = SelectField(_l("Structure"), validators=[Optional()])

    def __init__(self, *args, organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = [SelectChoice("", _l("Any"))] + [
            SelectChoice(k, v) for k, v in GROUPS.items()] + [SelectChoice(k, v) for k, v in ACTION_LABELS.items()]
        self.target_type.choices = [SelectChoice("", _l("Anything"))] + [
            SelectChoice(k, v) for k, v in TARGET_TYPES.items()]
        self.organisation.choices = [SelectChoice("", _l("Any"))] + [
            SelectChoice(str(o.id), o.name) for o in organisations]

    def filters(self) -> audit.AuditFilters:
        def ok(field):
            return field.data if field.data not in (None, "") and not field.errors else None

        def local_midnight(day) -> datetime:
            return to_utc(datetime.combine(day, time.min)).replace(tzinfo=timezone.utc)

        since, until = ok(self.since), ok(self.until)
        organisation = ok(self.organisation)
        return audit.AuditFilters(
            since=local_midnight(since) if since else None,
            until=local_midnight(until + timedelta(days=1)) if until else None,
            actor_email=ok(self.actor),
            action=ok(self.action),
            target_type=ok(self.target_type),
            target_id=ok(self.target_id),
            organisation_id=int(organisation) if organisation and organisation.isdigit() else None,
        )


def _form() -> AuditFilterForm:
    organisations = db.session.scalars(sa.select(Organisation).order_by(Organisation.name)).all()
    form = AuditFilterForm(request.args, organisations=organisations)
    form.validate()
    return form


def label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@bp.get("/audit")
@admin_only
def audit_log():
    form = _form()
    filters = form.filters()
    before = request.args.get("before", type=int)
    rows = audit.search(filters, before_id=before, limit=PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "admin/audit.html", form=form, rows=rows, label=label, target_types=TARGET_TYPES,
        next_url=url_for(".audit_log", **args, before=rows[-1].id) if more else None,
        first_url=url_for(".audit_log", **args) if before else None,
        export_url=url_for(".audit_export", **args),
    )


@bp.get("/audit.csv")
@admin_only
def audit_export():
    rows = audit.search(_form().filters(), limit=audit.MAX_EXPORT)
    body = csvfile.to_csv(
        [_("Entry"), _("When"), _("Who"), _("Structure"), _("Action"), _("What happened"), _("Concerning"),
         _("Reference"), _("Details")],
        ([r.id, to_user_timezone(r.at).isoformat(timespec="seconds"), r.actor_email, r.organisation, r.action,
          label(r.action), r.target_type, r.target_id, r.details] for r in rows),
    )
    today = to_user_timezone(utcnow()).date().isoformat()
    return csvfile.download(body, f"audit-{today}.csv")
