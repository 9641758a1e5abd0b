"""Marshmallow schemas of the suppliers and product sources API.

As in pricing, write schemas (``…Write``) name the fields a request may
carry and document their types, but leave judging the values to the
services (``app.supply.suppliers``, ``app.supply.sources``), which answer
the API and the console with the same field errors. A supplier's secret is
write-only: answers say ``has_secret``, never the secret.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.core.pagination import PageArgs, PageSchema, per_page_field
from app.supply.models import SUPPLIER_KINDS, SUPPLIER_STATUSES


def _typed(openapi: dict, description: str, *, nullable: bool = False) -> fields.Raw:
    """A field passed to the service as sent; ``openapi`` documents its type."""
    return fields.Raw(allow_none=nullable, metadata={**openapi, "description": description})


class ScoreSchema(Schema):
    attempts = fields.Integer(metadata={"description": "Supply attempts in the window."})
    success_bps = fields.Integer(
        metadata={"description": "Successful attempts in basis points (10000 = all)."}
    )
    p50_ms = fields.Integer(metadata={"description": "Median latency, milliseconds."})
    p95_ms = fields.Integer(metadata={"description": "95th percentile latency, milliseconds."})
    flagged = fields.Boolean(
        metadata={"description": "Under the shop's success threshold: routing skips it."}
    )


class SupplierSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    kind = fields.String(metadata={"enum": list(SUPPLIER_KINDS)})
    status = fields.String(metadata={"enum": list(SUPPLIER_STATUSES)})
    account_id = fields.UUID(allow_none=True)
    base_url = fields.String(allow_none=True)
    key_id = fields.String(allow_none=True)
    has_secret = fields.Boolean(metadata={"description": "A secret is stored (never shown)."})
    deposit = fields.Integer(metadata={"description": "Minor units."})
    markup_percent = fields.Integer(
        allow_none=True,
        metadata={"description": "Price = cheapest source cost + this percent, on cost changes."},
    )
    note = fields.String()
    sources = fields.Integer(metadata={"description": "Product sources naming the supplier."})
    score = fields.Nested(ScoreSchema)
    created_at = fields.DateTime()


class SupplierPage(PageSchema):
    items = fields.List(fields.Nested(SupplierSchema))


class SupplierQuery(PageArgs):
    per_page = per_page_field(default=50, maximum=200)
    status = fields.String(validate=validate.OneOf(SUPPLIER_STATUSES))


class SupplierWrite(Schema):
    name = _typed({"type": "string", "maxLength": 80}, "Unique in the shop. Required.")
    kind = _typed(
        {"type": "string", "enum": list(SUPPLIER_KINDS)},
        "Required on creation; cannot change afterwards.",
    )
    account_id = _typed(
        {"type": "string", "format": "uuid"},
        "Kind account: a shop account of role supplier.",
        nullable=True,
    )
    base_url = _typed(
        {"type": "string", "maxLength": 300},
        "Kinds http and platform: the upstream's supply API, https "
        "(http only for localhost outside production).",
    )
    key_id = _typed({"type": "string", "maxLength": 64}, "Kinds http and platform.")
    secret = _typed(
        {"type": "string", "maxLength": 200, "writeOnly": True},
        "Kinds http and platform: sealed at rest, never answered. Blank on a change keeps it.",
    )
    status = _typed({"type": "string", "enum": list(SUPPLIER_STATUSES)}, "Default vetting.")
    deposit = _typed({"type": "integer", "minimum": 0}, "Minor units. Default 0.")
    markup_percent = _typed(
        {"type": "integer", "minimum": 0, "maximum": 1000},
        "When the stock sync sees a cost change, the product's price becomes the cheapest "
        "enabled source's cost plus this percent. null (default): prices are left alone.",
        nullable=True,
    )
    note = _typed({"type": "string", "maxLength": 500}, "For the operator.")


class SourceSchema(Schema):
    id = fields.UUID()
    product_id = fields.UUID()
    supplier_id = fields.UUID()
    sku = fields.String()
    cost = fields.Integer(metadata={"description": "Minor units."})
    priority = fields.Integer(metadata={"description": "Higher is tried first."})
    enabled = fields.Boolean()
    stock = fields.Integer(allow_none=True, metadata={"description": "As last synced."})
    synced_at = fields.DateTime(allow_none=True)
    sync_failures = fields.Integer()
    next_sync_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()


class SourceList(Schema):
    items = fields.List(fields.Nested(SourceSchema))


class SourceWrite(Schema):
    supplier_id = _typed(
        {"type": "string", "format": "uuid"}, "A supplier of this shop, not blacklisted."
    )
    sku = _typed(
        {"type": "string", "maxLength": 120},
        "The supplier's product id; required unless the supplier is an account.",
    )
    cost = _typed({"type": "integer", "minimum": 0}, "Minor units. Default 0.")
    priority = _typed({"type": "integer", "minimum": 0, "maximum": 1000}, "Default 0.")
    enabled = _typed({"type": "boolean"}, "Default true.")
