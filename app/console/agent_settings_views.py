"""The console's agent settings (代理设置, ``/console/agent-settings``): how
many upline levels earn commission and how long it waits before it
settles, the first-order discount, the smallest withdrawal and its fee.

``agents.view`` (owner and staff) reads them, ``agents.manage`` (the owner)
saves them through ``app.settings.agent_settings`` (the API's service),
on the audit record. A refused form is shown again as it was typed, with a
message at each field.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import authorize, current_principal, require
from app.core.errors import KamengError
from app.core.pages import only_on
from app.extensions import db
from app.pricing.forms import show_refusal
from app.settings import agent_settings as agent_service
from app.settings.agent_forms import AgentSettingsForm, settings_data, settings_values

bp = Blueprint("console_agent_settings", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))


@bp.route("/agent-settings", methods=["GET", "POST"])
@require("agents.view")
def agent_settings():
    """The shop's agent settings; POST saves them (``agents.manage``)."""
    currency = g.shop.currency
    status = 200
    if request.method == "GET":
        form = AgentSettingsForm(data=settings_values(agent_service.agent_settings(), currency))
    else:
        authorize(current_principal(), "agents.manage")
        form = AgentSettingsForm()
        data, read = settings_data(form, currency)
        saved, err = None, None
        try:
            if read:
                agent_service.check_agent_settings(data)
            else:
                saved = agent_service.save_agent_settings(data, actor=current_principal().actor)
        except KamengError as refused:
            db.session.rollback()
            err = refused
        if saved is not None:
            flash(
                _("Agent settings saved.") if saved.changed else _("Nothing was changed."),
                "success",
            )
            return redirect(url_for(".agent_settings"))
        show_refusal(form, read, err, field_of={"withdraw_fee_bps": "withdraw_fee"})
        if err is not None and "withdraw_fee_bps" in err.errors and "withdraw_fee" not in read:
            form.withdraw_fee.errors = [_("From 0 to 50 percent.")]
        status = 422
    return render_template(
        "console/pricing/agent_settings.html", form=form.prepare(), currency=currency
    ), status
