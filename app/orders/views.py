"""The buyer's pages: buy form, pay page, order page and order look-up.

``/buy/<product>`` places the order (at the buyer's price, with a coupon
code when one is typed) and sends the buyer to
``/o/<number>/pay?t=<token>``; a signed-in buyer may instead press "Pay
from my balance", which buys, pays and delivers in that one request
(``app.orders.wallet_purchase``) and goes straight to the order page;
paying leads to ``/o/<number>?t=<token>``,
which refreshes itself (a few lines of JS polling the order API, a meta
refresh without JS) until the codes are there. The token in the address is
the buyer's key to the order; the session also remembers the last orders a
browser placed or opened, so ``/lookup`` lists them. A signed-in buyer
reaches their own orders without a token. In a sub-shop (分站) the buy
page is ``/s/<code>/buy/<product>``: the sub-shop's prices and title, and
the order records the sub-shop; its pay and order pages then wear the
sub-shop's title too.

Views parse the form, call one service and render; errors from the services
become messages on the page, in the buyer's language.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from app.accounts.auth import current_principal
from app.billing.limits import PlanLimitReached
from app.catalog import browse
from app.catalog import services as catalog
from app.catalog.stock import OutOfStock
from app.core.errors import KamengError, NotFound, ValidationFailed
from app.core.ids import id_or_404
from app.core.money import money_formatter
from app.core.pages import only_on
from app.core.themes import render_shop
from app.extensions import db
from app.ledger import services as ledger
from app.orders import checkout, lookups, payment, wallet_purchase
from app.orders.limits import limit_create, limit_lookup
from app.orders.models import CANCELLED, PENDING, Order
from app.payments import registry
from app.payments.adapters.base import ProviderUnavailable
from app.pricing import coupons
from app.pricing import rules as pricing
from app.storefront import sub_shops

bp = Blueprint("orders_pages", __name__)
bp.before_request(only_on("shop"))

#: The order pages a link with a lookup token (``?t=``) may open.
TOKEN_PAGES = frozenset({"orders_pages.order_page", "orders_pages.pay"})


@bp.before_request
def _token_leaves_the_address():
    """A link that carries the order's token (from the mail, the API, an
    integrator) opens the order once: the token is kept in this browser's
    session and the browser is sent to the same page without it, so it
    stays out of the history, bookmarks, screenshots and server logs. A
    wrong token changes nothing (the page then answers 404 as before)."""
    token = request.args.get("t")
    if request.method != "GET" or not token or request.endpoint not in TOKEN_PAGES:
        return None
    number = (request.view_args or {}).get("number", "")
    try:
        order = lookups.order_for_buyer(number, token=token)
    except NotFound:
        return None
    _remember(order)
    return redirect(url_for(request.endpoint, number=order.number), code=303)


@bp.after_request
def _never_stored(response):
    # Order pages show codes, balances and payment state: no cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


RECENT_KEY = "recent_orders"
RECENT_MAX = 10


class BuyForm(FlaskForm):
    quantity = IntegerField(
        _l("Quantity"),
        # The limits are the product's: checked in the view, which knows it.
        validators=[InputRequired(_l("Enter how many you want."))],
    )
    email = EmailField(
        _l("Email for delivery"),
        validators=[DataRequired(_l("Enter the email the codes go to.")), Length(max=254)],
    )
    coupon = StringField(
        _l("Coupon code (optional)"),
        validators=[
            Length(
                max=coupons.MAX_CODE,
                message=_l("A coupon code has at most %(max)d characters."),
            )
        ],
    )
    idempotency_key = HiddenField()


class PayForm(FlaskForm):
    """CSRF only: the clicked button names the provider."""


class LookupForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    # Room for a number pasted with spaces; ``lookups`` tidies it.
    number = StringField(
        _l("Order number"),
        validators=[DataRequired(), Length(max=lookups.MAX_TYPED_NUMBER)],
    )


# --- helpers ----------------------------------------------------------------


def _remember(order: Order) -> None:
    """Keep the order in this browser's list of recent orders."""
    token = lookups.lookup_token(order.id)
    recent = [r for r in session.get(RECENT_KEY, []) if r and r[0] != order.number]
    session[RECENT_KEY] = [[order.number, token], *recent][:RECENT_MAX]


