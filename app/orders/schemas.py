"""Marshmallow schemas of the orders API.

Requests are checked for shape here (types, required fields, unknown fields
refused); every rule about values (quantity limits, the product's inputs,
stock) belongs to ``app.orders.checkout`` and comes back as field errors.

An order is shown in two ways: ``OrderSchema`` to its buyer (lookup token or
session), and ``OperatorOrderSchema`` to the shop's operators, which adds
who did what (event actors and notes), the payment reference and tickets,
and leaves out the codes and lookup token for an operator without
``orders.codes``.
Money is integer minor units of ``currency``.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.core.pagination import PageArgs, PageSchema
from app.orders.lookups import MAX_TYPED_NUMBER
from app.orders.models import ORDER_STATUSES
from app.orders.remedies import REFUND_TARGETS
from app.payments import registry
from app.pricing.coupons import MAX_CODE
from app.pricing.quote import (
    LINE_COUPON,
    LINE_FIRST_ORDER,
    LINE_ITEMS,
    LINE_QUANTITY,
    LINE_SALE,
    LINE_SUB_SHOP,
    LINE_TIER,
)

LINE_KINDS = (
    LINE_ITEMS,
    LINE_TIER,
    LINE_QUANTITY,
    LINE_SALE,
    LINE_SUB_SHOP,
    LINE_COUPON,
    LINE_FIRST_ORDER,
)

PROVIDERS = registry.NAMES
#: providers that pay from the buyer's balance: a purchase may be paid as it is made
WALLET_PROVIDERS = [a.name for a in registry.ADAPTERS.values() if a.pays_from_wallet]


class OrderCreate(Schema):
    product_id = fields.UUID(required=True)
    quantity = fields.Integer(
        required=True, strict=True, metadata={"description": "Within the product's limits."}
    )
    email = fields.String(
        required=True,
        validate=validate.Length(min=3, max=254),
        metadata={"description": "Where the codes are sent; used for order look-up."},
    )
    inputs = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "Answers to the product's input fields (a top-up's account)."},
    )
    coupon = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_CODE),
        metadata={
            "description": "A coupon code of this shop, any case. One that cannot be used "
            "for this order is refused: 422 coupon-not-applicable, with the `reason` "
            "(unknown, inactive, not_started, expired, used_up, used_by_you, scope, "
            "min_spend; `min_spend` also gives the amount)."
        },
    )
    sub_shop = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=24),
        metadata={
            "description": "The code of the sub-shop (分站) the order is placed in: its "
            "prices, and the order is recorded as its sale (404 when no such sub-shop is open)."
        },
    )
    pay = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(WALLET_PROVIDERS),
        metadata={
            "description": "`wallet`: pay from the signed-in buyer's (or the agent key's) "
            "balance as the order is made. One request creates, pays and delivers: 201 with "
            "`status: delivered` and the `codes`. Not enough balance: 402 insufficient-funds; "
            "sold out: 409 out-of-stock; either way no order is kept. Without signing in: "
            "422. Leave it out to pay later (`POST /api/v1/orders/{number}/pay`)."
        },
    )


class QuoteLineSchema(Schema):
    kind = fields.String(
        metadata={
            "enum": list(LINE_KINDS),
            "description": "What the line is: the items at the list price, then what changed "
            "the price (negative: taken off).",
        }
    )
    label = fields.String(metadata={"description": "The line as a person reads it."})
    amount = fields.Integer()


class CodeSchema(Schema):
    code = fields.String()
    password = fields.String(allow_none=True)
    void = fields.Boolean(metadata={"description": "Voided by a refund: no longer valid."})


class HistorySchema(Schema):
    status = fields.String(attribute="to_status")
    at = fields.DateTime(attribute="created_at")


class OperatorHistorySchema(HistorySchema):
    previous = fields.String(attribute="from_status", allow_none=True)
    actor = fields.String()
    note = fields.String()


class LinksSchema(Schema):
    page = fields.String(metadata={"description": "The buyer's order page."})
    pay = fields.String()


class OrderSchema(Schema):
    number = fields.String()
    status = fields.String()
    product_id = fields.UUID()
    product_name = fields.String()
    product_kind = fields.String()
    quantity = fields.Integer()
    unit_price = fields.Integer()
    total = fields.Integer()
    currency = fields.String()
    lines = fields.List(
        fields.Nested(QuoteLineSchema),
        metadata={"description": "How the total is made; the amounts add up to it."},
    )
    coupon = fields.String(allow_none=True, metadata={"description": "The coupon code used."})
    email = fields.String()
    inputs = fields.Dict(keys=fields.String(), values=fields.String())
    lookup_token = fields.String()
    payment_options = fields.List(fields.String())
    payment_provider = fields.String(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    mailed_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "When the delivery mail was taken by the mail server."},
    )
    history = fields.List(fields.Nested(HistorySchema))
    codes = fields.List(
        fields.Nested(CodeSchema),
        metadata={"description": "Present once the order is delivered."},
    )
    links = fields.Nested(LinksSchema)


class TicketSchema(Schema):
    id = fields.UUID()
    order_number = fields.String()
    reason = fields.String()
    detail = fields.String()
    status = fields.String()
    resolution = fields.String(allow_none=True)
    actions = fields.List(fields.Dict())
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class OperatorOrderSchema(OrderSchema):
    buyer_id = fields.UUID(allow_none=True)
    payment_ref = fields.String(allow_none=True)
    fulfil_attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    mail_error = fields.String(
        allow_none=True, metadata={"description": "Why the last delivery mail was refused."}
    )
    history = fields.List(fields.Nested(OperatorHistorySchema))
    tickets = fields.List(fields.Nested(TicketSchema))
    codes_withheld = fields.Boolean(
        metadata={
            "description": "True when the caller may not see delivered codes "
            "(``orders.codes``): ``codes`` and ``lookup_token`` are left out, and "
            "the links carry no token. The shop's owner grants staff access."
        }
    )


class OrderSummarySchema(Schema):
    number = fields.String()
    status = fields.String()
    product_name = fields.String()
    quantity = fields.Integer()
    total = fields.Integer()
    currency = fields.String()
    email = fields.String()
    payment_provider = fields.String(allow_none=True)
    created_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class OrderQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))
    email = fields.String(validate=validate.Length(max=254))


class OrderPage(PageSchema):
    items = fields.List(fields.Nested(OrderSummarySchema))


class TicketQuery(Schema):
    status = fields.String(
        load_default="open", validate=validate.OneOf(("open", "resolved", "all"))
    )


class TicketList(Schema):
    items = fields.List(fields.Nested(TicketSchema))


class PayRequest(Schema):
    provider = fields.String(required=True, validate=validate.OneOf(PROVIDERS))


class PaymentResultSchema(Schema):
    provider = fields.String()
    status = fields.String(metadata={"description": "succeeded | requires_action"})
    payment_id = fields.UUID(allow_none=True)
    client_secret = fields.String(
        metadata={"description": "Stripe: confirm the PaymentIntent with Stripe.js."}
    )
    payment_intent = fields.String()
    order = fields.Nested(OrderSchema)


class LookupRequest(Schema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))
    number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_TYPED_NUMBER),
        metadata={"description": "Spaces anywhere in it are ignored."},
    )


class DeliverRequest(Schema):
    content = fields.String(
        required=True,
        validate=validate.Length(min=1, max=10_000),
        metadata={"description": "What the buyer receives (codes, a licence, instructions)."},
    )


class RefundRequest(Schema):
    to = fields.String(required=True, validate=validate.OneOf(REFUND_TARGETS))
