"""Wallet endpoints: a signed-in shop account's balance and its history."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.core.errors import Forbidden
from app.ledger import services
from app.ledger.schemas import WalletQuery, WalletSchema

blp = Blueprint("wallet_api", __name__, description="The signed-in account's wallet (余额)")
SECURED = [{"apiKey": []}]


def wallet_owner():
    """The shop account whose wallet this request may use."""
    principal = current_principal()
    if principal.kind != "shop_account":
        raise Forbidden("Only a shop account has a wallet.")
    return principal.id


@blp.route("/me/wallet")
class Wallet(MethodView):
    @require("wallet.self")
    @blp.arguments(WalletQuery, location="query")
    @blp.response(200, WalletSchema)
    @blp.doc(security=SECURED)
    def get(self, args):
        """Balance and entries (newest first), in minor units of the shop's currency."""
        return services.wallet_page(wallet_owner(), page=args["page"], per_page=args["per_page"])
