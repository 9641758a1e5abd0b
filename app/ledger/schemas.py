"""Marshmallow schemas of the wallet API. Amounts are integer minor units."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.core.pagination import PageArgs, PageSchema


class WalletQuery(PageArgs):
    """A page of the wallet's entries, newest first."""


class WalletEntrySchema(Schema):
    id = fields.UUID()
    amount = fields.Integer(metadata={"description": "Positive adds to the balance."})
    kind = fields.String(metadata={"description": "recharge | order_payment | refund | ..."})
    memo = fields.String()
    order_id = fields.UUID(allow_none=True)
    order_number = fields.String(allow_none=True)
    created_at = fields.DateTime()


class WalletSchema(PageSchema):
    balance = fields.Integer()
    currency = fields.String()
    entries = fields.List(fields.Nested(WalletEntrySchema))
    total = fields.Integer(metadata={"description": "How many entries the wallet has."})