def _remembered_token(number: str) -> str | None:
    for entry in session.get(RECENT_KEY, []):
        if entry and entry[0] == number:
            return entry[1]
    return None


def _buyer_order(number: str) -> tuple[Order, str]:
    """The order if this browser holds it (token in the address, remembered
    in the session, or the signed-in buyer's own); a 404 page otherwise."""
    token = request.args.get("t") or _remembered_token(number)
    buyer_id = current_principal().shop_account_id
    order = lookups.order_for_buyer(number, token=token, buyer_id=buyer_id)
    return order, lookups.lookup_token(order.id)


def _payment_message(err: KamengError) -> str:
    if isinstance(err, payment.OrderNotPayable):
        return _("This order can no longer be paid. Place a new order.")
    if isinstance(err, ledger.InsufficientFunds):
        return _("Your balance is too low for this order. Choose another way to pay.")
    if isinstance(err, ProviderUnavailable):
        return _("This payment method is not available. Choose another one.")
    if isinstance(err, OutOfStock):
        return _("Sorry, this product sold out while you were paying.")
    return _("The payment did not go through. Please try again.")


# --- buy ----------------------------------------------------------------------


def _buyer_audience(code: str | None):
    """The signed-in buyer's prices, or in the sub-shop ``code`` the
    sub-shop's, whose title and links the page then wears (404 when the
    sub-shop is not open). Returns ``(audience, sub_shop_id)``."""
    buyer_id = current_principal().shop_account_id
    if code is None:
        return pricing.Audience.of(buyer_id), None
    front = sub_shops.open_sub_shop(code)
    g.sub_shop = front
    g.shop = sub_shops.dressed(g.shop, front)
    return pricing.audience_for(buyer_id, front.id), front.id


def _wear_sub_shop_of(order: Order) -> None:
    """An order placed in a sub-shop shows its pages in the sub-shop's
    title, with links back into it (while the sub-shop is open)."""
    front = sub_shops.sub_shop_by_id(order.sub_shop_id)
    if front is not None:
        g.sub_shop = front
        g.shop = sub_shops.dressed(g.shop, front)


