"""Forms of the login, language and account pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from ..i18n import language_choices


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[InputRequired(message=_l("Enter your username.")), Length(max=64)],
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(message=_l("Enter your password.")), Length(max=256)],
    )


class LanguageForm(FlaskForm):
    lang = SelectField(choices=language_choices(with_browser=False))


class AccountForm(FlaskForm):
    locale = SelectField(
        _l("Language"),
        choices=language_choices(),
        default="",
    )


class PasswordForm(FlaskForm):
    current = PasswordField(
        _l("Current password"), validators=[InputRequired(message=_l("Enter your password."))]
    )
    new = PasswordField(
        _l("New password"),
        validators=[
            InputRequired(message=_l("Enter a new password.")),
            Length(min=8, max=256, message=_l("The password must have 8 to 256 characters.")),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("new", message=_l("The two passwords differ."))],
    )
