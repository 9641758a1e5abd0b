"""The operator console's orders (``/console/orders``): the list, one
order with its history, exception tickets (异常工单) and the actions on them
(retry, deliver by hand, refund). Codes are shown only on request, and each
showing is recorded in the audit log.

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
from app.orders import services
from app.orders.api import actor_of
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
    rows, total = services.list_orders(
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
        open_tickets=len(services.list_tickets("open")),
        money=money_formatter(g.shop.currency),
    )


@bp.get("/tickets")
@require("orders.view")
def tickets():
    rows = services.list_tickets("open")
    numbers = services.order_numbers([t.order_id for t in rows])
    return render_template("console/orders_tickets.html", rows=rows, numbers=numbers)


@bp.get("/<number>")
@require("orders.view")
def order(number: str):
    return _detail_page(services.get_order(number))


@bp.post("/<number>/codes")
@require("orders.view")
def reveal(number: str):
    """Show the order's codes to the operator, on the audit record."""
    found = services.get_order(number)
    return _detail_page(found, services.codes_for_operator(found, actor_of(current_principal())))


def _detail_page(found, codes=None):
    """The order's page; ``codes`` only right after an audited reveal."""
    return render_template(
        "console/orders_detail.html",
        order=found,
        history=services.order_events(found.id),
        tickets=services.order_tickets(found.id),
        codes=codes,
        money=money_formatter(g.shop.currency),
    )


def _act(number: str, action, done_message: str):
    found = services.get_order(number)
    try:
        action(found.id, actor_of(current_principal()))
    except OutOfStock:
        db.session.rollback()
        flash(_("Still not enough codes in stock. Import more, then retry."), "error")
    except KamengError as err:
        db.session.rollback()
        flash(_("Not done: %(reason)s", reason=err.detail), "error")
    else:
        flash(done_message, "success")
    return redirect(url_for(".order", number=found.number))


@bp.post("/<number>/retry")
@require("orders.manage")
def retry(number: str):
    return _act(number, services.retry, _("Delivery tried again."))


@bp.post("/<number>/deliver")
@require("orders.manage")
def deliver(number: str):
    content = request.form.get("content", "")
    return _act(
        number,
        lambda order_id, actor: services.deliver_manually(order_id, content, actor),
        _("Delivered by hand. The buyer sees it on the order page and by email."),
    )


@bp.post("/<number>/refund")
@require("orders.manage")
def refund(number: str):
    to = request.form.get("to", "")
    return _act(
        number,
        lambda order_id, actor: services.refund(order_id, to=to, actor=actor),
        _("Refunded."),
    )
