"""Card stock endpoints (卡密库存): import, listing, counts, void, stock
alerts, and the two audited ways to see codes.

Who may do what (``app.accounts.permissions``):

- ``cards.manage`` (owner and staff): import, list cards, stock counts,
  void, stock alerts. None of these answers ever holds a code.
- ``cards.reveal`` (owner only): ``POST /cards/{id}/reveal`` and
  ``POST /products/{id}/cards/export``. Each writes an audit row in the
  transaction it commits before the codes leave; they are POSTs so that no
  cache, prefetch or browser history keeps a code, and answer ``no-store``.

Each endpoint parses, calls one service function (``catalog.imports``,
``card_reads``, ``card_reveal``, ``stock`` or ``stock_alerts``) and renders
the result.
"""

from __future__ import annotations

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from app.accounts.auth import current_principal, require
from app.catalog import card_reads, card_reveal, imports, stock, stock_alerts
from app.catalog.cards_schemas import (
    AlertQuery,
    CardImportSchema,
    CardPage,
    CardQuery,
    ExportQuery,
    ImportQueuedSchema,
    ImportResultSchema,
    RevealedCardSchema,
    StockAlertPage,
    StockAlertSchema,
    StockSchema,
    VoidRequest,
    VoidResult,
)
from app.catalog.models import CardImport
from app.core.errors import KamengError, ValidationFailed
from app.core.ids import id_or_404
from app.core.pagination import page_of

blp = Blueprint("cards_api", __name__, description="Card stock: import, listing, reveal, alerts")
SECURED = [{"apiKey": []}]
NO_STORE = {"Cache-Control": "no-store"}
UPLOAD_TYPES = ("text/plain", "text/csv", "application/octet-stream", "multipart/form-data")


# Titles reuse ones the catalogs already translate (error pages show them
# translated); the ``type`` slug and the ``detail`` say what happened.


class UnsupportedUpload(KamengError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported Media Type"


class UploadTooLarge(KamengError):
    status = 413
    slug = "payload-too-large"
    title = "Request Entity Too Large"


class InvalidCardFile(KamengError):
    """The upload was read, and some lines are not cards: nothing imported."""

    status = 422
    slug = "invalid-card-file"
    title = "The request has invalid fields"


def import_url(import_id) -> str:
    return f"/api/v1/card-imports/{import_id}"


def _upload() -> tuple[bytes, str | None]:
    """The request's codes: a multipart ``file`` part, or the raw body."""
    try:
        if request.mimetype == "multipart/form-data":
            part = request.files.get("file")
            if part is None:
                raise ValidationFailed(
                    "Send the codes in a form part named 'file'.", errors={"file": ["Missing."]}
                )
            return part.read(), (part.filename or None)
        if request.mimetype not in UPLOAD_TYPES and request.mimetype:
            raise UnsupportedUpload(
                f"Content-Type {request.mimetype} is not accepted; use text/plain "
                "(the codes as the body) or multipart/form-data (a 'file' part)."
            )
        return request.get_data(cache=False), None
    except RequestEntityTooLarge:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        size = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit:,} bytes"
        raise UploadTooLarge(
            f"Uploads are limited to {size}; split the file, or import it on the server "
            "with 'flask --app wsgi cards import'.",
            limit=limit,
        ) from None


def _import_answer(record: CardImport):
    url = import_url(record.id)
    if record.status == imports.QUEUED:
        body = {"id": record.id, "status": record.status, "url": url, "done": 0}
        body["total"] = record.total
        return ImportQueuedSchema().dump(body), 202, {"Location": url}
    report = imports.report_of(record)
    if record.status == imports.REJECTED:
        raise InvalidCardFile(
            report.get("message") or "Nothing was imported.",
            id=str(record.id),
            url=url,
            **{k: v for k, v in report.items() if k != "message"},
        )
    body = {"id": record.id, "status": record.status, "url": url, **report}
    status = 201 if record.imported else 200
    return ImportResultSchema().dump(body), status, {"Location": url}


