"""Marshmallow schemas of the supplier's own endpoints (``/me/supply``).
Amounts are integer minor units of the shop's currency; codes are never
answered."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.supply.pool import MAX_UPLOAD


class SuppliedProductSchema(Schema):
    product_id = fields.UUID()
    name = fields.String()
    kind = fields.String(metadata={"description": "card (codes may be uploaded) or topup"})
    cost = fields.Integer(metadata={"description": "What the shop owes per code sold."})
    enabled = fields.Boolean(metadata={"description": "False: the shop paused this source."})
    available = fields.Integer(metadata={"description": "Codes in the pool, not sold yet."})
    sold = fields.Integer()


class MySupplySchema(Schema):
    products = fields.List(fields.Nested(SuppliedProductSchema))
    payable = fields.Integer(metadata={"description": "What the shop owes the supplier now."})
    currency = fields.String()


class CodesUpload(Schema):
    product_id = fields.UUID(required=True)
    codes = fields.List(
        fields.String(),
        required=True,
        validate=validate.Length(min=1, max=MAX_UPLOAD),
        metadata={
            "description": "One code per item: a code alone or NUMBER----PASSWORD; "
            f"at most {MAX_UPLOAD}, each at most 500 characters."
        },
    )


class UploadResultSchema(Schema):
    added = fields.Integer(metadata={"description": "Codes added to the pool."})
    duplicates = fields.Integer(
        metadata={"description": "Codes held already (in this upload, a pool or the shop's cards)."}
    )
    invalid = fields.Integer(metadata={"description": "Items that are not a code."})
