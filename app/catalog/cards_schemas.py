"""Marshmallow schemas of the card stock API (``cards_api``).

No schema here has a field that could carry a code, except
``RevealedCardSchema``, the answer of the audited reveal.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.catalog.models import CARD_STATUSES
from app.core.pagination import PageArgs, PageSchema, per_page_field


class _CardPageArgs(PageArgs):
    per_page = per_page_field(default=50, maximum=500)


class InvalidLineSchema(Schema):
    line = fields.Integer()
    reason = fields.String()


class ImportReportSchema(Schema):
    """What an import found: counts, and the first 100 line numbers of each kind."""

    imported = fields.Integer()
    duplicates = fields.Integer()
    invalid = fields.Integer()
    duplicate_lines = fields.List(fields.Integer())
    invalid_lines = fields.List(fields.Nested(InvalidLineSchema))
    encoding = fields.String(
        allow_none=True, metadata={"description": "utf-8, utf-8-sig (BOM) or gb18030"}
    )
    message = fields.String()


class ImportResultSchema(ImportReportSchema):
    """The answer of an import done during the request (200 or 201)."""

    id = fields.UUID()
    status = fields.String(metadata={"description": "done"})
    url = fields.String(metadata={"description": "The import's own resource."})


class ImportQueuedSchema(Schema):
    """The answer of an import handed to a job (202)."""

    id = fields.UUID()
    status = fields.String(metadata={"description": "queued"})
    url = fields.String(metadata={"description": "Poll it for progress and the report."})
    done = fields.Integer()
    total = fields.Integer()


class CardImportSchema(Schema):
    id = fields.UUID()
    product_id = fields.UUID()
    status = fields.String(
        metadata={"description": "queued | running | done | rejected (invalid lines) | failed"}
    )
    filename = fields.String(allow_none=True)
    done = fields.Integer(metadata={"description": "Lines handled so far."})
    total = fields.Integer(metadata={"description": "Lines in the upload."})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    url = fields.String()
    report = fields.Nested(ImportReportSchema, allow_none=True)


class CardQuery(_CardPageArgs):
    status = fields.String(validate=validate.OneOf(CARD_STATUSES))


class CardSchema(Schema):
    id = fields.UUID()
    status = fields.String()
    created_at = fields.DateTime()
    sold_at = fields.DateTime(allow_none=True)
    order_id = fields.UUID(allow_none=True)
    reserved_until = fields.DateTime(allow_none=True)
    import_id = fields.UUID(allow_none=True)
    fingerprint = fields.String(
        metadata={"description": "8 hex digits of the code's keyed hash, never the code."}
    )


class CardPage(PageSchema):
    items = fields.List(fields.Nested(CardSchema))


class StockSchema(Schema):
    product_id = fields.UUID()
    available = fields.Integer()
    reserved = fields.Integer()
    sold = fields.Integer()
    void = fields.Integer()
    sellable = fields.Integer(
        metadata={"description": "What a buyer can have now: available plus expired holds."}
    )
    stock_available = fields.Integer(metadata={"description": "The product's counter."})
    low_stock_threshold = fields.Integer()
    sold_out = fields.Boolean()
    low = fields.Boolean()


class RevealedCardSchema(Schema):
    id = fields.UUID()
    product_id = fields.UUID()
    status = fields.String()
    code = fields.String(metadata={"description": "number, or number----password"})
    number = fields.String()
    password = fields.String(allow_none=True)


#: Above any product's stock; bounded so no value reaches SQL's LIMIT that
#: its integers cannot hold.
EXPORT_LIMIT_MAX = 1_000_000_000


class ExportQuery(Schema):
    limit = fields.Integer(validate=validate.Range(min=1, max=EXPORT_LIMIT_MAX))


class VoidRequest(Schema):
    ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=10_000))


class VoidResult(Schema):
    voided = fields.Integer()
    ignored = fields.Integer(
        metadata={"description": "Ids that are not this shop's cards, or already void."}
    )


class AlertQuery(_CardPageArgs):
    include_acknowledged = fields.Boolean(load_default=False)


class StockAlertSchema(Schema):
    id = fields.UUID()
    product_id = fields.UUID()
    kind = fields.String(metadata={"description": "low | sold_out"})
    stock = fields.Integer()
    threshold = fields.Integer()
    created_at = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True)


class StockAlertPage(PageSchema):
    items = fields.List(fields.Nested(StockAlertSchema))
