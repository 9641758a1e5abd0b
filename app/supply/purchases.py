"""What a docking partner buys here through the supply API (对接下单).

A purchase is an ordinary order of the credential's shop account: priced by
``app.pricing`` for that account (its agent tier), paid from that account's
wallet. A card from the shop's own stock is bought as a signed-in buyer
buys with its balance (``app.orders.wallet_purchase``): created, paid and
delivered in one transaction, the key's record with it. Anything else
(top-ups, manual goods, cards bought from the product's sources) takes the
two steps, created then paid, and is delivered by the order's usual path
(top-ups and manual goods later). ``SupplyPurchase`` maps the caller's
idempotency key to the order, so asking again with the same key answers
the same order and moves no more money.

Every function works in the current shop.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import ShopAccount
from app.catalog import services as catalog
from app.catalog.models import KIND_CARD, KIND_MANUAL
from app.core.errors import Conflict, NotFound
from app.extensions import db
from app.orders import checkout, lookups, wallet_purchase
from app.orders import payment as order_payment
from app.orders.models import (
    CANCELLED,
    DELIVERED,
    EXPIRED,
    FAILED,
    PENDING,
    REFUNDED,
    Order,
)
from app.payments import registry
from app.pricing.rules import Audience, prices_of
from app.supply.models import SupplyCredential, SupplyPurchase
from tenants.models import current_shop_currency

#: the statuses a caller sees (the protocol's, not the order's)
STATUS_DELIVERED = "delivered"
STATUS_PENDING = "pending"
STATUS_FAILED = "failed"
STATUS_REFUNDED = "refunded"
#: the statuses after which nothing changes for the caller (a callback is due)
FINAL_STATUSES = (STATUS_DELIVERED, STATUS_FAILED, STATUS_REFUNDED)

KEY_MIN = 8
KEY_MAX = 120


class SupplyKeyReused(Conflict):
    slug = "idempotency-key-reused"
    title = "This idempotency key was used for a different purchase"


def protocol_status(order: Order) -> str:
    """The order's status as the supply protocol names it."""
    if order.status == DELIVERED:
        return STATUS_DELIVERED
    if order.status == REFUNDED:
        return STATUS_REFUNDED
    if order.status in (FAILED, CANCELLED, EXPIRED) or lookups.is_expired(order):
        return STATUS_FAILED
    return STATUS_PENDING


@dataclass(frozen=True)
class Offer:
    """A product as a docking partner sees it: its price for the caller."""

    product: object  # catalog's ProductView
    price: int
    currency: str


def catalogue(account_id: uuid.UUID, *, page: int, per_page: int) -> tuple[list[Offer], int]:
    """A page of the products on sale with the price ``account_id`` pays."""
    views, total = catalog.list_products(page=page, per_page=per_page, public=True)
    prices = prices_of([v.product for v in views], Audience.of(account_id))
    currency = current_shop_currency()
    return [Offer(v, prices[v.id], currency) for v in views], total


def offer(account_id: uuid.UUID, sku: str) -> Offer:
    """One product on sale, priced for ``account_id`` (``NotFound`` for any
    other, or an id that is not one)."""
    view = catalog.get_product(_product_id(sku), public=True)
    price = prices_of([view.product], Audience.of(account_id))[view.id]
    return Offer(view, price, current_shop_currency())


def _product_id(sku) -> uuid.UUID:
    try:
        return uuid.UUID(str(sku))
    except (TypeError, ValueError):
        raise NotFound("No such product on sale.") from None


@dataclass(frozen=True)
class PurchaseView:
    """A purchase as the caller reads it."""

    order: Order
    key: str
    status: str
    codes: list[dict] | None


def purchase_view(order: Order, key: str) -> PurchaseView:
    """The purchase of ``order`` made with the caller's ``key``."""
    status = protocol_status(order)
    codes = None
    if status == STATUS_DELIVERED and order.product_kind in (KIND_CARD, KIND_MANUAL):
        codes = [
            {"code": c["code"], "password": c["password"]}
            for c in lookups.delivered_codes(order)
            if not c["void"]
        ]
    return PurchaseView(order, key, status, codes)


def answer(found: PurchaseView) -> dict:
    """The protocol's body of a purchase (the API's answer and the status
    callback's)."""
    order = found.order
    out = {
        "ref": order.number,
        "key": found.key,
        "status": found.status,
        "sku": str(order.product_id),
        "quantity": order.quantity,
        "price": order.total,
        "currency": order.currency,
    }
    if found.codes is not None:
        out["codes"] = found.codes
    return out


