"""Marshmallow schemas of the pricing API: agent tiers, price rules and
coupons.

As in the catalogue, write schemas (``…Write``) name the fields a request
may carry and document their types, but leave judging the values to the
services (``app.pricing.admin``, ``app.pricing.coupon_admin``,
``app.settings.agent_settings``), which answer the API and the console
with the same field errors. Unknown fields are refused here.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.core.pagination import PageArgs, PageSchema, per_page_field
from app.pricing.models import COUPON_KINDS, UPGRADE_KINDS
from app.pricing.rule_admin import stage_of_rule


def _typed(openapi: dict, description: str, *, nullable: bool = False) -> fields.Raw:
    """A field passed to the service as sent; ``openapi`` documents its type
    (``nullable``: null is a value it takes, such as "no limit")."""
    return fields.Raw(allow_none=nullable, metadata={**openapi, "description": description})


_UUID = {"type": "string", "format": "uuid"}
_MONEY = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}
_BOOL = {"type": "boolean"}


# --- agent tiers --------------------------------------------------------------------


class UpgradeSchema(Schema):
    kind = fields.String(metadata={"enum": list(UPGRADE_KINDS)})
    amount = fields.Integer(
        metadata={"description": "Minor units: the fee, or the recharge total (0 for manual)."}
    )


class TierSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    rank = fields.Integer(metadata={"description": "Higher ranks are better tiers."})
    upgrade = fields.Nested(UpgradeSchema)
    accounts = fields.Integer(metadata={"description": "Accounts on this tier."})
    price_rules = fields.Integer(metadata={"description": "Price rules for this tier."})
    created_at = fields.DateTime()


class TierList(Schema):
    items = fields.List(fields.Nested(TierSchema))


class TierWrite(Schema):
    name = _typed({"type": "string", "maxLength": 40}, "Unique in the shop. Required.")
    rank = _typed({"type": "integer", "minimum": 0, "maximum": 1000}, "Default 0.")
    upgrade = _typed(
        {"type": "object"},
        "{kind: manual|fee|recharge_total, amount}: how an account reaches the tier. "
        "A fee or a recharge total needs an amount above zero (minor units). Default manual.",
    )


class TierDeleted(Schema):
    name = fields.String()
    accounts_to_retail = fields.Integer(
        metadata={"description": "Accounts that were on the tier and now pay retail prices."}
    )
    price_rules_deleted = fields.Integer(
        metadata={"description": "The tier's own price rules, deleted with it."}
    )


# --- price rules --------------------------------------------------------------------


class RuleSchema(Schema):
    id = fields.UUID()
    product_id = fields.UUID(allow_none=True)
    category_id = fields.UUID(allow_none=True)
    tier_id = fields.UUID(allow_none=True, metadata={"description": "null: everyone."})
    price = fields.Integer(allow_none=True, metadata={"description": "A unit price, minor units."})
    percent_off = fields.Integer(allow_none=True)
    min_quantity = fields.Integer()
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    priority = fields.Integer()
    allow_below_cost = fields.Boolean()
    stage = fields.Function(
        stage_of_rule,
        metadata={
            "type": "string",
            "enum": ["audience", "quantity", "sale"],
            "description": "The stage of the price calculation the rule takes part in.",
        },
    )
    created_at = fields.DateTime()


class RulePage(PageSchema):
    items = fields.List(fields.Nested(RuleSchema))


class RuleQuery(PageArgs):
    per_page = per_page_field(default=50, maximum=200)
    product_id = fields.UUID(metadata={"description": "Rules for exactly this product."})
    category_id = fields.UUID(metadata={"description": "Rules for exactly this category."})
    tier_id = fields.UUID(metadata={"description": "Rules for exactly this tier."})


class RuleWrite(Schema):
    product_id = _typed(
        _UUID, "A product of this shop; or category_id; neither: the whole shop.", nullable=True
    )
    category_id = _typed(_UUID, "A category of this shop (its children included).", nullable=True)
    tier_id = _typed(_UUID, "An agent tier of this shop; null: everyone.", nullable=True)
    price = _typed(
        {"type": "integer", "minimum": 0},
        "A unit price (minor units); or percent_off.",
        nullable=True,
    )
    percent_off = _typed(
        {"type": "integer", "minimum": 1, "maximum": 100}, "Whole percent off.", nullable=True
    )
    min_quantity = _typed({"type": "integer", "minimum": 1}, "From this many units (default 1).")
    starts_at = _typed(_TIME, "With its offset, e.g. 2024-05-01T09:00:00+08:00.", nullable=True)
    ends_at = _typed(_TIME, "After starts_at.", nullable=True)
    priority = _typed({"type": "integer"}, "Higher wins within a stage (default 0).")
    allow_below_cost = _typed(_BOOL, "May take the price below the product's cost.")


# --- coupons --------------------------------------------------------------------------


class CouponSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    kind = fields.String(metadata={"enum": list(COUPON_KINDS)})
    amount = fields.Integer(metadata={"description": "Minor units off, or whole percent off."})
    min_spend = fields.Integer()
    product_id = fields.UUID(allow_none=True)
    category_id = fields.UUID(allow_none=True)
    max_uses = fields.Integer(allow_none=True)
    max_uses_per_buyer = fields.Integer(allow_none=True)
    starts_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    allow_below_cost = fields.Boolean()
    active = fields.Boolean()
    uses = fields.Integer(
        metadata={
            "description": "Orders using it now (expired and cancelled orders give theirs back)."
        }
    )
    created_at = fields.DateTime()


class CouponPage(PageSchema):
    items = fields.List(fields.Nested(CouponSchema))


class CouponQuery(PageArgs):
    per_page = per_page_field(default=50, maximum=200)
    q = fields.String(
        validate=validate.Length(max=32), metadata={"description": "Part of the code, any case."}
    )
    active = fields.Boolean(metadata={"description": "Only coupons switched on (or off)."})


class CouponWrite(Schema):
    code = _typed(
        {"type": "string", "minLength": 3, "maxLength": 32},
        "3 to 32 of A-Z, 0-9, - and _ (stored upper-case; unique in the shop). Required.",
    )
    kind = _typed({"enum": list(COUPON_KINDS)}, "Default fixed.")
    amount = _typed(
        {"type": "integer", "minimum": 1},
        "Minor units off (fixed) or whole percent off, 1..100 (percent). Required.",
    )
    min_spend = _typed(_MONEY, "The subtotal it needs (minor units; default 0).")
    product_id = _typed(_UUID, "Only for this product; or category_id.", nullable=True)
    category_id = _typed(_UUID, "Only for this category (its children included).", nullable=True)
    max_uses = _typed({"type": "integer", "minimum": 1}, "In all; null: no limit.", nullable=True)
    max_uses_per_buyer = _typed(
        {"type": "integer", "minimum": 1}, "Per buyer; null: no limit.", nullable=True
    )
    starts_at = _typed(_TIME, "With its offset.", nullable=True)
    expires_at = _typed(_TIME, "After starts_at.", nullable=True)
    allow_below_cost = _typed(_BOOL, "May take the price below the goods' cost.")
    active = _typed(_BOOL, "false switches it off (default true).")
