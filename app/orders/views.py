"""The buyer's pages: buy form, pay page, order page and order look-up.

``/buy/<product>`` places the order and sends the buyer to
``/o/<number>/pay?t=<token>``; paying leads to ``/o/<number>?t=<token>``,
which refreshes itself (a few lines of JS polling the order API, a meta
refresh without JS) until the codes are there. The token in the address is
the buyer's key to the order; the session also remembers the last orders a
browser placed or opened, so ``/lookup`` lists them. A signed-in buyer
reaches their own orders without a token.

Views parse the form, call one service and render; errors from the services
become messages on the page, in the buyer's language.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import Blueprint, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from app.accounts.auth import current_principal
from app.catalog import services as catalog
from app.catalog.stock import OutOfStock
from app.core.errors import KamengError, NotFound, ValidationFailed
from app.core.ids import parse_uuid
from app.core.money import format_money
from app.core.pages import only_on
from app.core.themes import render_shop
from app.extensions import db
from app.ledger import services as ledger
from app.orders import services
from app.orders.api import actor_of, buyer_id_of, limit_lookup
from app.orders.models import (
    CANCELLED,
    EXPIRED,
    FULFILLING,
    PAID,
    PENDING,
    Order,
)
from app.payments import providers

bp = Blueprint("orders_pages", __name__)
bp.before_request(only_on("shop"))

RECENT_KEY = "recent_orders"
RECENT_MAX = 10
#: payment methods the pages offer (Stripe needs Stripe.js on the page: not yet)
PAGE_PROVIDERS = ("wallet", "sandbox")
#: statuses the order page keeps refreshing in
WAITING = (PENDING, PAID, FULFILLING)


class BuyForm(FlaskForm):
    quantity = IntegerField(
        _l("Quantity"),
        validators=[InputRequired(_l("Enter how many you want.")), NumberRange(min=1)],
    )
    email = EmailField(
        _l("Email for delivery"),
        validators=[DataRequired(_l("Enter the email the codes go to.")), Length(max=254)],
    )
    idempotency_key = HiddenField()


class PayForm(FlaskForm):
    """CSRF only: the clicked button names the provider."""


class LookupForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    number = StringField(_l("Order number"), validators=[DataRequired(), Length(max=20)])


# --- helpers ----------------------------------------------------------------


def _remember(order: Order) -> None:
    """Keep the order in this browser's list of recent orders."""
    token = services.lookup_token(order.id)
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
    order = services.order_for_buyer(number, token=token, buyer_id=buyer_id_of(current_principal()))
    return order, services.lookup_token(order.id)


def _expired(order: Order) -> bool:
    if order.status == EXPIRED:
        return True
    expires = order.expires_at if order.expires_at.tzinfo else order.expires_at.replace(tzinfo=UTC)
    return order.status == PENDING and expires <= datetime.now(UTC)


def _money(order_or_currency):
    currency = getattr(order_or_currency, "currency", order_or_currency)
    return lambda minor: format_money(int(minor), currency)


def _payment_message(err: KamengError) -> str:
    if isinstance(err, services.OrderNotPayable):
        return _("This order can no longer be paid. Place a new order.")
    if isinstance(err, ledger.InsufficientFunds):
        return _("Your balance is too low for this order. Choose another way to pay.")
    if isinstance(err, providers.ProviderUnavailable):
        return _("This payment method is not available. Choose another one.")
    if isinstance(err, OutOfStock):
        return _("Sorry, this product sold out while you were paying.")
    return _("The payment did not go through. Please try again.")


# --- buy ----------------------------------------------------------------------


@bp.route("/buy/<product_id>", methods=["GET", "POST"])
def buy(product_id: str):
    """The buy form of a product on sale: quantity, email, the product's inputs."""
    ident = parse_uuid(product_id)
    if ident is None:
        raise NotFound("No such product.")
    item = catalog.get_product(ident, public=True)
    principal = current_principal()
    form = BuyForm()
    if request.method == "GET":
        form.quantity.data = request.args.get("quantity", type=int) or item.min_quantity
        if principal.kind == "shop_account":
            form.email.data = principal.email
        form.idempotency_key.data = uuid.uuid4().hex
    fields = item.input_fields or []
    answers = {f["name"]: request.form.get(f"input-{f['name']}", "") for f in fields}
    input_errors: dict[str, str] = {}
    problem = None
    if form.validate_on_submit():
        quantity = form.quantity.data
        if not item.min_quantity <= quantity <= item.max_quantity:
            form.quantity.errors = [
                _("Choose %(min)s to %(max)s.", min=item.min_quantity, max=item.max_quantity)
            ]
        else:
            try:
                order = _place(item, form, answers, principal)
            except OutOfStock as err:
                left = int(err.extra.get("available", 0))
                problem = (
                    _("Sorry, %(name)s is sold out.", name=item.name)
                    if left == 0
                    else _("Only %(count)s left. Choose fewer.", count=left)
                )
            except ValidationFailed as err:
                problem = _form_errors(err, form, answers, input_errors)
            else:
                _remember(order)
                token = services.lookup_token(order.id)
                return redirect(url_for(".pay", number=order.number, t=token))
            # Stock may have moved meanwhile: show what is left now.
            item = catalog.get_product(ident, public=True)
    return render_shop(
        "product_buy.html",
        item=item,
        form=form,
        answers=answers,
        input_errors=input_errors,
        problem=problem,
        money=_money(g.shop.currency),
    )


