"""Login, password and staff forms: shape checks only; rules decide the rest."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from ..core.idnumber import is_valid_mobile, normalise_mobile
from ..core.forms import IdemKeyField, VersionField

USERNAME_RE = r"^[A-Za-z0-9_.-]{3,40}$"


class LoginForm(FlaskForm):
    login = StringField(_l("Username or mobile"), validators=[DataRequired(_l("Enter your username or mobile number.")),
                                                              Length(max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")),
                                                         Length(max=200)])
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password.")),
                                                                Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter a new password.")), Length(max=200)])
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(_l("Enter the new password again.")),
                                        EqualTo("new", _l("The two new passwords differ."))])


def _mobile(form, field):
    if field.data:
        if not is_valid_mobile(field.data):
            raise ValidationError(_l("A mobile number has 11 digits and starts with 1."))
        field.data = normalise_mobile(field.data)


class StaffForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter the full name.")), Length(max=50)])
    mobile = StringField(_l("Mobile"), validators=[Optional(), Length(max=20), _mobile])
    employee_no = StringField(_l("Employee number"), validators=[Optional(), Length(max=20)])
    position = StringField(_l("Position"), validators=[Optional(), Length(max=20)])
    active = BooleanField(_l("Account active"), default=True)
    version = VersionField()


class NewStaffForm(StaffForm):
    version = None  # a new account has no version yet
    username = StringField(_l("Username"), validators=[
        DataRequired(_l("Enter a username.")),
        Regexp(USERNAME_RE, message=_l("3–40 letters, digits, dot, dash or underscore."))])
    password = PasswordField(_l("Temporary password"), validators=[DataRequired(_l("Enter a temporary password.")),
                                                                   Length(min=8, max=200, message=_l("At least 8 characters."))])
    idem_key = IdemKeyField()


class RoleGrantForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[])
    scope = SelectField(_l("Scope"), choices=[], validate_choice=True)
    idem_key = IdemKeyField()


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("Temporary password"), validators=[
        DataRequired(_l("Enter a temporary password.")), Length(min=8, max=200, message=_l("At least 8 characters."))])
