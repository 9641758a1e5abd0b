"""Marshmallow schemas of the agent's own endpoints (``/api/v1/me/...``).
Amounts are integer minor units of the shop's currency; percents are whole."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.agents.models import COMMISSION_STATUSES
from app.agents.sub_shop_settings import MAX_MARKUP, MAX_NOTICE, MAX_TITLE
from app.core.pagination import PageArgs, PageSchema


class AgentKeySchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String()
    prefix = fields.String(dump_only=True)
    role = fields.String(dump_only=True, metadata={"description": "Always ``agent``."})
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class AgentKeyCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))


class AgentKeyCreated(AgentKeySchema):
    key = fields.String(dump_only=True, metadata={"description": "Shown once."})


class AgentKeyList(Schema):
    items = fields.List(fields.Nested(AgentKeySchema))


class CommissionQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(COMMISSION_STATUSES))


class CommissionSchema(Schema):
    id = fields.UUID()
    order_number = fields.String(allow_none=True)
    level = fields.Integer(metadata={"description": "1: the agent's own downline or sub-shop."})
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String(metadata={"description": " | ".join(COMMISSION_STATUSES)})
    settle_after = fields.DateTime(
        metadata={"description": "When a pending commission moves into the wallet."}
    )
    created_at = fields.DateTime()


class CommissionTotals(Schema):
    pending = fields.Integer()
    settled = fields.Integer()
    reversed = fields.Integer()
    clawed_back = fields.Integer()


class CommissionPage(PageSchema):
    items = fields.List(fields.Nested(CommissionSchema))
    totals = fields.Nested(
        CommissionTotals, metadata={"description": "Every commission of the agent, by status."}
    )


class DownlineQuery(PageArgs):
    pass


class DownlineMemberSchema(Schema):
    email = fields.String(metadata={"description": "Masked: a***@example.com."})
    tier = fields.String(allow_none=True, metadata={"description": "The tier's name."})
    role = fields.String()
    joined = fields.DateTime()
    level = fields.Integer(metadata={"description": "1: recruited by the agent itself."})


class DownlinePage(PageSchema):
    items = fields.List(fields.Nested(DownlineMemberSchema))
    levels = fields.Integer(metadata={"description": "How many levels below the agent are shown."})


class InviteSchema(Schema):
    code = fields.String()
    url = fields.String(metadata={"description": "The invite link to share."})


class SubShopSchema(Schema):
    code = fields.String(metadata={"description": "3 to 24 of a-z, 0-9 and '-'."})
    title = fields.String()
    notice = fields.String()
    markups = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": '{"*": percent, "<category id>": percent}'},
    )
    url = fields.String(metadata={"description": "The sub-shop's address (/s/<code>)."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SubShopPut(Schema):
    code = fields.String(required=True, validate=validate.Length(max=64))
    title = fields.String(required=True, validate=validate.Length(max=MAX_TITLE))
    notice = fields.String(load_default="", validate=validate.Length(max=MAX_NOTICE))
    markups = fields.Dict(
        keys=fields.String(validate=validate.Length(max=64)),
        values=fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_MARKUP)),
        load_default=dict,
        validate=validate.Length(max=1000),
        metadata={
            "description": 'Whole percents over your own price: {"*": 10, "<category id>": 15}.'
        },
    )


class HeldTierSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    rank = fields.Integer()


class TierChoiceSchema(HeldTierSchema):
    kind = fields.String(metadata={"description": "manual | fee | recharge_total"})
    amount = fields.Integer(metadata={"description": "The fee, or the recharge total."})
    above = fields.Boolean(metadata={"description": "Above the account's tier."})
    reachable = fields.Boolean(metadata={"description": "Asking for it now would succeed."})
    missing = fields.Integer(metadata={"description": "What the balance or recharges lack."})


class TierOfferSchema(Schema):
    current = fields.Nested(HeldTierSchema, allow_none=True)
    tiers = fields.List(fields.Nested(TierChoiceSchema))
    recharged = fields.Integer(metadata={"description": "Everything recharged so far."})
    balance = fields.Integer()


class TierRequest(Schema):
    tier_id = fields.UUID(required=True)


class TierResult(Schema):
    tier = fields.Nested(HeldTierSchema)
    charged = fields.Integer(metadata={"description": "The fee taken from the wallet (0 if none)."})
    changed = fields.Boolean(metadata={"description": "False when the account held it already."})
    role = fields.String()
    balance = fields.Integer()
