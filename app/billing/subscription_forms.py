"""The plan page's forms (Flask-WTF: CSRF on every form): moving to a paid
plan, by Stripe Checkout or (where Checkout is not available) with a card
typed on the page, and cancelling.

``card_details`` reads the card as people type it (spaces or dashes in the
number, ``MM/YY`` or ``MM/YYYY``) and says per field what could not be
read; whether the card is good is Stripe's to judge. A refused form is
shown again with what was typed, except the card's security code, which is
never sent back to the browser.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField

from app.billing.models import Plan
from app.billing.subscriptions import NewCard

_EXPIRY = re.compile(r"^(\d{1,2})\s*/\s*(\d{2}|\d{4})$")


class ChangePlanForm(FlaskForm):
    """Move to a paid plan. ``attempt`` is one per form shown, so the same
    form sent twice subscribes once."""

    plan = SelectField(_l("Plan"))
    number = StringField(_l("Card number"))
    expiry = StringField(_l("Expiry (MM/YY)"))
    cvc = PasswordField(_l("Security code"))
    attempt = HiddenField()

    def prepare(self, plans: list[Plan]) -> ChangePlanForm:
        self.plan.choices = [(p.code, p.name) for p in plans]
        if not self.attempt.data:
            self.attempt.data = secrets.token_hex(12)
        return self


class PayDueForm(FlaskForm):
    """Pay what a past-due shop owes with a card (where Checkout is off)."""

    number = StringField(_l("Card number"))
    expiry = StringField(_l("Expiry (MM/YY)"))
    cvc = PasswordField(_l("Security code"))
    attempt = HiddenField()

    def prepare(self) -> PayDueForm:
        if not self.attempt.data:
            self.attempt.data = secrets.token_hex(12)
        return self


def card_details(form: ChangePlanForm | PayDueForm) -> tuple[NewCard | None, dict[str, list[str]]]:
    """The card typed on the form, or the per-field problems."""
    errors: dict[str, list[str]] = {}
    number = re.sub(r"[\s-]", "", form.number.data or "")
    if not re.fullmatch(r"\d{12,19}", number):
        errors["number"] = [_("Type the card number: 12 to 19 digits.")]
    expiry = _EXPIRY.match((form.expiry.data or "").strip())
    month = year = 0
    if expiry:
        month, year = int(expiry.group(1)), int(expiry.group(2))
        year += 2000 if year < 100 else 0
    now = datetime.now(UTC)
    if not expiry or not 1 <= month <= 12 or (year, month) < (now.year, now.month):
        errors["expiry"] = [_("Type the expiry as on the card, like 12/30, not in the past.")]
    cvc = (form.cvc.data or "").strip()
    if not re.fullmatch(r"\d{3,4}", cvc):
        errors["cvc"] = [_("Type the 3 or 4 digits on the back of the card.")]
    if errors:
        return None, errors
    return NewCard(number, month, year, cvc), {}


class ExtendGraceForm(FlaskForm):
    """The platform owner gives a past-due shop more days of grace."""

    shop = StringField(_l("Shop address (its slug)"))
    days = StringField(_l("Days to add"), default="7")
