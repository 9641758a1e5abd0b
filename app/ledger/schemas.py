"""Marshmallow schemas of the wallet API. Amounts are integer minor units."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class WalletQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class WalletEntrySchema(Schema):
    id = fields.UUID()
    amount = fields.Integer(metadata={"description": "Positive adds to the balance."})
    kind = fields.String(metadata={"description": "recharge | order_payment | refund | ..."})
    memo = fields.String()
    order_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()


class WalletSchema(Schema):
    balance = fields.Integer()
    currency = fields.String()
    entries = fields.List(fields.Nested(WalletEntrySchema))
    total = fields.Integer(metadata={"description": "How many entries the wallet has."})
    page = fields.Integer()
    per_page = fields.Integer()