@blp.route("/products/<product_id>/cards")
class ProductCards(MethodView):
    @require("cards.manage")
    @blp.arguments(CardQuery, location="query")
    @blp.response(200, CardPage)
    @blp.doc(security=SECURED)
    def get(self, args, product_id):
        """The product's cards, newest first: id, status, times, order and a
        short fingerprint. Never the code."""
        items, total = card_reads.list_cards(
            id_or_404(product_id), args.get("status"), args["page"], args["per_page"]
        )
        return page_of(items, total, args)

    @require("cards.manage")
    @blp.doc(
        security=SECURED,
        requestBody={
            "required": True,
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        },
        responses={
            "200": {"description": "Done; every code was a duplicate."},
            "201": {"description": "Done; the report."},
            "202": {"description": "Queued as a job; poll the Location."},
            "413": {"description": "Larger than MAX_CONTENT_LENGTH."},
            "422": {
                "description": "Invalid lines (the report; nothing imported), or not a card product."
            },
        },
    )
    def post(self, product_id):
        """Import codes: one per line, or ``number<sep>password`` (``----``,
        tab, ``|``, comma or space), or CSV with a header; UTF-8 (BOM or not)
        or GB18030/GBK; any line ending. All or nothing: any invalid line
        rejects the upload. Duplicates (in the file or already in the shop)
        are skipped and reported. Large uploads run as a job (202)."""
        product = id_or_404(product_id)
        raw, filename = _upload()
        record = imports.start_import(product, raw, filename, current_principal().actor[:80])
        return _import_answer(record)


@blp.route("/card-imports/<import_id>")
class CardImportItem(MethodView):
    @require("cards.manage")
    @blp.response(200, CardImportSchema)
    @blp.doc(security=SECURED)
    def get(self, import_id):
        """An import's status and progress (done/total lines), and its report
        once finished."""
        state = imports.get_import(id_or_404(import_id))
        record = state["import"]
        return {
            "id": record.id,
            "product_id": record.product_id,
            "status": record.status,
            "filename": record.filename,
            "done": state["done"],
            "total": state["total"],
            "created_at": record.created_at,
            "finished_at": record.finished_at,
            "url": import_url(record.id),
            "report": state["report"],
        }


@blp.route("/products/<product_id>/stock")
class ProductStock(MethodView):
    @require("cards.manage")
    @blp.response(200, StockSchema)
    @blp.doc(security=SECURED)
    def get(self, product_id):
        """The product's cards by status, what a buyer can have now, and
        whether it is low or sold out."""
        return card_reads.stock_of(id_or_404(product_id))


@blp.route("/products/<product_id>/cards/export")
class ProductCardsExport(MethodView):
    @require("cards.reveal")
    @blp.arguments(ExportQuery, location="query")
    @blp.doc(
        security=SECURED,
        responses={"200": {"description": "text/plain, one code per line (audited)."}},
    )
    def post(self, args, product_id):
        """Export the product's available codes as text (owner only; audited).
        The codes stay in stock."""
        text, count = card_reveal.export_codes(
            id_or_404(product_id), current_principal().actor, args.get("limit")
        )
        return Response(
            text,
            mimetype="text/plain",
            headers={
                **NO_STORE,
                "Content-Disposition": f'attachment; filename="cards-{product_id}.txt"',
                "X-Exported-Count": str(count),
            },
        )


@blp.route("/cards/<card_id>/reveal")
class CardReveal(MethodView):
    @require("cards.reveal")
    @blp.response(200, RevealedCardSchema)
    @blp.doc(security=SECURED)
    def post(self, card_id):
        """Show one card's code (owner only; audited)."""
        return card_reveal.reveal_card(id_or_404(card_id), current_principal().actor), 200, NO_STORE


@blp.route("/cards/void")
class CardsVoid(MethodView):
    @require("cards.manage")
    @blp.arguments(VoidRequest)
    @blp.response(200, VoidResult)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Take cards out of circulation for good (bad or refunded codes).
        Ids that are not this shop's cards are ignored. Audited."""
        ids = list(dict.fromkeys(data["ids"]))
        voided = stock.void_cards(ids, current_principal().actor)
        return {"voided": voided, "ignored": len(ids) - voided}


@blp.route("/stock-alerts")
class StockAlerts(MethodView):
    @require("cards.manage")
    @blp.arguments(AlertQuery, location="query")
    @blp.response(200, StockAlertPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """Products that crossed their low-stock threshold or sold out,
        newest first (unacknowledged only, unless asked)."""
        items, total = stock_alerts.list_alerts(
            args["include_acknowledged"], args["page"], args["per_page"]
        )
        return page_of(items, total, args)


@blp.route("/stock-alerts/<alert_id>/acknowledge")
class StockAlertAcknowledge(MethodView):
    @require("cards.manage")
    @blp.response(200, StockAlertSchema)
    @blp.doc(security=SECURED)
    def post(self, alert_id):
        """Mark an alert seen. Idempotent."""
        return stock_alerts.acknowledge_alert(id_or_404(alert_id))
