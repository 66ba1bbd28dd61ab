"""Sign-in, sign-out, invitations and passwords."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from shop.auth.access import home_for
from shop.auth.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, SetPasswordForm
from shop.extensions import limiter, login_manager
from shop.models import TokenPurpose
from shop.pages.views import safe_next
from shop.services import accounts, mail
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
        if user is not None:
            session.clear()
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next"), url_for(home_for(user))), code=303)
        form.password.errors.append(_("The e-mail address or the password is not right."))
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
            accounts.use_token(raw_token, purpose, form.password.data)
        except DomainError as error:
            form.password.errors.append(error.message)
        else:
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
        found = accounts.request_password_reset(form.email.data)
        if found is not None:
            user, token = found
            link = url_for("auth.reset_password", token=token, _external=True)
            mail.send(user.email, _("Choose a new password"),
                      _("Hello %(name)s,\n\nTo choose a new password, open this link within 2 hours:\n%(link)s\n\n"
                        "If you did not ask for it, you can ignore this message.", name=user.name, link=link))
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
