"""Sign-in (password, then a second factor for those who have or need one), sign-out,
invitations and passwords."""

import time

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_limiter.util import get_remote_address
from flask_login.utils import login_url

from shop.auth.access import home_for
from shop.auth.forms import (
    ChangePasswordForm, ConfirmCodeForm, ForgotPasswordForm, LoginForm, SecondFactorForm, SetPasswordForm,
)
from shop.extensions import db, limiter, login_manager
from shop.forms import refuse
from shop.models import TokenPurpose, User
from shop.pages.views import NEXT_MAX_LENGTH, safe_next
from shop.services import accounts, audit, mail, qr, twofactor
from shop.services.errors import DomainError

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_token: str):
    return accounts.load_by_session_token(session_token)


def _sign_in_limit() -> str:
    return current_app.config.get("SIGN_IN_RATE_LIMIT", "10 per minute")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_sign_in_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(home_for(current_user)))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("The e-mail address or the password is not right."))
        elif not twofactor.password_leads_on(user):
            db.session.rollback()  # no sign-in happened: not recorded as one
            form.password.errors.append(_(
                "Two-step sign-in is not set up for this account yet. To set it up, open the link in "
                "your invitation e-mail, or ask for a new link with \"Forgot your password?\"."))
        else:
            session.clear()
            if user.has_two_factor or twofactor.required_for(user):
                # The password is right, but nobody is signed in yet: the second factor (or, for
                # staff and admins without one, its set-up) comes first.
                _start_second_step(user, remember=bool(form.remember.data), next_url=request.args.get("next"))
                return redirect(url_for("auth.second_factor" if user.has_two_factor else "auth.enrol"), code=303)
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next"), url_for(home_for(user))), code=303)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    accounts.end_sessions(current_user)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "success")
    return redirect(url_for("catalog.home"), code=303)


def _set_password(raw_token: str, purpose: TokenPurpose, template: str):
    user = accounts.token_user(raw_token, purpose)
    if user is None:
        return render_template("auth/link_invalid.html"), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.use_token(raw_token, purpose, form.password.data)
        except DomainError as error:
            form.password.errors.append(error.message)
        else:
            if twofactor.must_enrol(user):
                # The link proved the mailbox: set up the second factor now, without signing in again.
                session.clear()
                _start_second_step(user, mailbox=True)
                flash(_("Your password is set. Now set up two-step sign-in."), "success")
                return redirect(url_for("auth.enrol"), code=303)
            flash(_("Your password is set. You can now sign in."), "success")
            return redirect(url_for("auth.login"), code=303)
    return render_template(template, form=form, user=user)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
def accept_invitation(token: str):
    return _set_password(token, TokenPurpose.INVITATION, "auth/invitation.html")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
def reset_password(token: str):
    return _set_password(token, TokenPurpose.PASSWORD_RESET, "auth/reset.html")


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data)  # queues the link, if there is such an account
        flash(_("If an account exists for this address, we have sent it a link to choose a new password."), "success")
        return redirect(url_for("auth.login"), code=303)
    return render_template("auth/forgot.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current.data, form.password.data)
        except DomainError as error:
            form[error.details.get("field", "password")].errors.append(error.message)
        else:
            # The session token changed: sign in again on this device only. Pass the user itself:
            # login_user(current_user) stores the proxy in g and every later lookup recurses.
            login_user(current_user._get_current_object())
            flash(_("Your password is changed. Other devices are signed out."), "success")
            return redirect(url_for(home_for(current_user)), code=303)
    return render_template("auth/change_password.html", form=form)


# --- Second factor ----------------------------------------------------------------------------------

PENDING = "second_factor_pending"
PENDING_SECONDS = 10 * 60
MAILBOX_PENDING_SECONDS = 60 * 60


def pending_user() -> User | None:
    """The account whose password was right a moment ago and whose second step is still to come."""
    state = session.get(PENDING)
    if not isinstance(state, dict):
        return None
    # After a link, the person may first have to install an authenticator app: more time.
    if time.time() - state.get("at", 0) > (MAILBOX_PENDING_SECONDS if state.get("mailbox") else PENDING_SECONDS):
        return None
    user = db.session.get(User, state.get("uid"))
    # The session token ties the pending step to the account's current sessions: a sign-out
    # everywhere, a password change or an admin reset ends it.
    if user is None or not user.is_active or user.session_token != state.get("token"):
        return None
    return user


def _start_second_step(user: User, *, remember: bool = False, next_url: str | None = None, mailbox: bool = False):
    """The password is right (or was just set through a link): the second step comes next."""
    session[PENDING] = {"uid": user.id, "token": user.session_token, "at": int(time.time()),
                        "remember": remember, "next": next_url, "mailbox": mailbox}


def _finish_sign_in(user: User):
    state = session.get(PENDING) or {}
    session.clear()
    login_user(user, remember=bool(state.get("remember")))
    return safe_next(state.get("next"), url_for(home_for(user)))


def _code_limit() -> str:
    return current_app.config.get("SECOND_FACTOR_RATE_LIMIT", "5 per 5 minutes")


def _account_key() -> str:
    """Code attempts are counted per account too, so that changing address does not help."""
    state = session.get(PENDING)
    uid = state.get("uid") if isinstance(state, dict) else None
    if uid is None and current_user.is_authenticated:
        uid = current_user.id
    if uid is None:  # nobody to count for: the view sends them back to sign in
        return f"second-factor-address-{get_remote_address()}"
    return f"second-factor-account-{uid}"


@login_manager.unauthorized_handler
def unauthorized():
    """A page needs a signed-in account: finish a second step already started, else sign in."""
    pending = pending_user()
    if pending is not None:
        return redirect(url_for("auth.second_factor" if pending.has_two_factor else "auth.enrol"))
    flash(login_manager.login_message, login_manager.login_message_category)
    # Back to the page asked for after signing in, unless its address is longer than any link of
    # the shop (safe_next would drop it anyway): the sign-in link never carries a megabyte.
    back = request.url if len(request.full_path) <= NEXT_MAX_LENGTH else None
    return redirect(login_url(login_manager.login_view, next_url=back))


def _no_store(response):
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_sign_in_limit, methods=["POST"])
@limiter.limit(_code_limit, methods=["POST"], key_func=_account_key)
def second_factor():
    user = pending_user()
    if user is None or not user.has_two_factor:
        session.pop(PENDING, None)
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.login"), code=303)
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            used = twofactor.verify(user, form.code.data)
        except DomainError as error:
            refuse(form, error, field="code")
            audit.record(user, "user.second_factor_refused", user, organisation_id=user.organisation_id)
        else:
            audit.record(user, "user.second_factor", user, organisation_id=user.organisation_id, kind=used)
            target = _finish_sign_in(user)
            if used == "recovery":
                left = twofactor.recovery_codes_left(user)
                flash(ngettext("You used a recovery code. %(num)d is left: make new ones from your account page "
                               "when you can.", "You used a recovery code. %(num)d are left: make new ones from your "
                               "account page when you can.", left), "info")
            return redirect(target, code=303)
    return _no_store(render_template("auth/second_factor.html", form=form))


