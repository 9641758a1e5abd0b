"""Marshmallow schemas of the billing API: a shop's plan, limits and usage."""

from __future__ import annotations

from marshmallow import Schema, fields


class PlanSchema(Schema):
    code = fields.String()
    name = fields.String()
    price = fields.Integer(metadata={"description": "The fee per interval, minor units."})
    currency = fields.String()
    interval = fields.String(metadata={"description": "month or year."})
    commission_bps = fields.Integer(
        metadata={"description": "The platform's commission on each sale, basis points."}
    )
    trial_days = fields.Integer()
    active = fields.Boolean(metadata={"description": "Whether the plan is still on offer."})


def _count(description: str) -> fields.Integer:
    return fields.Integer(allow_none=True, metadata={"description": description})


class LimitsSchema(Schema):
    products = _count("Products the shop may hold; null: unlimited.")
    staff = _count("Staff members; null: unlimited.")
    domains = _count("Custom domains; null: unlimited.")
    orders_month = _count("Orders a calendar month (the shop's time zone); null: unlimited.")
    api = fields.Boolean(metadata={"description": "Whether new API keys may be made."})
    sub_shops = fields.Boolean(metadata={"description": "Whether agents may open sub-shops."})


class UsageSchema(Schema):
    products = fields.Integer()
    staff = fields.Integer()
    domains = fields.Integer()
    orders_month = fields.Integer(metadata={"description": "Orders placed this month so far."})
    api = fields.Integer(metadata={"description": "Live operator API keys."})
    sub_shops = fields.Integer()


class ShopPlanSchema(Schema):
    plan = fields.Nested(
        PlanSchema, allow_none=True, metadata={"description": "null: no plan, nothing limited."}
    )
    source = fields.String(
        metadata={"description": "subscription, default (the platform's default plan) or none."}
    )
    status = fields.String(
        allow_none=True,
        metadata={"description": "trialing, active, past_due, suspended or canceled."},
    )
    started_at = fields.DateTime(allow_none=True)
    current_period_end = fields.DateTime(allow_none=True)
    launch_offer_ends_at = fields.DateTime(
        allow_none=True, metadata={"description": "No commission on sales before this instant."}
    )
    limits = fields.Nested(LimitsSchema)
    usage = fields.Nested(UsageSchema)