@bp.route("/buy/<product_id>", methods=["GET", "POST"])
@bp.route("/s/<code>/buy/<product_id>", methods=["GET", "POST"])
@limit_create
def buy(product_id: str, code: str | None = None):
    """The buy form of a product on sale: quantity, email, the product's
    inputs and a coupon code, at the buyer's price (in a sub-shop, the
    sub-shop's; the order records the sub-shop)."""
    ident = id_or_404(product_id, "No such product.")
    audience, sub_shop_id = _buyer_audience(code)
    item = browse.product_page(ident, audience)
    principal = current_principal()
    form = BuyForm()
    if request.method == "GET":
        form.quantity.data = request.args.get("quantity", type=int) or item.min_quantity
        form.coupon.data = request.args.get("coupon", "")[: coupons.MAX_CODE]
        if principal.kind == "shop_account":
            form.email.data = principal.email
        form.idempotency_key.data = uuid.uuid4().hex
    fields = item.input_fields or []
    # The product page's buy box sends its answers along (a GET, so it can
    # be cached); the form itself posts them.
    given = request.form if request.method == "POST" else request.args
    answers = {f["name"]: given.get(f"input-{f['name']}", "")[:500] for f in fields}
    input_errors: dict[str, str] = {}
    problem = None
    if form.validate_on_submit():
        quantity = form.quantity.data
        if not item.min_quantity <= quantity <= item.max_quantity:
            form.quantity.errors = [
                str(checkout.quantity_bounds_message(item.min_quantity, item.max_quantity))
            ]
        else:
            try:
                order = _place(item, form, answers, principal, sub_shop_id, _pays_now(principal))
            except coupons.CouponRefused as err:
                db.session.rollback()
                form.coupon.errors = [err.user_message()]
            except OutOfStock as err:
                left = int(err.extra.get("available", 0))
                problem = (
                    _("Sorry, %(name)s is sold out.", name=item.name)
                    if left == 0
                    else _("Only %(count)s left. Choose fewer.", count=left)
                )
            except ValidationFailed as err:
                problem = _form_errors(err, form, answers, input_errors)
            except (checkout.TooManyUnpaidOrders, checkout.IdempotencyKeyTooShort) as err:
                db.session.rollback()
                problem = err.user_message()
                form.idempotency_key.data = uuid.uuid4().hex
            except PlanLimitReached:  # the shop's monthly orders: the operator's matter
                db.session.rollback()
                problem = _("This shop is not taking orders right now. Please try again later.")
            except (ledger.InsufficientFunds, ProviderUnavailable) as err:
                db.session.rollback()
                problem = _payment_message(err)
            else:
                _remember(order)
                if order.status != PENDING:
                    return redirect(url_for(".order_page", number=order.number))
                return redirect(url_for(".pay", number=order.number))
            # Stock may have moved meanwhile: show what is left now.
            item = browse.product_page(ident, audience)
    wallet = _wallet_offered(principal)
    return render_shop(
        "product_buy.html",
        item=item,
        form=form,
        answers=answers,
        input_errors=input_errors,
        problem=problem,
        wallet=wallet,
        balance=ledger.wallet_balance(principal.shop_account_id) if wallet else None,
        money=money_formatter(g.shop.currency),
    )


def _wallet_offered(principal):
    """The balance adapter when this buyer may buy with their balance from
    the buy form (a signed-in shop account, in a shop that takes it)."""
    if principal.shop_account_id is None:
        return None
    return next((a for a in registry.available() if a.pays_from_wallet), None)


def _pays_now(principal) -> bool:
    """The buy form was sent with "pay from my balance": one request buys,
    pays and delivers (``wallet_purchase``)."""
    chosen = request.form.get("pay", "")
    return (
        bool(chosen)
        and principal.shop_account_id is not None
        and chosen == getattr(_wallet_offered(principal), "name", None)
    )


def _place(
    item, form: BuyForm, answers: dict, principal, sub_shop_id=None, pay_now: bool = False
) -> Order:
    """Create the order (and with ``pay_now`` pay it from the balance and
    deliver it, in one transaction); a resent form (same key, same
    answers) gives the same order, a form changed and sent again a new one."""
    arguments = dict(
        product_id=item.id,
        quantity=form.quantity.data,
        email=form.email.data,
        inputs={k: v for k, v in answers.items() if v.strip()},
        buyer_id=principal.shop_account_id,
        actor=principal.actor,
        currency=g.shop.currency,
        caller=checkout.Caller.of(principal, request.remote_addr),
        coupon=(form.coupon.data or "").strip() or None,
        sub_shop_id=sub_shop_id,
    )
    key = (form.idempotency_key.data or "")[:120] or None
    if pay_now:

        def place(**kw) -> Order:
            return wallet_purchase.buy_with_wallet(**kw).order
    else:

        def place(**kw) -> Order:
            return checkout.create_order(**kw)[0]

    try:
        return place(idempotency_key=key, **arguments)
    except checkout.IdempotencyMismatch:
        db.session.rollback()
        return place(idempotency_key=uuid.uuid4().hex, **arguments)


def _form_errors(err: ValidationFailed, form: BuyForm, answers: dict, input_errors: dict):
    """Put the service's field errors on the form, in the buyer's language;
    returns a message for what no field explains."""
    db.session.rollback()
    leftover = False
    for name in err.errors or {}:
        if name == "quantity":
            form.quantity.errors = [err.user_message()]
        elif name == "email":
            form.email.errors = [_("That email address is not valid.")]
        elif name in answers:
            input_errors[name] = (
                _("Please fill this in.")
                if not answers[name].strip()
                else _("This is not in the expected format.")
            )
        else:
            leftover = True
    if leftover or not err.errors:
        return _("Some details are missing or invalid. Check the form and try again.")
    return None


