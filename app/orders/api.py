"""Orders endpoints: checkout, payment, the buyer's view and look-up, and the
operator's list, exception tickets (异常工单) and actions.

Who may see an order:

- its buyer: the order's lookup token (``?token=`` or ``X-Lookup-Token``),
  or the session of the shop account that placed it;
- the shop's operators (``orders.view``: an API key or a console session);
  codes shown to an operator are recorded in the audit log.

Anyone else, another shop's caller included, gets 404 as if the order did
not exist. Each endpoint parses, calls one service function and renders its
result; the operator's actions are recorded in the order's history by the
services (who, what, when).
"""

from __future__ import annotations

from flask import current_app, g, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.accounts.permissions import Principal
from app.core.errors import NotFound
from app.extensions import limiter
from app.orders import services
from app.orders.models import CANCELLED, EXPIRED, PENDING, Order
from app.orders.schemas import (
    DeliverRequest,
    LookupRequest,
    OperatorOrderSchema,
    OrderCreate,
    OrderPage,
    OrderQuery,
    OrderSchema,
    PaymentResultSchema,
    PayRequest,
    RefundRequest,
    TicketList,
    TicketQuery,
)
from app.payments import providers

blp = Blueprint("orders_api", __name__, description="Orders, payment, delivery and tickets")
SECURED = [{"apiKey": []}]
TOKEN_PARAMS = [
    {
        "in": "query",
        "name": "token",
        "schema": {"type": "string"},
        "description": "The order's lookup token (or send it as X-Lookup-Token).",
    },
    {"in": "header", "name": "X-Lookup-Token", "schema": {"type": "string"}, "required": False},
]
IDEMPOTENCY_PARAM = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": 120},
    "description": "The same key with the same body returns the same order (200); "
    "with another body it is refused (422 idempotency-key-reused).",
}


def lookup_rate_limit() -> str:
    return current_app.config.get("ORDER_LOOKUP_RATE_LIMIT", "10 per minute")


def lookup_limit_key() -> str:
    # Per client address and per shop (not per Host header, which the client
    # chooses): the API and the look-up page share one budget.
    return f"{request.remote_addr or '-'}|{g.shop.id if g.get('shop') else '-'}"


#: Order look-up by email and number: guessing is slowed to a crawl.
limit_lookup = limiter.shared_limit(
    lookup_rate_limit, scope="order-lookup", key_func=lookup_limit_key, methods=["POST"]
)


def actor_of(principal: Principal) -> str:
    """How the order history names who acted."""
    if principal.kind == "api_key":
        return f"api key {principal.id}"
    if principal.kind == "platform_user":
        return f"operator {principal.email}"
    if principal.kind == "shop_account":
        return f"buyer {principal.email}"
    return "guest"


def buyer_id_of(principal: Principal):
    return principal.id if principal.kind == "shop_account" else None


def request_token() -> str | None:
    return request.args.get("token") or request.headers.get("X-Lookup-Token") or None


def present(order: Order, *, operator: bool = False, codes: list[dict] | None = None) -> dict:
    """The order as the schemas show it (raw values; the schema serialises)."""
    token = services.lookup_token(order.id)
    buyer_id = buyer_id_of(current_principal())
    body = {
        name: getattr(order, name)
        for name in (
            "number",
            "status",
            "product_id",
            "product_name",
            "product_kind",
            "quantity",
            "unit_price",
            "total",
            "currency",
            "email",
            "inputs",
            "payment_provider",
            "created_at",
            "expires_at",
            "paid_at",
            "delivered_at",
        )
    }
    body["lines"] = (order.quote or {}).get("lines", [])
    body["lookup_token"] = token
    body["payment_options"] = (
        services.payment_options(order, buyer_id) if order.status == PENDING else []
    )
    events = services.order_events(order.id)
    # Buyers see when the order moved; who moved it and how is the shop's.
    body["history"] = (
        events
        if operator
        else [{"to_status": e.to_status, "created_at": e.created_at} for e in events]
    )
    if codes is None and order.status not in (PENDING, EXPIRED, CANCELLED) and not operator:
        codes = services.delivered_codes(order)
    if codes is not None:
        body["codes"] = codes
    body["links"] = {
        "page": url_for("orders_pages.order_page", number=order.number, t=token, _external=True),
        "pay": url_for("orders_pages.pay", number=order.number, t=token, _external=True),
    }
    if operator:
        for name in ("buyer_id", "payment_ref", "fulfil_attempts", "last_error"):
            body[name] = getattr(order, name)
        body["tickets"] = [ticket_view(t, order.number) for t in services.order_tickets(order.id)]
    return body


def ticket_view(ticket, number: str | None) -> dict:
    fields = ("id", "reason", "detail", "status", "resolution", "actions", "created_at")
    return {
        **{name: getattr(ticket, name) for name in fields},
        "resolved_at": ticket.resolved_at,
        "order_number": number,
    }


def order_for_caller(number: str) -> tuple[Order, bool]:
    """The order if the caller may see it, and whether they see it as an
    operator. The buyer's own access wins (no audit record for them)."""
    principal = current_principal()
    try:
        order = services.order_for_buyer(
            number, token=request_token(), buyer_id=buyer_id_of(principal)
        )
        return order, False
    except NotFound:
        if not principal.can("orders.view"):
            raise
    return services.get_order(number), True


def operator_view(order: Order, *, show_codes: bool = True) -> dict:
    codes = None
    if show_codes and order.status not in (PENDING, EXPIRED, CANCELLED):
        codes = services.codes_for_operator(order, actor_of(current_principal()))
    return present(order, operator=True, codes=codes)