def _place(item, form: BuyForm, answers: dict, principal) -> Order:
    """Create the order; a resent form (same key, same answers) gives the
    same order, a form changed and sent again a new one."""
    arguments = dict(
        product_id=item.id,
        quantity=form.quantity.data,
        email=form.email.data,
        inputs={k: v for k, v in answers.items() if v.strip()},
        buyer_id=buyer_id_of(principal),
        actor=actor_of(principal),
        currency=g.shop.currency,
    )
    key = (form.idempotency_key.data or "")[:120] or None
    try:
        order, _created = services.create_order(idempotency_key=key, **arguments)
    except services.IdempotencyMismatch:
        db.session.rollback()
        order, _created = services.create_order(idempotency_key=uuid.uuid4().hex, **arguments)
    return order


def _form_errors(err: ValidationFailed, form: BuyForm, answers: dict, input_errors: dict):
    """Put the service's field errors on the form, in the buyer's language;
    returns a message for what no field explains."""
    db.session.rollback()
    leftover = False
    for name in err.errors or {}:
        if name == "quantity":
            form.quantity.errors = [_("This quantity cannot be ordered.")]
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
        return redirect(url_for(".order_page", number=order.number, t=token))
    principal = current_principal()
    buyer_id = buyer_id_of(principal)
    form = PayForm()
    problem = None
    options = [p for p in services.payment_options(order, buyer_id) if p in PAGE_PROVIDERS]
    if form.validate_on_submit() and not _expired(order):
        provider = request.form.get("provider", "")
        if provider not in options:
            problem = _("This payment method is not available. Choose another one.")
        else:
            try:
                providers.start(order, provider, buyer_id=buyer_id, actor=actor_of(principal))
            except KamengError as err:
                db.session.rollback()
                problem = _payment_message(err)
            else:
                return redirect(url_for(".order_page", number=order.number, t=token))
        order = services.get_order_by_id(order.id)
    balance = ledger.wallet_balance(buyer_id) if buyer_id and "wallet" in options else None
    return render_shop(
        "pay.html",
        order=order,
        token=token,
        form=form,
        options=options,
        balance=balance,
        expired=_expired(order),
        problem=problem,
        money=_money(order),
    )


# --- the order ------------------------------------------------------------------


@bp.get("/o/<number>")
def order_page(number: str):
    """The order: status, what was paid and, once delivered, the codes with
    copy buttons. Refreshes itself while the order is on its way."""
    order, token = _buyer_order(number)
    _remember(order)
    codes = services.delivered_codes(order) if order.status not in (PENDING, EXPIRED) else []
    product_on_sale = True
    try:
        catalog.get_product(order.product_id, public=True)
    except NotFound:
        product_on_sale = False
    return render_shop(
        "order.html",
        order=order,
        token=token,
        codes=codes,
        history=services.order_events(order.id),
        expired=_expired(order),
        waiting=order.status in WAITING and not _expired(order),
        cancelled=order.status == CANCELLED,
        product_on_sale=product_on_sale,
        money=_money(order),
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
            order = services.order_by_email(form.email.data, form.number.data)
        except NotFound:
            problem = _("No order has this number and email. Check both and try again.")
        else:
            _remember(order)
            return redirect(
                url_for(".order_page", number=order.number, t=services.lookup_token(order.id))
            )
    buyer_id = buyer_id_of(current_principal())
    mine = services.list_orders(buyer_id=buyer_id, per_page=20)[0] if buyer_id else []
    recent = _recent_orders(exclude={o.number for o in mine})
    return render_shop(
        "lookup.html", form=form, problem=problem, mine=mine, recent=recent, money=format_money
    )


def _recent_orders(exclude: set[str]) -> list[tuple[Order, str]]:
    found = []
    for number, token in session.get(RECENT_KEY, []):
        if number in exclude:
            continue
        try:
            found.append((services.order_for_buyer(number, token=token), token))
        except NotFound:  # gone, or a token of another shop's order
            continue
    return found
