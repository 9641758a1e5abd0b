"""Forms of the withdrawal pages (Flask-WTF: CSRF on every form). Amounts
are typed as a person writes them (``12.50``) and parsed by the view with
``app.core.money``; what was typed is shown again on any refusal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from app.agents.withdrawals import MAX_TEXT


class WithdrawalForm(FlaskForm):
    """An agent's request; ``form_key`` makes a form sent twice one request."""

    amount = StringField(
        _l("Amount"), validators=[DataRequired(message=_l("Type an amount such as 100.00."))]
    )
    payout_account = StringField(
        _l("Pay to"),
        validators=[
            DataRequired(message=_l("Say where the money should be paid: an account or card.")),
            Length(max=MAX_TEXT),
        ],
        description=_l("Your Alipay account, bank card or other account the shop pays."),
    )
    form_key = HiddenField()


class DecisionForm(FlaskForm):
    """The owner's approval (``reference``) or rejection (``reason``)."""

    reference = StringField(_l("Payout reference"), validators=[Length(max=MAX_TEXT)])
    reason = StringField(_l("Reason"), validators=[Length(max=MAX_TEXT)])