def _request_hash(sku: str, quantity: int, inputs: dict | None) -> str:
    text = json.dumps(
        {"sku": str(sku), "quantity": quantity, "inputs": inputs or {}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _earlier(credential_id: uuid.UUID, key: str) -> SupplyPurchase | None:
    return db.session.scalar(
        select(SupplyPurchase).where(
            SupplyPurchase.credential_id == credential_id, SupplyPurchase.caller_key == key
        )
    )


def _partner_and_earlier(credential: SupplyCredential, key: str):
    """The credential's account (``email``, ``is_active``) and the purchase
    made earlier with ``key`` (``order_id``, ``request_hash``; None when
    there is none), in one read; None when the account is gone."""
    return db.session.execute(
        select(
            ShopAccount.email,
            ShopAccount.is_active,
            SupplyPurchase.order_id,
            SupplyPurchase.request_hash,
        )
        .select_from(ShopAccount)
        .outerjoin(
            SupplyPurchase,
            and_(SupplyPurchase.credential_id == credential.id, SupplyPurchase.caller_key == key),
        )
        .where(ShopAccount.id == credential.account_id)
    ).first()


def _wallet_provider() -> str:
    """The payment provider that pays from a buyer's balance (the registry
    names it; a docking partner always pays from its balance here)."""
    return next(a.name for a in registry.ADAPTERS.values() if a.pays_from_wallet)


def _key_reused() -> SupplyKeyReused:
    return SupplyKeyReused(
        "This key was used for another purchase; use a new key for a new purchase."
    )


def buy(
    credential: SupplyCredential,
    *,
    sku: str,
    quantity: int,
    inputs: dict | None,
    key: str,
) -> tuple[PurchaseView, bool]:
    """Buy ``quantity`` of ``sku`` for the credential's account and pay from
    its wallet. Returns ``(purchase, created)``.

    Idempotent by (credential, ``key``): the same request again answers the
    first purchase (``created`` False) and pays nothing more; another
    request with that key → ``SupplyKeyReused`` (409). Commits.

    A card product sold from the shop's own stock is created, paid and
    delivered in one transaction with the key's record
    (``app.orders.wallet_purchase``): not enough balance
    (``InsufficientFunds``, 402) or too few cards (``OutOfStock``, 409)
    keep nothing, so the same key buys once the wallet is topped up. Any
    other purchase (top-ups, manual goods, cards bought from the product's
    sources) is created with the key's record, then paid: a payment that
    failed (402) is paid when asked again with the same key. Cards are
    delivered in the request; top-up and manual goods answer ``pending``.
    """
    request_hash = _request_hash(sku, quantity, inputs)
    # Plain values: a rolled-back attempt expires the credential's row.
    credential_id, account_id = credential.id, credential.account_id
    tells = credential.callback_url is not None and credential.revoked_at is None
    actor = f"supply {credential.key_id}"
    found = _partner_and_earlier(credential, key)
    if found is None or not found.is_active:
        raise NotFound("The credential's account is gone.")
    if found.order_id is not None:
        if found.request_hash != request_hash:
            raise _key_reused()
        return _settled(found.order_id, key, account_id, actor), False
    product_id = _product_id(sku)

    def record(order: Order) -> None:
        db.session.add(
            SupplyPurchase(
                credential_id=credential_id,
                caller_key=key,
                request_hash=request_hash,
                order_id=order.id,
            )
        )

    def delivered_here(order: Order) -> None:
        # Delivered in this transaction, past ``state.transition``'s watch.
        record(order)
        if tells:
            from app.supply import callbacks  # it reads this module

            callbacks.tell_after_commit(order.id)

    def create_then_pay() -> wallet_purchase.WalletPurchase:
        order, created = checkout.create_order(**arguments)
        record(order)
        db.session.commit()
        # A payment that fails leaves the order waiting under the key.
        return wallet_purchase.WalletPurchase(_paid(order, account_id, actor), created)

    arguments = dict(
        product_id=product_id,
        quantity=quantity,
        email=found.email,
        inputs=inputs,
        buyer_id=account_id,
        actor=actor,
        caller=checkout.Caller("shop_account", account_id),
    )
    try:
        bought = wallet_purchase.buy_with_wallet(
            **arguments, before_commit=delivered_here, two_steps=create_then_pay
        )
    except IntegrityError:
        # A twin request with the same key won. Nothing of this purchase is
        # kept (an order the two-step path made stays unpaid and expires,
        # returning its stock).
        db.session.rollback()
        twin = _earlier(credential_id, key)
        if twin is None:
            raise
        if twin.request_hash != request_hash:
            raise _key_reused() from None
        return _settled(twin.order_id, key, account_id, actor), False
    if bought.codes is not None:
        codes = [{"code": c["code"], "password": c["password"]} for c in bought.codes]
        return PurchaseView(bought.order, key, STATUS_DELIVERED, codes), True
    return purchase_view(bought.order, key), True


def _settled(order_id: uuid.UUID, key: str, account_id: uuid.UUID, actor: str) -> PurchaseView:
    """The purchase of ``order_id`` made with ``key``, paid first if it
    still waits for its payment."""
    return purchase_view(_paid(lookups.get_order_by_id(order_id), account_id, actor), key)


def _paid(order: Order, account_id: uuid.UUID, actor: str) -> Order:
    """``order``, paid from the partner's wallet first when it still waits
    for its payment (``InsufficientFunds`` when it cannot be). Commits."""
    if order.status == PENDING and not lookups.is_expired(order):
        order_payment.pay_order(order, _wallet_provider(), buyer_id=account_id, actor=actor)
        order = lookups.get_order_by_id(order.id)
    return order


def find_purchase(
    credential: SupplyCredential, *, ref: str | None = None, key: str | None = None
) -> PurchaseView:
    """The credential's own purchase by order number (``ref``) or by the
    caller's ``key``; ``NotFound`` for any other (another credential's,
    another shop's, an order not bought through the supply API)."""
    query = select(SupplyPurchase, Order).join(Order, Order.id == SupplyPurchase.order_id)
    query = query.where(SupplyPurchase.credential_id == credential.id)
    if ref is not None:
        query = query.where(Order.number == lookups.normalize_number(ref))
    elif key is not None:
        query = query.where(SupplyPurchase.caller_key == key)
    else:
        raise NotFound("No such purchase.")
    row = db.session.execute(query).first()
    if row is None:
        raise NotFound("No such purchase.")
    return purchase_view(row[1], row[0].caller_key)
