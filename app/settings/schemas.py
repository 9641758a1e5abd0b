"""Marshmallow schemas of the shop settings API: the agent settings.

``AgentSettingsWrite`` documents the fields and leaves judging them to
``app.settings.agent_settings`` (the API's and the console's one rule).
"""

from __future__ import annotations

from marshmallow import Schema, fields


def _typed(openapi: dict, description: str) -> fields.Raw:
    """A field passed to the service as sent; ``openapi`` documents its type."""
    return fields.Raw(metadata={**openapi, "description": description})


class AgentSettingsSchema(Schema):
    agent_depth = fields.Integer(metadata={"description": "Upline levels that earn, 0..3."})
    commission_hold_days = fields.Integer(
        metadata={"description": "Days commission waits before it settles, 0..90."}
    )
    first_order_percent = fields.Integer(
        metadata={"description": "Whole percent off a buyer's first order, 0..90."}
    )
    withdraw_min = fields.Integer(metadata={"description": "Smallest withdrawal, minor units."})
    withdraw_fee_bps = fields.Integer(
        metadata={"description": "Withdrawal fee in basis points (150 = 1.5 %), 0..5000."}
    )


class AgentSettingsWrite(Schema):
    agent_depth = _typed({"type": "integer", "minimum": 0, "maximum": 3}, "0..3.")
    commission_hold_days = _typed({"type": "integer", "minimum": 0, "maximum": 90}, "0..90.")
    first_order_percent = _typed({"type": "integer", "minimum": 0, "maximum": 90}, "0..90.")
    withdraw_min = _typed({"type": "integer", "minimum": 0}, "Minor units.")
    withdraw_fee_bps = _typed({"type": "integer", "minimum": 0, "maximum": 5000}, "0..5000.")