def _enrolling_user() -> tuple[User | None, bool]:
    """(the account setting up two-step sign-in, whether it is still signing in)."""
    if current_user.is_authenticated:
        return current_user._get_current_object(), False
    user = pending_user()
    if user is not None and not user.has_two_factor and (
            session[PENDING].get("mailbox") or twofactor.may_enrol_at_sign_in(user)):
        return user, True
    return None, False


@bp.route("/account/two-factor/setup", methods=["GET", "POST"])
@limiter.limit(_code_limit, methods=["POST"], key_func=_account_key)
def enrol():
    user, signing_in = _enrolling_user()
    if user is None:
        return current_app.login_manager.unauthorized()
    if user.has_two_factor:
        return redirect(url_for("auth.two_factor"), code=303)
    if not twofactor.offered_to(user):
        abort(403)
    form = ConfirmCodeForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.confirm_enrolment(user, form.code.data)
        except DomainError as error:
            refuse(form, error, field="code")
        else:
            target = _finish_sign_in(user) if signing_in else url_for("auth.two_factor")
            return _no_store(render_template("auth/recovery_codes.html", codes=codes, target=target, first=True))
    secret = twofactor.start_enrolment(user)
    return _no_store(render_template(
        "auth/enrol.html", form=form, user=user, signing_in=signing_in, required=twofactor.required_for(user),
        secret=twofactor.grouped(secret),
        qr_code=qr.svg(twofactor.provisioning_uri(user, secret), _("QR code to scan with an authenticator app")),
    ))


def _two_factor_page(*, disable_form=None, renew_form=None, status: int = 200):
    return _no_store(render_template(
        "auth/two_factor.html", required=twofactor.required_for(current_user), offered=twofactor.offered_to(current_user),
        left=twofactor.recovery_codes_left(current_user) if current_user.has_two_factor else 0,
        disable_form=disable_form or ConfirmCodeForm(prefix="disable", formdata=None),
        renew_form=renew_form or ConfirmCodeForm(prefix="renew", formdata=None),
    )), status


@bp.get("/account/two-factor")
@login_required
def two_factor():
    return _two_factor_page()


@bp.post("/account/two-factor/disable")
@login_required
@limiter.limit(_code_limit, key_func=_account_key)
def disable_two_factor():
    form = ConfirmCodeForm(prefix="disable")
    if form.validate_on_submit():
        try:
            twofactor.disable(current_user, form.code.data)
        except DomainError as error:
            refuse(form, error, field="code")
        else:
            flash(_("Two-step sign-in is off."), "success")
            return redirect(url_for("auth.two_factor"), code=303)
    return _two_factor_page(disable_form=form, status=422)


@bp.post("/account/two-factor/recovery-codes")
@login_required
@limiter.limit(_code_limit, key_func=_account_key)
def renew_recovery_codes():
    form = ConfirmCodeForm(prefix="renew")
    if form.validate_on_submit():
        try:
            codes = twofactor.regenerate_recovery_codes(current_user, form.code.data)
        except DomainError as error:
            refuse(form, error, field="code")
        else:
            return _no_store(render_template("auth/recovery_codes.html", codes=codes,
                                             target=url_for("auth.two_factor"), first=False))
    return _two_factor_page(renew_form=form, status=422)


# Pages a signed-in account that must set up two-step sign-in may still reach.
_BEFORE_ENROLMENT = {"auth.enrol", "auth.logout", "static", "healthz", "readyz", "metrics", "pages.language"}


@bp.before_app_request
def require_second_factor():
    """Staff and admins signed in without a second factor (e.g. from before it was required)
    reach nothing but its set-up."""
    if "_user_id" not in session or request.endpoint in _BEFORE_ENROLMENT:
        return None
    if current_user.is_authenticated and twofactor.must_enrol(current_user):
        return redirect(url_for("auth.enrol"))
    return None
