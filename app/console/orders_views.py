"""The operator console's orders (``/console/orders``): the list, one
order with its history, exception tickets (异常工单) and the actions on them
(retry, deliver by hand, refund). Codes are shown only on request, and each
showing is recorded in the audit log; only to ``orders.codes`` (the owner,
and staff the owner granted it on the Members page). Anyone else sees that
the codes are hidden and who can grant access, and the request is refused.

Pages parse the form, call one service and redirect with a message; the
services record every action in the order's history.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import current_principal, require
from app.catalog.stock import OutOfStock
from app.core.errors import KamengError
from app.core.money import money_formatter
from app.core.pages import only_on
from app.extensions import db
from app.orders import lookups, remedies
from app.orders import tickets as order_tickets
from app.orders.models import ORDER_STATUSES

bp = Blueprint("console_orders", __name__, url_prefix="/console/orders")
bp.before_request(only_on("shop"))

PER_PAGE = 50


@bp.get("/")
@require("orders.view")
def orders():
    status = request.args.get("status") or None
    if status not in ORDER_STATUSES:
        status = None
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = lookups.list_orders(
        status=status, email=request.args.get("email") or None, page=page, per_page=PER_PAGE
    )
    return render_template(
        "console/orders.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        status=status,
        statuses=ORDER_STATUSES,
        open_tickets=order_tickets.open_ticket_count(),
        money=money_formatter(g.shop.currency),
    )


@bp.get("/tickets")
@require("orders.view")
def tickets():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = order_tickets.tickets_page("open", page=page, per_page=PER_PAGE)
    return render_template(
        "console/orders_tickets.html",
        rows=[t for t, _n in rows],
        numbers={t.order_id: n for t, n in rows},
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
    )


@bp.get("/<number>")
@require("orders.view")
def order(number: str):
    view = lookups.operator_view(
        lookups.get_order(number),
        actor="",
        may_see_codes=current_principal().can("orders.codes"),
        show_codes=False,
    )
    return _detail(view)


@bp.post("/<number>/codes")
@require("orders.codes")
def reveal(number: str):
    """Show the order's codes to the operator, on the audit record."""
    view = lookups.operator_view(
        lookups.get_order(number), actor=current_principal().actor, may_see_codes=True
    )
    return _detail(view)


def _detail(view: lookups.OrderView):
    return render_template(
        "console/orders_detail.html",
        order=view.order,
        history=view.history,
        tickets=view.tickets,
        codes=view.codes,
        codes_withheld=view.codes_withheld,
        money=money_formatter(g.shop.currency),
    )


def _act(number: str, action, done_message: str):
    found = lookups.get_order(number)
    try:
        action(found.id, current_principal().actor)
    except OutOfStock:
        db.session.rollback()
        flash(_("Still not enough codes in stock. Import more, then retry."), "error")
    except KamengError as err:
        db.session.rollback()
        flash(_("Not done: %(reason)s", reason=err.user_message()), "error")
    else:
        flash(done_message, "success")
    return redirect(url_for(".order", number=found.number))


@bp.post("/<number>/retry")
@require("orders.manage")
def retry(number: str):
    return _act(number, remedies.retry, _("Delivery tried again."))


@bp.post("/<number>/deliver")
@require("orders.manage")
def deliver(number: str):
    content = request.form.get("content", "")
    return _act(
        number,
        lambda order_id, actor: remedies.deliver_manually(order_id, content, actor),
        _("Delivered by hand. The buyer sees it on the order page and by email."),
    )


@bp.post("/<number>/refund")
@require("orders.manage")
def refund(number: str):
    to = request.form.get("to", "")
    return _act(
        number,
        lambda order_id, actor: remedies.refund(order_id, to=to, actor=actor),
        _("Refunded."),
    )
