"""Forms of the agent centre (Flask-WTF: CSRF on every form). The rules
they check first, for readable messages beside each field, are the
services' own (``app.agents.sub_shop_settings``), which check them again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from app.agents.sub_shop_settings import MAX_NOTICE, MAX_TITLE


class TierForm(FlaskForm):
    """Move up to a tier (the button of one tier on the agent centre)."""

    tier_id = HiddenField(validators=[DataRequired()])


class SubShopForm(FlaskForm):
    """The sub-shop's code, title and notice; each category's markup is an
    input of its own (``markup-*``, ``markup-<category id>``), read by the
    view."""

    code = StringField(
        _l("Address"),
        validators=[
            DataRequired(_l("Choose an address for your sub-shop.")),
            Regexp(
                r"^\s*[A-Za-z0-9-]{3,24}\s*$",
                message=_l("Use 3 to 24 letters, digits or hyphens for the address."),
            ),
        ],
    )
    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(_l("Give your sub-shop a title.")),
            Length(max=MAX_TITLE, message=_l("Keep this to %(limit)s characters.", limit=80)),
        ],
    )
    notice = TextAreaField(
        _l("Notice"),
        validators=[
            Length(max=MAX_NOTICE, message=_l("Keep this to %(limit)s characters.", limit=500))
        ],
    )
