"""Payments endpoints of a shop account: recharging its wallet (充值)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import require, wallet_owner
from app.core.ids import id_or_404
from app.ledger import services as ledger
from app.payments import recharges
from app.payments.schemas import RechargeCreate, RechargeSchema

blp = Blueprint("payments_api", __name__, description="Wallet recharges")
SECURED = [{"apiKey": []}]


def _recharge_body(payment, details: dict | None = None) -> dict:
    body = {name: getattr(payment, name) for name in ("id", "status", "amount", "currency")}
    body.update(
        provider=payment.provider,
        created_at=payment.created_at,
        confirmed_at=payment.confirmed_at,
        balance=ledger.wallet_balance(payment.account_id),
        payment_intent=payment.provider_ref if payment.provider_ref.startswith("pi_") else None,
        client_secret=(details or {}).get("client_secret"),
    )
    return body


@blp.route("/me/wallet/recharge")
class Recharge(MethodView):
    @require("wallet.self")
    @blp.arguments(RechargeCreate)
    @blp.response(201, RechargeSchema)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Recharge the wallet: ``sandbox`` credits it at once; ``stripe`` answers
        a ``client_secret`` to pay with, and Stripe's webhook credits it."""
        account_id = wallet_owner()
        payment, started = recharges.start_recharge(
            account_id, data["amount"], data["provider"], actor=f"account:{account_id}"
        )
        return _recharge_body(payment, started.details)


@blp.route("/me/wallet/recharges/<payment_id>")
class RechargeItem(MethodView):
    @require("wallet.self")
    @blp.response(200, RechargeSchema)
    @blp.doc(security=SECURED)
    def get(self, payment_id):
        """One of the account's recharges (poll it after paying with Stripe)."""
        ident = id_or_404(payment_id, "No such recharge.")
        return _recharge_body(recharges.get_recharge(wallet_owner(), ident))
