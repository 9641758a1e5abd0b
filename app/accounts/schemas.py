"""Marshmallow schemas of the accounts API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.accounts.models import MEMBER_ROLES, SHOP_ROLES
from app.core.pagination import PageArgs, PageSchema
from app.ledger.adjustments import MAX_REASON

#: the largest amount one adjustment moves (minor units), as a product's price
MAX_ADJUSTMENT = 10**12


class AccountQuery(PageArgs):
    role = fields.String(validate=validate.OneOf(SHOP_ROLES))


class AccountSchema(Schema):
    id = fields.UUID(dump_only=True)
    email = fields.String(dump_only=True)
    display_name = fields.String(allow_none=True)
    role = fields.String()
    is_active = fields.Boolean()
    created_at = fields.DateTime(dump_only=True)
    last_login_at = fields.DateTime(dump_only=True, allow_none=True)
    tier_id = fields.UUID(
        allow_none=True,
        metadata={"description": "The agent tier whose prices it pays; null: retail."},
    )
    upline_id = fields.UUID(
        allow_none=True, metadata={"description": "The agent who recruited it; null: none."}
    )


class AccountPage(PageSchema):
    items = fields.List(fields.Nested(AccountSchema))


class AccountPatch(Schema):
    role = fields.String(validate=validate.OneOf(SHOP_ROLES))
    is_active = fields.Boolean()
    display_name = fields.String(validate=validate.Length(max=120), allow_none=True)
    tier_id = fields.UUID(
        allow_none=True,
        metadata={"description": "An agent tier of this shop; null: retail prices."},
    )
    upline_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "An active agent of this shop; null: no upline. Refused for the "
            "account itself, a loop, or a chain deeper than the shop's agent_depth."
        },
    )


class WholeNumber(fields.Integer):
    """An integer in JSON, never ``true``/``false`` or text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class WalletAdjustmentCreate(Schema):
    amount = WholeNumber(
        required=True,
        validate=validate.Range(min=-MAX_ADJUSTMENT, max=MAX_ADJUSTMENT),
        metadata={"description": "Signed minor units, not zero: 1250 adds 12.50, -300 takes 3.00."},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(max=MAX_REASON),
        metadata={"description": "Required; the customer sees it in their balance history."},
    )


class WalletAdjustmentSchema(Schema):
    amount = fields.Integer()
    balance = fields.Integer(metadata={"description": "The wallet's balance after it."})
    currency = fields.String()
    made = fields.Boolean(
        metadata={"description": "False when this Idempotency-Key's adjustment was made before."}
    )


class ApiKeySchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String()
    prefix = fields.String(dump_only=True)
    role = fields.String()
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class ApiKeyCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    role = fields.String(load_default="owner", validate=validate.OneOf(MEMBER_ROLES))


class ApiKeyCreated(ApiKeySchema):
    key = fields.String(dump_only=True, metadata={"description": "Shown once."})


class ApiKeyList(Schema):
    items = fields.List(fields.Nested(ApiKeySchema))


class MeSchema(Schema):
    kind = fields.String()
    id = fields.UUID(allow_none=True)
    email = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())
