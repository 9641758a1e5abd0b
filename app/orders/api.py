"""Orders endpoints: checkout, payment, the buyer's view and look-up, and the
operator's list, exception tickets (异常工单) and actions.

Who may see an order:

- its buyer: the order's lookup token (``?token=`` or ``X-Lookup-Token``),
  or the session of the shop account that placed it;
- the shop's operators (``orders.view``: an API key or a console session);
  codes shown to an operator are recorded in the audit log. Codes and the
  lookup token (with the links that carry it) only for ``orders.codes``:
  the owner, staff the owner granted it, and a staff key whose maker holds
  the grant. Without it the order comes without them and with
  ``codes_withheld: true``.

Anyone else, another shop's caller included, gets 404 as if the order did
not exist. Each endpoint parses, calls one service function and renders its
result; the operator's actions are recorded in the order's history by the
services (who, what, when).
"""

from __future__ import annotations

from flask import g, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.core.errors import NotFound
from app.core.pagination import page_of
from app.orders import checkout, lookups, payment, remedies, tickets, wallet_purchase
from app.orders.limits import limit_create, limit_lookup
from app.orders.lookups import OrderView
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
from app.storefront import sub_shops

blp = Blueprint("orders_api", __name__, description="Orders, payment, delivery and tickets")


@blp.after_request
def _never_stored(response):
    # Answers about orders carry lookup tokens and codes: no cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


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
    "description": "The same caller (signed-in buyer, API key, or guest) with the same key "
    "and body within 24 hours returns the same order (200); with another body it is refused "
    "(422 idempotency-key-reused). Another caller's key never returns this caller's order. "
    "Without signing in the key must be at least 32 random characters (422 "
    "idempotency-key-too-short).",
}


def order_links(at: str = "") -> dict:
    """OpenAPI links from an answer carrying an order (at the JSON pointer
    ``at`` in its body) to what its holder can do next: read it, pay it. The
    lookup token travels with the number, so a client needs nothing else."""
    parameters = {
        "path.number": f"$response.body#{at}/number",
        "query.token": f"$response.body#{at}/lookup_token",
    }
    return {
        "links": {
            "GetOrder": {
                "operationId": "getOrder",
                "parameters": parameters,
                "description": "The order, as its buyer sees it.",
            },
            "PayOrder": {
                "operationId": "payOrder",
                "parameters": parameters,
                "description": "Pay the order.",
            },
        }
    }


ORDER_FIELDS = (
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
    "mailed_at",
)
OPERATOR_FIELDS = ("buyer_id", "payment_ref", "fulfil_attempts", "last_error", "mail_error")


def request_token() -> str | None:
    return request.args.get("token") or request.headers.get("X-Lookup-Token") or None


def render(view: OrderView) -> dict:
    """The read model as the schemas show it (raw values; the schema
    serialises). Decides nothing: what is shown is the view's."""
    order = view.order
    body = {name: getattr(order, name) for name in ORDER_FIELDS}
    body["lines"] = view.lines
    body["coupon"] = (order.quote or {}).get("coupon")
    if view.lookup_token is not None:
        body["lookup_token"] = view.lookup_token
    body["payment_options"] = view.payment_options
    # Buyers see when the order moved; who moved it and how is the shop's.
    body["history"] = (
        view.history
        if view.operator
        else [{"to_status": e.to_status, "created_at": e.created_at} for e in view.history]
    )
    if view.codes is not None:
        body["codes"] = view.codes
    token = view.lookup_token
    body["links"] = {
        "page": url_for("orders_pages.order_page", number=order.number, t=token, _external=True),
        "pay": url_for("orders_pages.pay", number=order.number, t=token, _external=True),
    }
    if view.operator:
        for name in OPERATOR_FIELDS:
            body[name] = getattr(order, name)
        body["tickets"] = [ticket_view(t, order.number) for t in view.tickets]
        body["codes_withheld"] = view.codes_withheld
    return body


def buyer_body(order) -> dict:
    return render(lookups.buyer_view(order, current_principal().shop_account_id))


