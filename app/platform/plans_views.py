"""The platform's plans in the platform console (``/admin/plans``): every
plan with its price, commission, limits and how many shops are on it; a new
plan; a plan's form; taking a plan off the offer (after a confirmation)
and offering it again. A plan is never deleted: its shops stay on it.

Only platform admins (``platform.admin``); on a shop's host these addresses
do not exist (404). Pages parse the form (``app.billing.forms``), call one
function of ``app.billing.plans`` and render; a refused form is shown again
as it was typed, each problem beside its field.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import current_principal, require
from app.billing import plans
from app.billing.forms import AssignForm, PlanForm, fill_form, plan_data, show_errors
from app.core.errors import KamengError
from app.core.money import money_formatter
from app.core.pages import only_on
from app.extensions import db

bp = Blueprint("platform_plans", __name__, url_prefix="/admin")
bp.before_request(only_on("platform"))


@bp.get("/plans")
@require("platform.admin")
def plans_list():
    """Every plan, cheapest first, with the number of shops on each, and the
    form that puts a shop on one."""
    return _list_page()


def _list_page(assign: AssignForm | None = None, status: int = 200):
    rows = plans.list_plans()
    body = render_template(
        "platform/admin/plans.html",
        rows=rows,
        shops=plans.subscriber_counts(),
        limit_of=plans.limit_value,
        percent=plans.percent_text,
        money=money_formatter("CNY"),
        assign=assign or AssignForm(formdata=None).prepare(rows),
    )
    return body, status


@bp.post("/plans/assign")
@require("platform.admin")
def plan_assign():
    """Put a shop on a plan now (a comp or a migration), on its audit
    record. An unknown shop or plan is said beside its field, the form kept."""
    form = AssignForm().prepare(plans.list_plans())
    try:
        subscription = plans.assign_plan(
            form.shop.data or "", request.form.get("plan", ""), actor=current_principal().actor
        )
    except KamengError as err:
        db.session.rollback()
        field = form.plan if "plan" in (err.errors or {}) else form.shop
        field.errors = [err.user_message()]
        return _list_page(form, err.status)
    flash(
        _(
            "%(shop)s is on the %(plan)s plan now.",
            shop=form.shop.data.strip().lower(),
            plan=subscription.plan.name,
        ),
        "success",
    )
    return redirect(url_for(".plans_list"))


def _form_page(form: PlanForm, plan, stray: list[str], status: int = 200):
    return (
        render_template("platform/admin/plan_form.html", form=form, plan=plan, stray=stray),
        status,
    )


def _save(form: PlanForm, plan=None):
    """Write the form through the service: the saved plan, or the page again
    with every problem beside its field."""
    data, errors = plan_data(form)
    try:
        if errors:  # judge the rest too, so every problem shows at once
            plans.clean_plan({k: v for k, v in data.items() if k not in errors}, plan)
        elif plan is None:
            return plans.create_plan(data), None
        else:
            return plans.update_plan(plan.code, data), None
    except KamengError as err:
        db.session.rollback()
        errors = {**(err.errors or {}), **errors}
        if not err.errors:
            errors.setdefault("_", [err.user_message()])
    return None, _form_page(form, plan, show_errors(form, errors), 422)


@bp.route("/plans/new", methods=["GET", "POST"])
@require("platform.admin")
def plan_new():
    """A new plan (a free monthly plan without limits until told)."""
    form = PlanForm().prepare()
    if form.is_submitted():
        saved, page = _save(form)
        if page is not None:
            return page
        flash(_("Plan %(name)s is on offer.", name=saved.name), "success")
        return redirect(url_for(".plans_list"))
    return _form_page(form, None, [])


@bp.route("/plans/<code>", methods=["GET", "POST"])
@require("platform.admin")
def plan_edit(code: str):
    """A plan's form. A lower limit applies to its shops at once and blocks
    only new use: nothing they have is removed."""
    plan = plans.get_plan(code)
    form = PlanForm().prepare()
    if form.is_submitted():
        saved, page = _save(form, plan)
        if page is not None:
            return page
        flash(_("Plan %(name)s is saved.", name=saved.name), "success")
        return redirect(url_for(".plans_list"))
    fill_form(form, plan)
    return _form_page(form, plan, [])


@bp.post("/plans/<code>/deactivate")
@require("platform.admin")
def plan_deactivate(code: str):
    """Take the plan off the offer (its shops stay on it)."""
    plan = plans.set_plan_active(code, False)
    flash(_("Plan %(name)s is no longer offered; its shops stay on it.", name=plan.name), "success")
    return redirect(url_for(".plans_list"))


@bp.post("/plans/<code>/activate")
@require("platform.admin")
def plan_activate(code: str):
    """Offer the plan again."""
    plan = plans.set_plan_active(code, True)
    flash(_("Plan %(name)s is on offer again.", name=plan.name), "success")
    return redirect(url_for(".plans_list"))
