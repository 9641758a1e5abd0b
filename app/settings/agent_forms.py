"""The console's agent settings form, and the step from what the owner
typed (a minimum as ``10.00``, a fee as a percent like ``1.5``) to the
values ``app.settings.agent_settings`` takes (minor units, basis points).
What could not be read is said per field in the reader's language; the
service judges the rest, and a refused form is shown as it was typed."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField

from app.core.money import decimal_text, parse_money

#: a percent with at most two decimals: 1.5 % is 150 basis points
_PERCENT = re.compile(r"(\d{1,3})(?:\.(\d{1,2}))?")


class AgentSettingsForm(FlaskForm):
    agent_depth = SelectField(_l("Levels of uplines that earn"), choices=[], validate_choice=False)
    commission_hold_days = StringField(_l("Days before commission settles"))
    first_order_percent = StringField(_l("First-order discount (%)"))
    withdraw_min = StringField(_l("Smallest withdrawal"))
    withdraw_fee = StringField(_l("Withdrawal fee (%)"))

    def prepare(self) -> AgentSettingsForm:
        self.agent_depth.choices = [
            ("0", _("None: no commission")),
            ("1", _("1 level")),
            ("2", _("2 levels")),
            ("3", _("3 levels")),
        ]
        return self


def basis_points_text(bps: int) -> str:
    """150 → ``"1.5"``: basis points as the percent a person types."""
    whole, part = divmod(bps, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") if part else str(whole)


def settings_values(settings: dict, currency: str) -> dict:
    """The agent settings as the form shows them (money and a percent as typed)."""
    return {
        "agent_depth": str(settings["agent_depth"]),
        "commission_hold_days": str(settings["commission_hold_days"]),
        "first_order_percent": str(settings["first_order_percent"]),
        "withdraw_min": decimal_text(settings["withdraw_min"], currency),
        "withdraw_fee": basis_points_text(settings["withdraw_fee_bps"]),
    }


def settings_data(form: AgentSettingsForm, currency: str) -> tuple[dict, dict]:
    """The service's settings from the form, and what could not be read (by
    the form's field names)."""
    data: dict = {}
    errors: dict[str, list[str]] = {}
    for key in ("agent_depth", "commission_hold_days", "first_order_percent"):
        text = unicodedata.normalize("NFKC", getattr(form, key).data or "").strip()
        if text.isascii() and text.isdigit() and len(text) < 10:
            data[key] = int(text)
        else:
            errors[key] = [_("Write a whole number, like 10.")]
    try:
        data["withdraw_min"] = parse_money(form.withdraw_min.data or "", currency)
    except ValueError:
        errors["withdraw_min"] = [
            _("Write an amount like %(example)s.", example=decimal_text(1250, currency))
        ]
    fee = unicodedata.normalize("NFKC", form.withdraw_fee.data or "").strip().removesuffix("%")
    match = _PERCENT.fullmatch(fee.strip())
    if match:
        data["withdraw_fee_bps"] = int(match[1]) * 100 + int((match[2] or "").ljust(2, "0"))
    else:
        errors["withdraw_fee"] = [_("Write a percent with at most two decimals, like 1.5.")]
    return data, errors