# --- pay ----------------------------------------------------------------------


@bp.route("/o/<number>/pay", methods=["GET", "POST"])
def pay(number: str):
    """The ways to pay an unpaid order; a paid one goes to its order page."""
    order, token = _buyer_order(number)
    if order.status != PENDING:
        return redirect(url_for(".order_page", number=order.number))
    _wear_sub_shop_of(order)
    principal = current_principal()
    buyer_id = principal.shop_account_id
    form = PayForm()
    problem = None
    view = lookups.buyer_view(order, buyer_id, on_pages=True)
    offer = lookups.pay_choices(order, view.payment_options, buyer_id)
    if form.validate_on_submit() and not view.expired:
        provider = request.form.get("provider", "")
        if provider not in offer.providers:
            problem = (
                _("Your balance is too low for this order. Choose another way to pay.")
                if provider in view.payment_options
                else _("This payment method is not available. Choose another one.")
            )
        else:
            try:
                payment.pay_order(order, provider, buyer_id=buyer_id, actor=principal.actor)
            except KamengError as err:
                db.session.rollback()
                problem = _payment_message(err)
            else:
                return redirect(url_for(".order_page", number=order.number))
        view = lookups.buyer_view(lookups.get_order_by_id(order.id), buyer_id, on_pages=True)
        offer = lookups.pay_choices(view.order, view.payment_options, buyer_id)
    return render_shop(
        "pay.html",
        order=view.order,
        view=view,
        token=token,
        form=form,
        choices=[registry.adapter(name) for name in offer.providers],
        balance=offer.balance,
        shortfall=offer.shortfall,
        expired=view.expired,
        problem=problem,
        money=money_formatter(view.order.currency),
    )


# --- the order ------------------------------------------------------------------


@bp.get("/o/<number>")
def order_page(number: str):
    """The order: status, what was paid and, once delivered, the codes with
    copy buttons. Refreshes itself while the order is on its way."""
    order, token = _buyer_order(number)
    _remember(order)
    _wear_sub_shop_of(order)
    view = lookups.buyer_view(order, current_principal().shop_account_id, on_pages=True)
    product_on_sale = True
    try:
        catalog.get_product(order.product_id, public=True)
    except NotFound:
        product_on_sale = False
    return render_shop(
        "order.html",
        order=order,
        view=view,
        token=token,
        codes=view.codes or [],
        history=view.history,
        expired=view.expired,
        waiting=view.waiting,
        cancelled=order.status == CANCELLED,
        product_on_sale=product_on_sale,
        money=money_formatter(order.currency),
    )


@bp.route("/lookup", methods=["GET", "POST"])
@limit_lookup
def lookup():
    """Find an order by email and number (查单), and this browser's recent
    orders (and, for a signed-in buyer, their own)."""
    form = LookupForm()
    problem = None
    if form.validate_on_submit():
        try:
            order = lookups.order_by_email(form.email.data, form.number.data)
        except NotFound:
            problem = _("No order has this number and email. Check both and try again.")
        else:
            _remember(order)
            return redirect(url_for(".order_page", number=order.number))
    buyer_id = current_principal().shop_account_id
    mine = lookups.list_orders(buyer_id=buyer_id, per_page=20)[0] if buyer_id else []
    shown = {o.number for o in mine}
    remembered = [r for r in session.get(RECENT_KEY, []) if r and r[0] not in shown]
    recent = lookups.recent_orders_for_browser(remembered)
    return render_shop(
        "lookup.html",
        form=form,
        problem=problem,
        mine=mine,
        recent=recent,
        money=money_formatter(g.shop.currency),
    )
