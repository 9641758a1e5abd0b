"""Withdrawal endpoints (提现).

- An agent (its session or its own API key): ``POST /me/withdrawals`` asks
  to withdraw (idempotent by ``Idempotency-Key``), ``GET /me/withdrawals``
  lists its requests with the shop's terms and its balance.
- The shop's owner (``withdrawals.manage``): ``GET /withdrawals`` (filter by
  status, paged), ``POST /withdrawals/{id}/approve`` with the payout's
  reference, ``POST /withdrawals/{id}/reject`` with a reason (the money
  returns to the wallet). A withdrawal is decided once: a second decision
  is 409 ``withdrawal-already-decided`` and moves nothing. Another shop's
  id is 404.

Each endpoint parses, calls one service of ``app.agents.withdrawals`` and
renders its result.
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require, wallet_owner
from app.agents import withdrawals
from app.agents.withdrawals_schemas import (
    ApproveRequest,
    MyWithdrawalPage,
    OperatorWithdrawalSchema,
    RejectRequest,
    WithdrawalCreate,
    WithdrawalPage,
    WithdrawalQuery,
    WithdrawalSchema,
)
from app.core.ids import id_or_404
from app.core.pagination import page_of

blp = Blueprint("withdrawals_api", __name__, description="Agents' withdrawals (提现)")
SECURED = [{"apiKey": []}]
IDEMPOTENCY_PARAM = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": withdrawals.MAX_KEY},
    "description": "The same key from the same agent returns the first request (200) and "
    "moves no more money; with another body it is refused (409).",
}


def body(withdrawal, email: str | None = None, role: str | None = None) -> dict:
    out = {
        name: getattr(withdrawal, name)
        for name in (
            "id",
            "amount",
            "fee",
            "currency",
            "payout_account",
            "status",
            "reference",
            "created_at",
            "decided_at",
            "account_id",
            "decided_by",
        )
    }
    out["payout"] = withdrawal.amount - withdrawal.fee
    if email is not None:
        out["email"] = email
    if role is not None:
        out["role"] = role
    return out


@blp.route("/me/withdrawals")
class MyWithdrawals(MethodView):
    @require("account.self")
    @blp.arguments(WithdrawalCreate)
    @blp.response(201, WithdrawalSchema)
    @blp.alt_response(200, schema=WithdrawalSchema, description="A replay of the same request.")
    @blp.doc(parameters=[IDEMPOTENCY_PARAM], security=SECURED)
    def post(self, data):
        """Ask to withdraw from the wallet (an agent) or the payable (a supplier).

        The amount leaves the wallet at once and waits for the shop's
        decision; the fee is fixed now. Below the shop's minimum: 422;
        more than the balance: 402 ``insufficient-funds``; already
        ``max_open`` requests waiting: 409 ``too-many-open-withdrawals``;
        neither an agent nor a supplier: 403."""
        key = (request.headers.get("Idempotency-Key") or "").strip() or None
        done = withdrawals.request_withdrawal(
            wallet_owner(), data["amount"], data["payout_account"], key=key
        )
        return body(done.withdrawal), 201 if done.made else 200

    @require("account.self")
    @blp.arguments(WithdrawalQuery, location="query")
    @blp.response(200, MyWithdrawalPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The caller's withdrawal requests (newest first), the shop's terms
        (minimum, fee) and the balance one may withdraw (an agent's wallet,
        a supplier's payable)."""
        account_id = wallet_owner()
        rows, total = withdrawals.list_withdrawals(
            status=args.get("status"),
            account_id=account_id,
            page=args["page"],
            per_page=args["per_page"],
        )
        terms = withdrawals.terms()
        return {
            **page_of([body(r.withdrawal) for r in rows], total, args),
            "terms": terms,
            "balance": withdrawals.withdrawable_balance(account_id),
        }


@blp.route("/withdrawals")
class Withdrawals(MethodView):
    @require("withdrawals.manage")
    @blp.arguments(WithdrawalQuery, location="query")
    @blp.response(200, WithdrawalPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """The shop's withdrawal requests, newest first (the owner)."""
        rows, total = withdrawals.list_withdrawals(
            status=args.get("status"), page=args["page"], per_page=args["per_page"]
        )
        return page_of([body(r.withdrawal, r.email, r.role) for r in rows], total, args)


@blp.route("/withdrawals/<withdrawal_id>/approve")
class WithdrawalApprove(MethodView):
    @require("withdrawals.manage")
    @blp.arguments(ApproveRequest)
    @blp.response(200, OperatorWithdrawalSchema)
    @blp.doc(security=SECURED)
    def post(self, data, withdrawal_id: str):
        """Record that the shop paid the withdrawal out, with the payout's
        reference. The fee stays with the shop. Decided once (409 after)."""
        done = withdrawals.approve(
            id_or_404(withdrawal_id, "No such withdrawal."),
            data["reference"],
            current_principal().actor,
        )
        return body(done)


@blp.route("/withdrawals/<withdrawal_id>/reject")
class WithdrawalReject(MethodView):
    @require("withdrawals.manage")
    @blp.arguments(RejectRequest)
    @blp.response(200, OperatorWithdrawalSchema)
    @blp.doc(security=SECURED)
    def post(self, data, withdrawal_id: str):
        """Refuse the withdrawal: its whole amount returns to the agent's
        wallet. Decided once (409 after)."""
        done = withdrawals.reject(
            id_or_404(withdrawal_id, "No such withdrawal."),
            data["reason"],
            current_principal().actor,
        )
        return body(done)