def operator_body(order, *, show_codes: bool = True) -> dict:
    """The order for an operator: codes and lookup token only when the
    principal holds ``orders.codes``."""
    principal = current_principal()
    view = lookups.operator_view(
        order,
        actor=principal.actor,
        may_see_codes=principal.can("orders.codes"),
        show_codes=show_codes,
    )
    return render(view)


def ticket_view(ticket, number: str | None) -> dict:
    fields = ("id", "reason", "detail", "status", "resolution", "actions", "created_at")
    return {
        **{name: getattr(ticket, name) for name in fields},
        "resolved_at": ticket.resolved_at,
        "order_number": number,
    }


# --- the buyer --------------------------------------------------------------


@blp.route("/orders")
class Orders(MethodView):
    decorators = [limit_create]

    # An instance: given the class, webargs builds the schema (deep-copying
    # its fields) on every request, on the purchase path.
    @blp.arguments(OrderCreate())
    @blp.response(201, OrderSchema)
    @blp.alt_response(200, schema=OrderSchema, description="A replay of the same request.")
    @blp.doc(
        parameters=[IDEMPOTENCY_PARAM],
        security=[{}, {"apiKey": []}],
        responses={201: order_links(), 200: order_links()},
    )
    def post(self, data):
        """Place an order (guest or signed-in buyer) and reserve its stock.

        Answers with the order number, the total, its lookup token, when the
        unpaid order expires (a few minutes; starting a payment extends
        it) and how it can be paid. Sold out: 409 ``out-of-stock``; too
        many unpaid orders for this buyer, email or client address: 409
        ``too-many-unpaid-orders``; quantity or a product input wrong: 422
        with field errors; a ``coupon`` that cannot be used: 422
        ``coupon-not-applicable`` with its ``reason``. The price is the
        caller's (a signed-in agent's tier price, a sale, the coupon, a
        first-order discount); ``lines`` say how the total is made.
        Rate-limited per client address (429), except for API keys.

        With ``"pay": "wallet"`` (a signed-in buyer, or an agent's own API
        key) the order is also paid from the balance and delivered, in one
        request and one transaction: 201 with ``status: delivered`` and the
        ``codes``; 402 ``insufficient-funds`` or 409 ``out-of-stock`` keep
        nothing."""
        principal = current_principal()
        key = (request.headers.get("Idempotency-Key") or "").strip() or None
        sub_shop = sub_shops.open_sub_shop(data["sub_shop"]) if data["sub_shop"] else None
        arguments = dict(
            product_id=data["product_id"],
            quantity=data["quantity"],
            email=data["email"],
            inputs=data["inputs"],
            buyer_id=principal.shop_account_id,
            idempotency_key=key[:120] if key else None,
            actor=principal.actor,
            currency=g.shop.currency,
            caller=checkout.Caller.of(principal, request.remote_addr),
            coupon=data["coupon"],
            sub_shop_id=sub_shop.id if sub_shop else None,
        )
        if data["pay"]:
            bought = wallet_purchase.buy_with_wallet(**arguments)
            if bought.codes is not None:
                body = render(lookups.purchase_view(bought.order, bought.history, bought.codes))
            else:
                body = buyer_body(bought.order)
            return body, 201 if bought.created else 200
        order, created = checkout.create_order(**arguments)
        return buyer_body(order), 201 if created else 200

    @require("orders.view")
    @blp.arguments(OrderQuery, location="query")
    @blp.response(200, OrderPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The shop's orders, newest first (operators)."""
        rows, total = lookups.list_orders(
            status=args.get("status"),
            email=args.get("email"),
            page=args["page"],
            per_page=args["per_page"],
        )
        return page_of(rows, total, args)


@blp.route("/orders/lookup")
class OrderLookup(MethodView):
    decorators = [limit_lookup]

    @blp.arguments(LookupRequest)
    @blp.response(200, OrderSchema)
    @blp.doc(responses={200: order_links()})
    def post(self, data):
        """Find an order by the email it was placed with and its number (查单).

        Answers with the order and its lookup token; 404 when the two do not
        match. Rate-limited per client address."""
        order = lookups.order_by_email(data["email"], data["number"])
        return buyer_body(order)


@blp.route("/orders/<number>")
class OrderItem(MethodView):
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(parameters=TOKEN_PARAMS, security=[{}, {"apiKey": []}], operationId="getOrder")
    def get(self, number):
        """One order: status, totals, history and, once delivered, the codes.

        For its buyer (lookup token or session) or the shop's operators
        (the codes they see are recorded in the audit log). An operator
        without ``orders.codes`` (staff the owner has not granted it, and
        their keys) gets the order without ``codes`` and ``lookup_token``,
        with ``codes_withheld: true``."""
        principal = current_principal()
        try:
            order = lookups.order_for_buyer(
                number, token=request_token(), buyer_id=principal.shop_account_id
            )
        except NotFound:
            # The buyer's own access wins (no audit record for them).
            if not principal.can("orders.view"):
                raise
            return operator_body(lookups.get_order(number))
        return buyer_body(order)


@blp.route("/orders/<number>/pay")
class OrderPay(MethodView):
    @blp.arguments(PayRequest)
    @blp.response(200, PaymentResultSchema)
    @blp.doc(
        parameters=TOKEN_PARAMS, operationId="payOrder", responses={200: order_links("/order")}
    )
    def post(self, data, number):
        """Pay an order (its buyer: lookup token or session).

        ``sandbox`` (development) and ``wallet`` (the signed-in buyer's
        balance) complete at once: the order is paid and its delivery
        queued. ``stripe`` answers with the PaymentIntent's
        ``client_secret`` for Stripe.js; its webhook confirms the payment."""
        principal = current_principal()
        order = lookups.order_for_buyer(
            number, token=request_token(), buyer_id=principal.shop_account_id
        )
        order_id = order.id  # read before paying commits (and expires) the order
        result = payment.pay_order(
            order, data["provider"], buyer_id=principal.shop_account_id, actor=principal.actor
        )
        return {
            "provider": result.provider,
            "status": result.status,
            "payment_id": result.payment_id,
            **result.details,
            "order": buyer_body(lookups.get_order_by_id(order_id)),
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
        status = None if args["status"] == "all" else args["status"]
        return {"items": [ticket_view(t, n) for t, n in tickets.tickets_with_numbers(status)]}


@blp.route("/orders/<number>/retry")
class OrderRetry(MethodView):
    @require("orders.manage")
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(security=SECURED)
    def post(self, number):
        """Try delivering a failed order again (409 ``out-of-stock`` while the
        shop still lacks the codes)."""
        order = lookups.get_order(number)
        remedies.retry(order.id, current_principal().actor)
        return operator_body(lookups.get_order_by_id(order.id), show_codes=False)


@blp.route("/orders/<number>/switch-source")
class OrderSwitchSource(MethodView):
    @require("orders.manage")
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(security=SECURED)
    def post(self, number):
        """A failed order whose source stayed silent (ticket ``supply_silent``):
        stop waiting on that source and buy from the next one (409 when no
        source holds the order's purchase). The silent source may still
        deliver later."""
        order = lookups.get_order(number)
        remedies.switch_source(order.id, current_principal().actor)
        return operator_body(lookups.get_order_by_id(order.id), show_codes=False)


@blp.route("/orders/<number>/deliver")
class OrderDeliver(MethodView):
    @require("orders.manage")
    @blp.arguments(DeliverRequest)
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(security=SECURED)
    def post(self, data, number):
        """Deliver by hand: a manual item, or a paid order that failed. The
        content reaches the buyer like codes do (page and email)."""
        order = lookups.get_order(number)
        delivered = remedies.deliver_manually(order.id, data["content"], current_principal().actor)
        return operator_body(delivered, show_codes=False)


@blp.route("/orders/<number>/refund")
class OrderRefund(MethodView):
    @require("orders.manage")
    @blp.arguments(RefundRequest)
    @blp.response(200, OperatorOrderSchema)
    @blp.doc(security=SECURED)
    def post(self, data, number):
        """Refund a paid order to the buyer's wallet or the original payment.
        Undelivered codes return to stock; delivered ones are voided."""
        order = lookups.get_order(number)
        refunded = remedies.refund(order.id, to=data["to"], actor=current_principal().actor)
        return operator_body(refunded, show_codes=False)
