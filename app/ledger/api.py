"""Wallet endpoints: a signed-in shop account's balance and its history."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import require, wallet_owner
from app.ledger import services
from app.ledger.schemas import WalletQuery, WalletSchema

blp = Blueprint("wallet_api", __name__, description="The signed-in account's wallet (余额)")
SECURED = [{"apiKey": []}]


@blp.route("/me/wallet")
class Wallet(MethodView):
    @require("wallet.self")
    @blp.arguments(WalletQuery, location="query")
    @blp.response(200, WalletSchema)
    @blp.doc(security=SECURED)
    def get(self, args):
        """Balance and entries (newest first), in minor units of the shop's currency."""
        return services.wallet_page(wallet_owner(), page=args["page"], per_page=args["per_page"])
