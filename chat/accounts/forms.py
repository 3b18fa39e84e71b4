"""The accounts' forms (Flask-WTF, CSRF tokens): the settings page, forgot and reset password."""

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

# Status expiries offered on the settings page, in minutes (0: never).
EXPIRIES = (0, 30, 60, 240, 1440, 10080)


def valid_password(form, field):
    """The password rule of registration: CHAT_MIN_PASSWORD_LENGTH to CHAT_MAX_PASSWORD_LENGTH characters."""
    cfg = current_app.config
    if not cfg["CHAT_MIN_PASSWORD_LENGTH"] <= len(field.data or "") <= cfg["CHAT_MAX_PASSWORD_LENGTH"]:
        raise ValidationError(f"{cfg['CHAT_MIN_PASSWORD_LENGTH']}–{cfg['CHAT_MAX_PASSWORD_LENGTH']} characters.")


class ForgotForm(FlaskForm):
    identifier = StringField(validators=[DataRequired(), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField(validators=[DataRequired(), valid_password])
    confirm = PasswordField(validators=[EqualTo("password", message="Passwords differ.")])


class ProfileForm(FlaskForm):
    display_name = StringField(validators=[Length(max=200)])
    status = StringField(validators=[Length(max=2000)])
    expires = SelectField(choices=[(str(m), str(m)) for m in EXPIRIES], default="0")
    time_zone = StringField(validators=[Length(max=64)])


class AvatarForm(FlaskForm):
    file = FileField()


class RemoveAvatarForm(FlaskForm):
    pass


class EmailForm(FlaskForm):
    email = StringField(validators=[Length(max=400)])
    current_password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class PasswordForm(FlaskForm):
    current_password = PasswordField(validators=[DataRequired(), Length(max=1024)])
    password = PasswordField(validators=[DataRequired(), valid_password])
    confirm = PasswordField(validators=[EqualTo("password", message="Passwords differ.")])
