"""Suppliers and product sources endpoints (the operator's).

Reads need ``supply.view`` (owner and staff), writes ``supply.manage`` (the
owner, or an owner's API key); every write is on the audit record. Each
endpoint parses, calls one service function of ``app.supply.suppliers`` or
``app.supply.sources`` (the console's too) and renders its result. Another
shop's ids answer 404, and a body naming another shop's supplier or
account is refused (422) as naming nothing.
"""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.core.ids import id_or_404
from app.core.pagination import page_of
from app.supply import sources, suppliers
from app.supply.schemas import (
    SourceList,
    SourceSchema,
    SourceWrite,
    SupplierPage,
    SupplierQuery,
    SupplierSchema,
    SupplierWrite,
)

blp = Blueprint("suppliers_api", __name__, description="Suppliers and product sources")
SECURED = [{"apiKey": []}]


def _actor() -> str:
    return current_principal().actor


@blp.route("/suppliers")
class Suppliers(MethodView):
    @require("supply.view")
    @blp.arguments(SupplierQuery, location="query")
    @blp.response(200, SupplierPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """Suppliers by name, a page at a time, each with its score; filter
        by ``status``."""
        rows, total = suppliers.list_suppliers(
            status=args.get("status"), page=args["page"], per_page=args["per_page"]
        )
        return page_of(rows, total, args)

    @require("supply.manage")
    @blp.arguments(SupplierWrite)
    @blp.response(201, SupplierSchema)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Add a supplier (409 for a taken name, or when the shop holds 200)."""
        return suppliers.create_supplier(data, actor=_actor())


@blp.route("/suppliers/<supplier_id>")
class SupplierItem(MethodView):
    @require("supply.view")
    @blp.response(200, SupplierSchema)
    @blp.doc(security=SECURED)
    def get(self, supplier_id):
        """One supplier with its score."""
        return suppliers.get_supplier(id_or_404(supplier_id))

    @require("supply.manage")
    @blp.arguments(SupplierWrite)
    @blp.response(200, SupplierSchema)
    @blp.doc(security=SECURED)
    def patch(self, data, supplier_id):
        """Change the given fields: vet (``status: active``), suspend,
        blacklist, new credentials, deposit, note."""
        return suppliers.update_supplier(id_or_404(supplier_id), data, actor=_actor())

    @require("supply.manage")
    @blp.response(204)
    @blp.doc(security=SECURED)
    def delete(self, supplier_id):
        """Delete a supplier and its sources (409 once it has supplied orders)."""
        suppliers.delete_supplier(id_or_404(supplier_id), actor=_actor())
        return Response(status=204)


@blp.route("/products/<product_id>/sources")
class Sources(MethodView):
    @require("supply.view")
    @blp.response(200, SourceList)
    @blp.doc(security=SECURED)
    def get(self, product_id):
        """The product's sources, highest priority first."""
        return {"items": sources.list_sources(id_or_404(product_id))}

    @require("supply.manage")
    @blp.arguments(SourceWrite)
    @blp.response(201, SourceSchema)
    @blp.doc(security=SECURED)
    def post(self, data, product_id):
        """Link the product to a supplier (409 for a pair it has, or when it
        holds 10 sources; 422 for a blacklisted supplier)."""
        return sources.add_source(id_or_404(product_id), data, actor=_actor())


@blp.route("/products/<product_id>/sources/<source_id>")
class SourceItem(MethodView):
    @require("supply.manage")
    @blp.arguments(SourceWrite)
    @blp.response(200, SourceSchema)
    @blp.doc(security=SECURED)
    def patch(self, data, product_id, source_id):
        """Change the given fields of a source."""
        return sources.update_source(
            id_or_404(product_id), id_or_404(source_id), data, actor=_actor()
        )

    @require("supply.manage")
    @blp.response(204)
    @blp.doc(security=SECURED)
    def delete(self, product_id, source_id):
        """Unlink a source from its product."""
        sources.remove_source(id_or_404(product_id), id_or_404(source_id), actor=_actor())
        return Response(status=204)
