"""The supplier account's own endpoints (its session or its own API key):
``GET /me/supply`` (the products it supplies with their pools, and what
the shop owes it) and ``POST /me/supply/codes`` (codes for one of those
products; the answer counts what was added, held already, not a code).
Not a supplier account: 403; a product it does not supply (another shop's
included): 404; bad input: a problem document naming the field. Each
endpoint parses, calls ``app.supply.pool`` and renders."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.supply import pool
from app.supply.portal_schemas import CodesUpload, MySupplySchema, UploadResultSchema

blp = Blueprint("supplier_self_api", __name__, description="A supplier account's pool (供货)")
SECURED = [{"apiKey": []}]


def _account_id():
    return current_principal().shop_account_id


@blp.route("/me/supply")
class MySupply(MethodView):
    @require("supplier.stock")
    @blp.response(200, MySupplySchema)
    @blp.doc(security=SECURED)
    def get(self):
        """The products the caller supplies, each with its cost and how many
        of its codes are available and sold, and the caller's payable."""
        from tenants.models import current_shop_currency

        account_id = _account_id()
        return {
            "products": pool.supplied_products(account_id),
            "payable": pool.payable_of(account_id),
            "currency": current_shop_currency(),
        }


@blp.route("/me/supply/codes")
class MyCodes(MethodView):
    @require("supplier.stock")
    @blp.arguments(CodesUpload)
    @blp.response(201, UploadResultSchema)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Add codes to the caller's pool for one of its products. A code
        held already is counted, never stored twice; an item that is not a
        code is counted as invalid."""
        text, invalid = pool.join_codes(data["codes"])
        return pool.upload_codes(
            _account_id(),
            data["product_id"],
            text,
            actor=current_principal().actor,
            invalid=invalid,
        )
