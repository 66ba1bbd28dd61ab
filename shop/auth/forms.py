from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

REQUIRED = _l("This field is required.")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=256)])
    remember = BooleanField(_l("Stay signed in on this device"))


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED), Length(max=256)])
    confirm = PasswordField(_l("Type the new password again"), validators=[DataRequired(REQUIRED), Length(max=256)])

    def validate_confirm(self, field):
        if field.data != self.password.data:
            from wtforms.validators import ValidationError

            raise ValidationError(_l("The two passwords are not the same."))


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED), Length(max=256)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(REQUIRED), Length(max=254)])


class SecondFactorForm(FlaskForm):
    """A 6-digit code from the authenticator app, or a recovery code."""

    code = StringField(_l("Code"), validators=[DataRequired(REQUIRED), Length(max=40)])


class ConfirmCodeForm(FlaskForm):
    """A 6-digit code from the app, to prove the person holds it."""

    code = StringField(_l("6-digit code from the app"), validators=[DataRequired(REQUIRED), Length(max=40)])