# --- the buyer --------------------------------------------------------------


@blp.route("/orders")
class Orders(MethodView):
    @blp.arguments(OrderCreate)
    @blp.response(201, OrderSchema)
    @blp.alt_response(200, schema=OrderSchema, description="A replay of the same request.")
    @blp.doc(parameters=[IDEMPOTENCY_PARAM], security=[{}, {"apiKey": []}])
    def post(self, data):
        """Place an order (guest or signed-in buyer) and reserve its stock.

        Answers with the order number, the total, its lookup token, when the
        unpaid order expires and how it can be paid. Sold out: 409
        ``out-of-stock``; quantity or a product input wrong: 422 with field
        errors."""
        principal = current_principal()
        key = (request.headers.get("Idempotency-Key") or "").strip() or None
        order, created = services.create_order(
            product_id=data["product_id"],
            quantity=data["quantity"],
            email=data["email"],
            inputs=data["inputs"],
            buyer_id=buyer_id_of(principal),
            idempotency_key=key[:120] if key else None,
            actor=actor_of(principal),
            currency=g.shop.currency,
        )
        return present(order), 201 if created else 200

    @require("orders.view")
    @blp.arguments(OrderQuery, location="query")
    @blp.response(200, OrderPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The shop's orders, newest first (operators)."""
        rows, total = services.list_orders(
            status=args.get("status"),
            email=args.get("email"),
            page=args["page"],
            per_page=args["per_page"],
        )
        return {"items": rows, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/orders/lookup")
class OrderLookup(MethodView):
    decorators = [limit_lookup]

    @blp.arguments(LookupRequest)
    @blp.response(200, OrderSchema)
    def post(self, data):
        """Find an order by the email it was placed with and its number (查单).

        Answers with the order and its lookup token; 404 when the two do not
        match. Rate-limited per client address."""
        order = services.order_by_email(data["email"], data["number"])
        return present(order)


@blp.route("/orders/<number>")
class OrderItem(MethodView):
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(parameters=TOKEN_PARAMS, security=[{}, {"apiKey": []}])
    def get(self, number):
        """One order: status, totals, history and, once delivered, the codes.

        For its buyer (lookup token or session) or the shop's operators
        (the codes they see are recorded in the audit log)."""
        order, operator = order_for_caller(number)
        return operator_view(order) if operator else present(order)


@blp.route("/orders/<number>/pay")
class OrderPay(MethodView):
    @blp.arguments(PayRequest)
    @blp.response(200, PaymentResultSchema)
    @blp.doc(parameters=TOKEN_PARAMS)
    def post(self, data, number):
        """Pay an order (its buyer: lookup token or session).

        ``sandbox`` (development) and ``wallet`` (the signed-in buyer's
        balance) complete at once: the order is paid and its delivery
        queued. ``stripe`` answers with the PaymentIntent's
        ``client_secret`` for Stripe.js; its webhook confirms the payment."""
        principal = current_principal()
        order = services.order_for_buyer(
            number, token=request_token(), buyer_id=buyer_id_of(principal)
        )
        order_id = order.id  # read before paying commits (and expires) the order
        result = providers.start(
            order, data["provider"], buyer_id=buyer_id_of(principal), actor=actor_of(principal)
        )
        return {
            "provider": result.provider,
            "status": result.status,
            "payment_id": result.payment_id,
            **result.details,
            "order": present(services.get_order_by_id(order_id)),
        }


# --- the operator -----------------------------------------------------------


@blp.route("/tickets")
class Tickets(MethodView):
    @require("orders.view")
    @blp.arguments(TicketQuery, location="query")
    @blp.response(200, TicketList)
    @blp.doc(security=SECURED)
    def get(self, args):
        """Exception tickets (异常工单): orders the system could not finish."""
        tickets = services.list_tickets(None if args["status"] == "all" else args["status"])
        numbers = services.order_numbers([t.order_id for t in tickets])
        return {"items": [ticket_view(t, numbers.get(t.order_id)) for t in tickets]}


@blp.route("/orders/<number>/retry")
class OrderRetry(MethodView):
    @require("orders.manage")
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(security=SECURED)
    def post(self, number):
        """Try delivering a failed order again (409 ``out-of-stock`` while the
        shop still lacks the codes)."""
        order = services.get_order(number)
        services.retry(order.id, actor_of(current_principal()))
        return operator_view(services.get_order_by_id(order.id), show_codes=False)


@blp.route("/orders/<number>/deliver")
class OrderDeliver(MethodView):
    @require("orders.manage")
    @blp.arguments(DeliverRequest)
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(security=SECURED)
    def post(self, data, number):
        """Deliver by hand: a manual item, or a paid order that failed. The
        content reaches the buyer like codes do (page and email)."""
        order = services.get_order(number)
        delivered = services.deliver_manually(
            order.id, data["content"], actor_of(current_principal())
        )
        return operator_view(delivered, show_codes=False)


@blp.route("/orders/<number>/refund")
class OrderRefund(MethodView):
    @require("orders.manage")
    @blp.arguments(RefundRequest)
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(security=SECURED)
    def post(self, data, number):
        """Refund a paid order to the buyer's wallet or the original payment.
        Undelivered codes return to stock; delivered ones are voided."""
        order = services.get_order(number)
        refunded = services.refund(order.id, to=data["to"], actor=actor_of(current_principal()))
        return operator_view(refunded, show_codes=False)
