"""The withdrawal page on a shop host (``/account/withdrawals``, 提现): the
balance, the shop's minimum and fee, the request form, and the account's
requests with their state (the payout's reference once paid, the reason
when refused). An agent withdraws from its wallet, a supplier account from
its payable (what the shop owes it for codes sold from its pool).

Only a signed-in shop account sees it; a buyer who is neither is told that
withdrawals are for agents. The form carries its own key, so sending
it twice asks once. A refusal (below the minimum, more than the balance,
too many requests waiting) is shown beside its field with what was typed
kept. The view parses, calls ``app.agents.withdrawals`` and renders.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import require, wallet_owner
from app.accounts.models import ROLE_SUPPLIER
from app.accounts.services import get_shop_account
from app.agents import withdrawals
from app.agents.withdrawal_forms import WithdrawalForm
from app.core.errors import KamengError
from app.core.money import decimal_text, money_formatter, parse_money
from app.core.pages import flash_error, only_on
from app.core.pagination import Pager, requested_page
from app.core.themes import render_shop
from app.extensions import db

bp = Blueprint("withdrawals_pages", __name__, url_prefix="/account")
bp.before_request(only_on("shop"))

PER_PAGE = 20


def percent_of_bps(bps: int) -> str:
    """Basis points as a percent people read: ``150`` → ``"1.5"``, ``0`` → ``"0"``."""
    whole, part = divmod(int(bps), 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".")


@bp.route("/withdrawals", methods=["GET", "POST"])
@require("account.self")
def withdrawals_page():
    account_id = wallet_owner()
    account = get_shop_account(account_id)
    terms = withdrawals.terms()
    money = money_formatter(terms.currency)
    form = WithdrawalForm()
    # ``is_agent`` (the theme contract's name): this account may withdraw
    is_agent = account.role in withdrawals.WITHDRAWING_ROLES
    if request.method == "POST" and is_agent and form.validate_on_submit():
        if _ask(account_id, form, terms):
            return redirect(url_for(".withdrawals_page"))
    if not form.form_key.data:
        form.form_key.data = uuid.uuid4().hex
    page = requested_page(request.args.get("page"))
    rows, total = withdrawals.list_withdrawals(account_id=account_id, page=page, per_page=PER_PAGE)
    return render_shop(
        "account/withdrawals.html",
        form=form,
        is_agent=is_agent,
        is_supplier=account.role == ROLE_SUPPLIER,
        terms=terms,
        fee_percent=percent_of_bps(terms.fee_bps),
        minimum_text=decimal_text(terms.minimum, terms.currency),
        balance=withdrawals.withdrawable_balance(account_id, account.role),
        open_count=withdrawals.open_count(account_id),
        withdrawals=[r.withdrawal for r in rows],
        pager=Pager(page, PER_PAGE, total),
        money=money,
    )


def _ask(account_id: uuid.UUID, form: WithdrawalForm, terms: withdrawals.Terms) -> bool:
    """Make the request; True when it stands (made now or before), else the
    reason is on the form."""
    try:
        amount = parse_money(form.amount.data, terms.currency)
    except ValueError:
        form.amount.errors = [
            _("Write an amount like %(example)s.", example=decimal_text(10000, terms.currency))
        ]
        return False
    try:
        done = withdrawals.request_withdrawal(
            account_id, amount, form.payout_account.data, key=form.form_key.data
        )
    except KamengError as err:
        db.session.rollback()
        flash_error(form, err)
        return False
    money = money_formatter(terms.currency)
    if done.made:
        flash(
            _(
                "Asked to withdraw %(amount)s; you receive %(payout)s once the shop pays it.",
                amount=money(done.withdrawal.amount),
                payout=money(done.withdrawal.amount - done.withdrawal.fee),
            ),
            "success",
        )
    else:
        flash(_("That request was made already; nothing more was done."), "success")
    return True
