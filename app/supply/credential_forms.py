"""The console's form for issuing a supply credential."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.supply.credentials import MAX_CALLBACK_URL, MAX_NAME


class CredentialForm(FlaskForm):
    email = StringField(
        _l("Account email"),
        validators=[
            DataRequired(_l("Enter the email of one of the shop's accounts.")),
            Length(max=254),
        ],
    )
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Give the credential a name.")), Length(max=MAX_NAME)],
    )
    callback_url = StringField(
        _l("Callback URL (optional)"), validators=[Length(max=MAX_CALLBACK_URL)]
    )
