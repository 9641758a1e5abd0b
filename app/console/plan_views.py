"""The shop's plan (``/console/plan``): the plan it is on, each limit
beside what the shop uses of it, and the other plans on offer side by side.
The owner's page (``shop.manage``). Reads only: plans are changed by the
platform for now (``flask billing assign``, the platform console), so the
page says to contact it rather than offering a button that does nothing.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template

from app.accounts.auth import require
from app.billing import limits, plans
from app.core.money import money_formatter
from app.core.pages import only_on

bp = Blueprint("console_plan", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))


@bp.get("/plan")
@require("shop.manage")
def plan():
    report = limits.plan_report()
    current_id = report.plan.id if report.plan is not None else None
    offered = [p for p in plans.list_plans(active_only=True) if p.id != current_id]
    return render_template(
        "console/billing/plan.html",
        report=report,
        offered=offered,
        counts=plans.COUNT_LIMITS,
        features=plans.FEATURE_LIMITS,
        limit_of=plans.limit_value,
        money=money_formatter(g.shop.currency),
        percent=plans.percent_text,
    )
