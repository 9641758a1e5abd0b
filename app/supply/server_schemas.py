"""The supply API's bodies (``/supply/v1/``), as the OpenAPI document shows
them to a docking partner implementing either side."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.core.pagination import PageArgs, PageSchema, per_page_field
from app.supply.purchases import KEY_MAX, KEY_MIN


class SupplyCatalogueQuery(PageArgs):
    per_page = per_page_field(default=50, maximum=100)


class SupplyProductSchema(Schema):
    sku = fields.String(metadata={"description": "This shop's product id: the SKU to buy."})
    name = fields.String()
    kind = fields.String(metadata={"description": "card, topup or manual."})
    price = fields.Integer(
        metadata={"description": "The caller's unit price, in minor units (its tier's price)."}
    )
    currency = fields.String()
    stock = fields.Integer(
        allow_none=True,
        metadata={"description": "Cards available now; null for goods that are not counted."},
    )
    min_quantity = fields.Integer()
    max_quantity = fields.Integer()
    input_fields = fields.List(
        fields.Dict(),
        metadata={"description": "What the buyer must give (a top-up's account, say)."},
    )


class SupplyCataloguePage(PageSchema):
    items = fields.List(fields.Nested(SupplyProductSchema))


class SupplyPurchaseCreate(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    inputs = fields.Dict(keys=fields.String(), load_default=dict)
    key = fields.String(
        required=True,
        validate=validate.Length(min=KEY_MIN, max=KEY_MAX),
        metadata={
            "description": "The caller's idempotency key: the same key with the same body "
            "answers the first purchase (200) and pays nothing more; with another body "
            "it is refused (409 idempotency-key-reused)."
        },
    )


class SupplyCodeSchema(Schema):
    code = fields.String()
    password = fields.String(allow_none=True)


class SupplyPurchaseSchema(Schema):
    ref = fields.String(metadata={"description": "This shop's order number."})
    key = fields.String()
    status = fields.String(
        metadata={"description": "delivered | pending | failed | refunded."},
    )
    codes = fields.List(
        fields.Nested(SupplyCodeSchema),
        metadata={"description": "The goods' codes, once delivered (cards and manual goods)."},
    )
    sku = fields.String()
    quantity = fields.Integer()
    price = fields.Integer(metadata={"description": "What the caller paid, in minor units."})
    currency = fields.String()


class SupplyPurchaseQuery(Schema):
    key = fields.String(validate=validate.Length(min=KEY_MIN, max=KEY_MAX))
