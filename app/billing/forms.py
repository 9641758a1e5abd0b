"""The platform console's plan form (Flask-WTF: CSRF on every form), and the
step from what the platform owner typed to the values ``app.billing.plans``
takes.

Everything is read as text, as people write it: the price as ``99`` or
``99.00`` in the plan's currency, the commission as a percentage (``1.5``),
each limit as a whole number or blank for unlimited. ``plan_data`` turns
that into typed fields or says per field what could not be read; whether a
value is allowed is the service's to judge, and its field errors come back
onto the same form. A form with errors is shown again as it was sent.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField

from app.billing.models import INTERVAL_MONTH, INTERVAL_YEAR, Plan
from app.billing.plans import COUNT_LIMITS, percent_text
from app.core.money import decimal_text, parse_money

_PERCENT = re.compile(r"^(\d{1,3})(?:\.(\d{1,2}))?%?$")


class PlanForm(FlaskForm):
    code = StringField(_l("Code (in the address, the command line and the API)"))
    name = StringField(_l("Name"))
    price = StringField(_l("Price"))
    currency = StringField(_l("Currency"), default="CNY")
    interval = SelectField(_l("Billed every"), default=INTERVAL_MONTH)
    commission = StringField(_l("Commission on sales (%)"), default="0")
    trial_days = StringField(_l("Trial days"), default="0")
    grace_days = StringField(_l("Grace days after a failed payment"), default="7")
    max_products = StringField(_l("Products"))
    max_staff = StringField(_l("Staff members"))
    max_domains = StringField(_l("Custom domains"))
    max_orders_month = StringField(_l("Orders a month"))
    api_access = BooleanField(_l("API keys"), default=True)
    sub_shops = BooleanField(_l("Sub-shops for agents"), default=True)

    def prepare(self) -> PlanForm:
        self.interval.choices = [(INTERVAL_MONTH, _("month")), (INTERVAL_YEAR, _("year"))]
        return self


class AssignForm(FlaskForm):
    """Put a shop on a plan by hand (a comp or a migration)."""

    shop = StringField(_l("Shop address (its slug)"))
    plan = SelectField(_l("Plan"))

    def prepare(self, plans: list[Plan]) -> AssignForm:
        self.plan.choices = [(p.code, p.name) for p in plans]
        return self


def fill_form(form: PlanForm, plan: Plan) -> None:
    """Show ``plan`` in the form, as its text would be typed."""
    form.code.data = plan.code
    form.name.data = plan.name
    form.price.data = decimal_text(plan.price, plan.currency)
    form.currency.data = plan.currency
    form.interval.data = plan.interval
    form.commission.data = percent_text(plan.commission_bps)
    form.trial_days.data = str(plan.trial_days)
    form.grace_days.data = str(plan.grace_days)
    for column in COUNT_LIMITS.values():
        value = getattr(plan, column)
        getattr(form, column).data = "" if value is None else str(value)
    form.api_access.data = plan.api_access
    form.sub_shops.data = plan.sub_shops


def _text(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def plan_data(form: PlanForm) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The plan's fields from the form, and what could not be read (per
    field, in the reader's language)."""
    errors: dict[str, list[str]] = {}
    currency = _text(form.currency.data).upper() or "CNY"
    data: dict[str, Any] = {
        "code": _text(form.code.data).lower(),
        "name": _text(form.name.data),
        "currency": currency,
        "interval": form.interval.data,
        "api_access": bool(form.api_access.data),
        "sub_shops": bool(form.sub_shops.data),
    }
    try:
        data["price"] = parse_money(_text(form.price.data) or "0", currency)
    except ValueError:
        errors["price"] = [_("Write an amount such as 99 or 99.00.")]
    match = _PERCENT.match(_text(form.commission.data) or "0")
    if match is None:
        errors["commission_bps"] = [_("Write a percentage such as 3 or 0.5.")]
    else:
        data["commission_bps"] = int(match.group(1)) * 100 + int(
            (match.group(2) or "0").ljust(2, "0")
        )
    for key in ("trial_days", "grace_days"):
        raw = _text(getattr(form, key).data) or "0"
        if raw.isascii() and raw.isdigit():
            data[key] = int(raw)
        else:
            errors[key] = [_("Write a whole number, 0 or more.")]
    for column in COUNT_LIMITS.values():
        raw = _text(getattr(form, column).data)
        if not raw:
            data[column] = None
        elif raw.isascii() and raw.isdigit() and len(raw) <= 10:
            data[column] = int(raw)
        else:
            errors[column] = [_("Write a whole number, 0 or more, or leave it blank for no limit.")]
    return data, errors


def show_errors(form: PlanForm, errors: dict) -> list[str]:
    """Put each field's errors beside it; those of no field are returned."""
    stray = []
    for key, messages in errors.items():
        target = getattr(form, "commission" if key == "commission_bps" else key, None)
        texts = [str(m) for m in messages]
        if target is None:
            stray.extend(texts)
        else:
            target.errors = list(target.errors or []) + texts
    return stray
