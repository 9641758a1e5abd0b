"""The shop's plan (``/console/plan``): the plan it is on, each limit
beside what the shop uses of it, the other plans on offer side by side, and
moving to one of them. The owner's page (``shop.manage``).

Paying for a plan goes through Stripe Billing (``app.billing.subscriptions``):
with Stripe Checkout on (``BILLING_CHECKOUT``) a plan's button sends the
owner to Checkout and "Manage payment" to Stripe's customer portal; without
it the page takes a card itself and the subscription starts at once. A paid
(or trialing) subscription's limits apply on the next page. Cancelling
moves the shop to the platform's default plan after a confirmation. Each
action calls one service function; a refusal (a declined card, a card
number that cannot be read) is said on the page, with the plan and what
was typed kept (the security code excepted).
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import current_principal, require
from app.billing import limits, plans, subscriptions
from app.billing.subscription_forms import ChangePlanForm, PayDueForm, card_details
from app.core.errors import KamengError
from app.core.money import money_formatter
from app.core.pages import flash_error, only_on
from app.extensions import db

bp = Blueprint("console_plan", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))


@bp.get("/plan")
@require("shop.manage")
def plan():
    return _page()


def _page(
    form: ChangePlanForm | None = None, status: int = 200, pay_form: PayDueForm | None = None
):
    report = limits.plan_report()
    current_id = report.plan.id if report.plan is not None else None
    offered = [p for p in plans.list_plans(active_only=True) if p.id != current_id]
    paid = [p for p in offered if p.price > 0]
    if form is None:
        form = ChangePlanForm(formdata=None).prepare(paid)
    body = render_template(
        "console/billing/plan.html",
        report=report,
        offered=offered,
        counts=plans.COUNT_LIMITS,
        features=plans.FEATURE_LIMITS,
        limit_of=plans.limit_value,
        money=money_formatter(g.shop.currency),
        percent=plans.percent_text,
        payment=subscriptions.payment_state(g.shop.id),
        form=form,
        pay_form=pay_form or PayDueForm(formdata=None).prepare(),
        paid=paid,
        # back from Stripe Checkout: its event, not this address, changes the plan
        confirming=request.args.get("paid") == "1",
    )
    return body, status


def _paid_plans():
    return [p for p in plans.list_plans(active_only=True) if p.price > 0]


@bp.post("/plan/subscribe")
@require("shop.manage")
def subscribe():
    """Move to a paid plan with a card typed on the page."""
    form = ChangePlanForm().prepare(_paid_plans())
    if not form.validate():
        return _refused(form)
    card, errors = card_details(form)
    if card is None:
        for name, messages in errors.items():
            getattr(form, name).errors = messages
        return _refused(form)
    try:
        row = subscriptions.subscribe_with_new_card(
            g.shop.id,
            form.plan.data,
            card,
            email=current_principal().email or "",
            attempt=form.attempt.data or "",
            actor=current_principal().actor,
        )
    except KamengError as err:
        db.session.rollback()
        flash_error(form, err)
        return _refused(form, err.status if err.status < 500 else 422)
    if row.status == "trialing":
        flash(_("Your shop is on %(plan)s, free during its trial.", plan=row.plan.name), "success")
    else:
        flash(_("Your shop is on %(plan)s. Its limits apply now.", plan=row.plan.name), "success")
    return redirect(url_for("console_plan.plan"))


def _refused(form: ChangePlanForm, status: int = 422):
    form.cvc.data = ""
    return _page(form, status)


@bp.post("/plan/pay")
@require("shop.manage")
def pay_due():
    """Pay what is due with a card typed on the page (a past-due shop)."""
    form = PayDueForm().prepare()
    card, errors = card_details(form) if form.validate() else (None, {})
    if card is None:
        for name, messages in errors.items():
            getattr(form, name).errors = messages
        form.cvc.data = ""
        return _page(status=422, pay_form=form)
    try:
        subscriptions.pay_due_with_new_card(
            g.shop.id, card, attempt=form.attempt.data or "", actor=current_principal().actor
        )
    except KamengError as err:
        db.session.rollback()
        flash_error(form, err)
        form.cvc.data = ""
        return _page(status=err.status if err.status < 500 else 422, pay_form=form)
    flash(_("Thank you: your plan is paid and your storefront is open."), "success")
    return redirect(url_for("console_plan.plan"))


@bp.post("/plan/checkout")
@require("shop.manage")
def checkout():
    """Pay for a plan on Stripe Checkout (the production path)."""
    form = ChangePlanForm().prepare(_paid_plans())
    try:
        url = subscriptions.checkout_url(
            g.shop.id,
            request.form.get("plan", ""),
            email=current_principal().email or "",
            success_url=url_for("console_plan.plan", paid=1, _external=True),
            cancel_url=url_for("console_plan.plan", _external=True),
        )
    except KamengError as err:
        db.session.rollback()
        flash_error(form, err)
        return _page(form, err.status if err.status < 500 else 422)
    return redirect(url, code=303)


@bp.post("/plan/portal")
@require("shop.manage")
def portal():
    """Stripe's customer portal: the card, invoices, cancelling."""
    try:
        url = subscriptions.portal_url(g.shop.id, url_for("console_plan.plan", _external=True))
    except KamengError as err:
        flash(err.user_message(), "error")
        return redirect(url_for("console_plan.plan"))
    return redirect(url, code=303)


@bp.post("/plan/cancel")
@require("shop.manage")
def cancel():
    """End the paid subscription now (after the page's confirmation)."""
    try:
        row = subscriptions.cancel(g.shop.id, actor=current_principal().actor)
    except KamengError as err:
        db.session.rollback()
        flash(err.user_message(), "error")
        return redirect(url_for("console_plan.plan"))
    flash(
        _("Your subscription is canceled. Your shop is on %(plan)s.", plan=row.plan.name), "success"
    )
    return redirect(url_for("console_plan.plan"))
