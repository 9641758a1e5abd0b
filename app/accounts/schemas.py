"""Marshmallow schemas of the accounts API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.accounts.models import MEMBER_ROLES, SHOP_ROLES
from app.core.pagination import PageArgs, PageSchema


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


class AccountPage(PageSchema):
    items = fields.List(fields.Nested(AccountSchema))


class AccountPatch(Schema):
    role = fields.String(validate=validate.OneOf(SHOP_ROLES))
    is_active = fields.Boolean()
    display_name = fields.String(validate=validate.Length(max=120), allow_none=True)


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
