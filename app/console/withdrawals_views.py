"""The console's withdrawals (提现审核, ``/console/withdrawals``): every
agent's request with its amount, fee, payout and where to pay it, filtered
by status and agent, paged; the owner approves one with the payout's
reference (after paying it outside: bank, Alipay …) or rejects it with a
reason (the money returns to the agent's balance).

Both ask first (``confirm_button``) and are decided once: a second click,
or a second owner, is told it was decided already and nothing moves. A
missing reference or reason is shown at the row's form with what was typed
kept. Owner only (``withdrawals.manage``). Views parse, call
``app.agents.withdrawals`` and render.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import current_principal, require
from app.agents import withdrawals
from app.agents.models import WITHDRAWAL_STATUSES
from app.core.errors import KamengError, NotFound
from app.core.ids import id_or_404
from app.core.money import money_formatter
from app.core.pages import only_on
from app.core.pagination import Pager, requested_page
from app.extensions import db

bp = Blueprint("console_withdrawals", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PER_PAGE = 50
LIST_ARGS = ("status", "agent", "page")


def _typed(source) -> dict:
    typed = {key: (source.get(key) or "").strip()[:254] for key in ("status", "agent")}
    if typed["status"] not in WITHDRAWAL_STATUSES:
        typed["status"] = ""
    return typed


def _list(typed: dict, page: int, failed: dict | None = None, status: int = 200):
    rows, total = withdrawals.list_withdrawals(
        status=typed["status"] or None,
        email_part=typed["agent"] or None,
        page=page,
        per_page=PER_PAGE,
    )
    link_args = {k: v for k, v in typed.items() if v}
    return (
        render_template(
            "console/agents/withdrawals.html",
            rows=rows,
            pager=Pager(page, PER_PAGE, total),
            typed=typed,
            link_args=link_args,
            back_args={**link_args, **({"page": page} if page > 1 else {})},
            statuses=WITHDRAWAL_STATUSES,
            waiting=withdrawals.list_withdrawals(status="requested", per_page=1)[1],
            terms=withdrawals.terms(),
            failed=failed or {},
            money=money_formatter(g.shop.currency),
        ),
        status,
    )


@bp.get("/withdrawals")
@require("withdrawals.manage")
def withdrawals_list():
    return _list(_typed(request.args), requested_page(request.args.get("page")))


def _decide(withdrawal_id: str, action: str):
    ident = id_or_404(withdrawal_id, NotFound.title)
    field = "reference" if action == "approve" else "reason"
    text = request.form.get(field, "")
    decide = withdrawals.approve if action == "approve" else withdrawals.reject
    typed = _typed(request.form)
    page = requested_page(request.form.get("page"))
    try:
        done = decide(ident, text, current_principal().actor)
    except KamengError as err:
        db.session.rollback()
        if isinstance(err, withdrawals.WithdrawalDecided) or err.status == 404:
            flash(err.user_message(), "error")
        else:
            failed = {"id": ident, "action": action, "text": text, "error": err.user_message()}
            return _list(typed, page, failed, 422)
    else:
        money = money_formatter(done.currency)
        if action == "approve":
            message = _(
                "Marked as paid: %(payout)s to %(account)s.",
                payout=money(done.amount - done.fee),
                account=done.payout_account,
            )
        else:
            message = _(
                "Refused: %(amount)s went back to the agent's balance.", amount=money(done.amount)
            )
        flash(message, "success")
    back = {k: v for k, v in typed.items() if v}
    if page > 1:
        back["page"] = page
    return redirect(url_for(".withdrawals_list", **back))


@bp.post("/withdrawals/<withdrawal_id>/approve")
@require("withdrawals.manage")
def approve(withdrawal_id: str):
    return _decide(withdrawal_id, "approve")


@bp.post("/withdrawals/<withdrawal_id>/reject")
@require("withdrawals.manage")
def reject(withdrawal_id: str):
    return _decide(withdrawal_id, "reject")
