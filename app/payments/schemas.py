"""Marshmallow schemas of the payments API: wallet recharges and webhooks.

Amounts are integer minor units (分/cents) of the shop's currency.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.payments.registry import RECHARGE_NAMES


class RechargeCreate(Schema):
    amount = fields.Integer(
        required=True,
        strict=True,
        metadata={
            "description": "Minor units (分/cents), at least 1 and at most the "
            "platform's WALLET_RECHARGE_MAX."
        },
    )
    provider = fields.String(required=True, validate=validate.OneOf(RECHARGE_NAMES))


class RechargeSchema(Schema):
    id = fields.UUID(dump_only=True)
    status = fields.String(
        dump_only=True, metadata={"description": "pending | succeeded | failed | refunded"}
    )
    amount = fields.Integer(dump_only=True)
    currency = fields.String(dump_only=True)
    provider = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    confirmed_at = fields.DateTime(dump_only=True, allow_none=True)
    balance = fields.Integer(
        dump_only=True, metadata={"description": "The wallet balance after this answer."}
    )
    payment_intent = fields.String(
        dump_only=True, allow_none=True, metadata={"description": "Stripe only."}
    )
    client_secret = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Stripe only, in the answer that starts the recharge: "
            "confirm it with Stripe.js; the wallet is credited when Stripe's webhook arrives."
        },
    )


class WebhookReceipt(Schema):
    received = fields.Boolean()
    duplicate = fields.Boolean(metadata={"description": "The event was already on record."})
    outcome = fields.String(metadata={"description": "What handling the event did."})
