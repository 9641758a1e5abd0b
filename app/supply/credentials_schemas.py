"""Marshmallow schemas of the supply credentials' operator API."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.core.pagination import PageArgs, PageSchema


class SupplyCredentialSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    key_id = fields.String(metadata={"description": "Public: sent as X-Kameng-Key."})
    account_id = fields.UUID(metadata={"description": "The shop account it buys as."})
    email = fields.String(metadata={"description": "That account's email."})
    callback_url = fields.String(allow_none=True)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class SupplyCredentialIssued(SupplyCredentialSchema):
    secret = fields.String(
        metadata={"description": "The signing secret: shown in this answer only, never again."}
    )


class SupplyCredentialCreate(Schema):
    email = fields.String(
        required=True, metadata={"description": "The email of the shop account to act as."}
    )
    name = fields.String(required=True, metadata={"description": "1 to 80 characters."})
    callback_url = fields.String(
        allow_none=True,
        metadata={"description": "Where status callbacks go: https (http only for localhost)."},
    )


class SupplyCredentialUpdate(Schema):
    callback_url = fields.String(
        required=True, allow_none=True, metadata={"description": "Empty or null: no callbacks."}
    )


class SupplyCredentialQuery(PageArgs):
    pass


class SupplyCredentialPage(PageSchema):
    items = fields.List(fields.Nested(SupplyCredentialSchema))


class SupplyOpenSchema(Schema):
    open = fields.Boolean(
        required=True, metadata={"description": "Whether the supply API at /supply/v1 answers."}
    )
