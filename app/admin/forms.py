"""Forms of the user and API key administration pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice: types-WTForms lacks it
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import Email, InputRequired, Length, Optional

from ..config import ROLES
from ..forms import CheckboxesField
from ..i18n import ROLE_LABELS, language_choices
from ..security import API_SCOPES


def role_field() -> CheckboxesField:
    return CheckboxesField(
        _l("Roles"),
        choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES],
        validators=[InputRequired(message=_l("Choose at least one role."))],
    )


class UserForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[InputRequired(message=_l("Enter a username.")), Length(min=2, max=64)],
    )
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=128)])
    email = StringField(
        _l("Email"),
        validators=[Optional(), Email(message=_l("Enter a valid email address.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Initial password"),
        validators=[
            InputRequired(message=_l("Enter a password.")),
            Length(min=8, max=256, message=_l("The password must have 8 to 256 characters.")),
        ],
    )
    locale = SelectField(_l("Language"), choices=language_choices(), default="")
    roles = role_field()


class RolesForm(FlaskForm):
    roles = role_field()


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[InputRequired(message=_l("Give the key a name.")), Length(max=128)]
    )
    scopes = CheckboxesField(
        _l("Scopes"),
        choices=[SelectChoice(s) for s in API_SCOPES],
        validators=[InputRequired(message=_l("Choose at least one scope."))],
    )
