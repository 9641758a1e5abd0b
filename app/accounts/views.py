"""Shop-account pages on a shop host: sign-up, sign-in, a forgotten
password (``/account/forgot`` mails a link to ``/account/reset/<token>``),
my account, my orders, my wallet (余额) with its entries, and recharging it
(充值).

Every page past sign-in is the signed-in account's own: a visitor who is
not signed in is sent to sign in and back; an operator's session (no shop
account) is refused. Views parse, call one service and render the theme's
page; amounts are typed as ``12.50`` and kept as minor units.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from app.accounts import reset_pages, resets, services
from app.accounts.auth import (
    current_principal,
    limit_reset_request,
    limit_sign_in,
    principal_for_shop_account,
    require,
    sign_in,
    sign_out,
    wallet_owner,
)
from app.accounts.forms import (
    LoginForm,
    RechargeForm,
    SignupForm,
)
from app.core.errors import KamengError, ValidationFailed
from app.core.links import shop_url
from app.core.money import decimal_text, money_formatter, parse_money
from app.core.pages import flash_error, only_on
from app.core.pagination import Pager, requested_page
from app.core.redirects import safe_local_target
from app.core.themes import render_shop
from app.extensions import db
from app.ledger import services as ledger
from app.orders import lookups
from app.payments import recharges
from app.payments.adapters.base import SUCCEEDED, ProviderError, ProviderUnavailable

bp = Blueprint("accounts", __name__, url_prefix="/account")
bp.before_request(only_on("shop"))


def _next_page() -> str:
    """Where to go after signing in or up: a local ``?next=``, else my account."""
    return safe_local_target(request.args.get("next"), url_for("accounts.me"))


@bp.route("/signup", methods=["GET", "POST"])
@limit_sign_in
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        try:
            account = services.create_shop_account(form.email.data, form.password.data)
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            sign_in(principal_for_shop_account(account), account)
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(_next_page())
    return render_shop("account/signup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in
def login():
    form = LoginForm()
    if form.validate_on_submit():
        account = services.authenticate_shop_account(form.email.data, form.password.data)
        if account is None:
            flash(_("Wrong email or password."), "error")
        else:
            sign_in(principal_for_shop_account(account), account, remember=form.remember.data)
            return redirect(_next_page())
    return render_shop("account/login.html", form=form)


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("index"))


ORDERS_PER_PAGE = 20
ENTRIES_PER_PAGE = 20


@bp.get("/")
@require("account.self")
def me():
    """The account at a glance: who, the balance, links to the rest."""
    account = services.get_shop_account(current_principal().id)
    return render_shop(
        "account/index.html",
        account=account,
        balance=ledger.wallet_balance(account.id),
        money=money_formatter(g.shop.currency),
    )


@bp.get("/orders")
@require("account.self")
def orders():
    """The account's orders in this shop, newest first, a page at a time."""
    page = requested_page(request.args.get("page"))
    rows, total = lookups.list_orders(
        buyer_id=current_principal().shop_account_id, page=page, per_page=ORDERS_PER_PAGE
    )
    return render_shop(
        "account/orders.html",
        orders=rows,
        pager=Pager(page, ORDERS_PER_PAGE, total),
        money=money_formatter(g.shop.currency),
    )


@bp.get("/wallet")
@require("wallet.self")
def wallet():
    """The balance and its entries (recharges, payments, refunds), newest
    first, a page at a time."""
    page = requested_page(request.args.get("page"))
    statement = ledger.wallet_page(wallet_owner(), page=page, per_page=ENTRIES_PER_PAGE)
    return render_shop(
        "account/wallet.html",
        wallet=statement,
        pager=Pager(page, ENTRIES_PER_PAGE, statement["total"]),
        can_recharge=bool(recharges.recharge_methods(on_pages=True)),
        money=money_formatter(statement["currency"]),
    )


@bp.route("/recharge", methods=["GET", "POST"])
@require("wallet.self")
def recharge():
    """Add money to the wallet through a provider the shop's pages can
    collect. ``?amount=`` (minor units) fills the amount in and ``?next=``
    (a path on this shop) is where the buyer goes once it is credited: the
    pay page links here with what the balance lacks."""
    account_id = wallet_owner()
    currency = g.shop.currency
    money = money_formatter(currency)
    methods = recharges.recharge_methods(on_pages=True)
    form = RechargeForm()
    problem = None
    if request.method == "GET":
        wanted = request.args.get("amount", type=int)
        form.amount.data = decimal_text(wanted, currency) if wanted and wanted > 0 else ""
        form.next.data = safe_local_target(request.args.get("next"), "")
    elif form.validate_on_submit():
        provider = request.form.get("provider", "")
        amount = _typed_amount(form, currency, money)
        if amount is not None and provider not in {m.name for m in methods}:
            problem = _("This payment method is not available. Choose another one.")
        elif amount is not None:
            try:
                _payment, started = recharges.start_recharge(
                    account_id, amount, provider, actor=current_principal().actor
                )
            except ValidationFailed:
                db.session.rollback()
                form.amount.errors = [_limit_message(money)]
            except (ProviderUnavailable, ProviderError):
                db.session.rollback()
                problem = _("The payment did not go through. Please try again.")
            else:
                if started.status == SUCCEEDED:
                    flash(
                        _(
                            "%(amount)s added. Your balance is %(balance)s.",
                            amount=money(amount),
                            balance=money(ledger.wallet_balance(account_id)),
                        ),
                        "success",
                    )
                else:
                    flash(_("Your balance grows as soon as the payment is confirmed."), "success")
                return redirect(safe_local_target(form.next.data, url_for(".wallet")))
    return render_shop(
        "account/recharge.html",
        form=form,
        methods=methods,
        balance=ledger.wallet_balance(account_id),
        problem=problem,
        money=money,
    )


def _limit_message(money) -> str:
    return _(
        "Recharge between %(low)s and %(high)s at a time.",
        low=money(1),
        high=money(recharges.recharge_limit()),
    )


def _typed_amount(form: RechargeForm, currency: str, money) -> int | None:
    """The amount typed, in minor units, or ``None`` with the reason on the
    field (the text typed stays in it)."""
    try:
        amount = parse_money(form.amount.data, currency)
    except ValueError:
        form.amount.errors = [
            _("Write an amount like %(example)s.", example=decimal_text(1250, currency))
        ]
        return None
    if not 1 <= amount <= recharges.recharge_limit():
        form.amount.errors = [_limit_message(money)]
        return None
    return amount


@bp.route("/forgot", methods=["GET", "POST"])
@limit_reset_request
def forgot():
    """Ask for a password link; the answer is the same for any address."""
    return reset_pages.forgot_page(
        resets.SHOP,
        lambda token: shop_url(g.shop.slug, url_for(".reset", token=token)),
        lambda **page: render_shop("account/forgot.html", **page),
        site_name=g.shop.name,
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit_sign_in
def reset(token: str):
    """Choose a new password through a mailed link; then sign in with it."""
    return reset_pages.reset_page(
        resets.SHOP,
        token,
        lambda **page: render_shop("account/reset.html", **page),
        url_for(".login"),
    )
