"""The operator console's orders (``/console/orders``): the list (filters
by status, product and days in the shop's time zone, a search by order
number or buyer email, paged in the database, and its CSV export), one
order with its history in people's words, exception tickets (异常工单) and
the actions on them (retry, deliver by hand, refund; a refund asks first). Codes are shown only on request, and each
showing is recorded in the audit log; only to ``orders.codes`` (the owner,
and staff the owner granted it on the Members page). Anyone else sees that
the codes are hidden and who can grant access, and the request is refused.

Pages parse the form, call one service and redirect with a message; the
services record every action in the order's history.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from app.accounts.actors import provider_name
from app.accounts.auth import current_principal, require
from app.audit import services as audit
from app.catalog.stock import OutOfStock
from app.core.errors import KamengError
from app.core.ids import parse_uuid
from app.core.money import money_formatter
from app.core.pages import TypedFilters, only_on, typed_day_span
from app.extensions import db
from app.orders import history, lookups, order_csv, remedies
from app.orders import tickets as order_tickets
from app.orders.models import ORDER_STATUSES
from app.payments.registry import pays_from_wallet
from tenants.context import tenant_context

bp = Blueprint("console_orders", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PER_PAGE = 50


def read_filters(args) -> TypedFilters:
    """The list's filters from the query string: ``q`` (an order number,
    spaces ignored, or a buyer's email or part of one), ``status``,
    ``product`` (part of its name, or its id) and the days ``start`` to
    ``end`` (``YYYY-MM-DD``, both included, in the shop's time zone). A
    filter that cannot be read gets a message and no rows are listed."""
    typed = {
        key: (args.get(key) or "").strip()[:254]
        for key in ("q", "status", "product", "start", "end")
    }
    errors = {}
    status = typed["status"] if typed["status"] in ORDER_STATUSES else None
    if typed["status"] and status is None:
        typed["status"] = ""
    placed_from, placed_before = typed_day_span(typed, errors)
    if errors:
        return TypedFilters(typed, None, errors)
    product_id = parse_uuid(typed["product"]) if typed["product"] else None
    return TypedFilters(
        typed,
        lookups.OrderFilter(
            status=status,
            product_id=product_id,
            product_part=typed["product"] if typed["product"] and product_id is None else None,
            placed_from=placed_from,
            placed_before=placed_before,
            **lookups.search_terms(typed["q"]),
        ),
    )


@bp.get("/orders")
@require("orders.view")
def orders():
    chosen = read_filters(request.args)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = (
        lookups.list_orders(filters=chosen.wanted, page=page, per_page=PER_PAGE)
        if chosen.wanted is not None
        else ([], 0)
    )
    return render_template(
        "console/orders.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        typed=chosen.typed,
        errors=chosen.errors,
        filtered=bool(chosen.link_args()),
        link_args=chosen.link_args(),
        statuses=ORDER_STATUSES,
        open_tickets=order_tickets.open_ticket_count(),
        money=money_formatter(g.shop.currency),
    )


@bp.get("/orders/export.csv")
@require("orders.view")
def export():
    """The filtered list as CSV (UTF-8 with a byte-order mark, so spreadsheet
    programs read Chinese right), streamed as it is read: every matching
    order, newest first, with translated column names, times in the shop's
    time zone and plain amounts (12.50). Recorded in the audit log, since it
    carries buyers' emails. Unreadable filters go back to the list, which
    says what is wrong."""
    chosen = read_filters(request.args)
    if chosen.wanted is None:
        return redirect(url_for(".orders", **chosen.link_args()))
    audit.record(current_principal().actor, "orders.exported", "orders", filters=chosen.link_args())
    db.session.commit()
    name = f"orders-{g.shop.slug}-{datetime.now(UTC):%Y%m%d-%H%M}.csv"
    shop_id = g.shop.id

    def lines():
        # The body is written after the view returns, when the request's
        # tenant is no longer current: the shop is entered again here.
        with tenant_context(shop_id):
            yield from order_csv.rows_as_csv(lookups.iter_orders(chosen.wanted))

    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
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


@bp.get("/orders/<number>")
@require("orders.view")
def order(number: str):
    view = lookups.operator_view(
        lookups.get_order(number),
        actor="",
        may_see_codes=current_principal().can("orders.codes"),
        show_codes=False,
    )
    return _detail(view)


@bp.post("/orders/<number>/codes")
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
        history=history.describe_history(view.history),
        payment=provider_name(view.order.payment_provider),
        payment_ref_shown=not pays_from_wallet(view.order.payment_provider),
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


@bp.post("/orders/<number>/retry")
@require("orders.manage")
def retry(number: str):
    return _act(number, remedies.retry, _("Delivery tried again."))


@bp.post("/orders/<number>/switch-source")
@require("orders.manage")
def switch_source(number: str):
    return _act(number, remedies.switch_source, _("Buying from the next source."))


@bp.post("/orders/<number>/deliver")
@require("orders.manage")
def deliver(number: str):
    content = request.form.get("content", "")
    return _act(
        number,
        lambda order_id, actor: remedies.deliver_manually(order_id, content, actor),
        _("Delivered by hand. The buyer sees it on the order page and by email."),
    )


@bp.post("/orders/<number>/refund")
@require("orders.manage")
def refund(number: str):
    to = request.form.get("to", "")
    return _act(
        number,
        lambda order_id, actor: remedies.refund(order_id, to=to, actor=actor),
        _("Refunded."),
    )
