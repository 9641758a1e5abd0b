"""Checkout: an order is created and its stock reserved, once per request.

- an ``Idempotency-Key`` belongs to its caller (a signed-in shop account, an
  API key, or "a guest"): the same caller, key and request within
  ``IDEMPOTENCY_WINDOW`` returns the same order; another request is refused
  (``IdempotencyMismatch``); another caller with the same key gets an order
  of its own; an older key is a fresh request. Guests share one scope, so a
  guest's key must be unguessable (``GUEST_KEY_MIN_LENGTH`` characters);
- nobody holds a shop's stock without paying: unpaid orders are capped per
  buyer account, per email and per client address
  (``ORDER_UNPAID_PER_BUYER``, ``ORDER_UNPAID_PER_EMAIL``,
  ``ORDER_UNPAID_PER_ADDRESS``; API keys are the shop's own and are not
  capped), and creating orders is rate-limited at the edge
  (``app.orders.limits``);
- order numbers are ``YYMMDD`` plus 14 random digits: not guessable, not
  counted; a clash draws again, never fails the order;
- a card order's cards are reserved in the same transaction, held for
  ``ORDER_INITIAL_HOLD_MINUTES`` (a few minutes); ``extend_hold`` extends
  the order and its cards to ``ORDER_HOLD_MINUTES`` once a payment starts.
  When the shop's own cards are short and the product's sources (货源) can
  supply the rest by their last synced stock, the order holds what own
  stock there is and fulfilment buys the rest from the sources.
  The hold's expiry is part of the stock query, so stock returns on time
  even when no worker runs.

Runs in the current shop's context and commits.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from app.billing import limits
from app.catalog import stock
from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Product
from app.core.errors import Conflict, KamengError, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.extensions import db
from app.orders.models import PENDING, Order, OrderEvent
from app.pricing import coupons
from app.pricing import rules as pricing
from app.pricing.quote import CouponNotApplicable
from tenants.models import current_shop_currency

NUMBER_DIGITS = 14  # random digits after the date; the column holds 20 characters
NUMBER_TRIES = 5
#: how long an Idempotency-Key stands for its order; an older key is a new request
IDEMPOTENCY_WINDOW = timedelta(hours=24)
#: a guest's key is its only secret (guests share one scope): 128 bits of hex
GUEST_KEY_MIN_LENGTH = 32


class IdempotencyMismatch(KamengError):
    status = 422
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


class IdempotencyKeyTooShort(KamengError):
    status = 422
    slug = "idempotency-key-too-short"
    title = "An Idempotency-Key sent without signing in must be at least 32 characters"


class TooManyUnpaidOrders(Conflict):
    slug = "too-many-unpaid-orders"
    title = "Too many unpaid orders"


@dataclass(frozen=True)
class Caller:
    """Who places an order, as checkout needs to know: whose Idempotency-Keys
    these are (``scope``) and the client address the unpaid-order cap counts.

    ``kind`` is ``shop_account``, ``api_key`` or ``guest`` (anyone else)."""

    kind: str = "guest"
    id: uuid.UUID | None = None
    address: str | None = None

    @classmethod
    def of(cls, principal, address: str | None = None) -> Caller:
        """The caller for a request's principal (``accounts.permissions.Principal``)."""
        if principal.kind in ("shop_account", "api_key") and principal.id is not None:
            return cls(principal.kind, principal.id, address)
        return cls("guest", None, address)

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else "guest"

    @property
    def capped(self) -> bool:
        """API keys are the shop's own integrations: not capped."""
        return self.kind != "api_key"


GUEST = Caller()


def hold_time() -> timedelta:
    """How long an order keeps its stock once a payment has started
    (``ORDER_HOLD_MINUTES``)."""
    return timedelta(minutes=int(current_app.config.get("ORDER_HOLD_MINUTES", 15)))


def initial_hold_time() -> timedelta:
    """How long a new order keeps its stock before a payment starts
    (``ORDER_INITIAL_HOLD_MINUTES``, never longer than ``hold_time``)."""
    initial = timedelta(minutes=int(current_app.config.get("ORDER_INITIAL_HOLD_MINUTES", 3)))
    return min(initial, hold_time())


def quantity_bounds_message(low: int, high: int):
    """What a buyer is told when a quantity is outside the product's limits:
    the real limits, in their language (the buy page and the API's
    ``message`` say the same)."""
    return _l("Enter a quantity from %(min)s to %(max)s.", min=low, max=high)


def new_number() -> str:
    """``YYMMDD`` plus 14 random digits.

    With 10^14 numbers a day a shop would need about 12 million orders in one
    day for even odds of a single clash; ``create_order`` draws again when
    one happens, so a clash costs a retry, never an order.
    """
    return (
        datetime.now(UTC).strftime("%y%m%d")
        + f"{secrets.randbelow(10**NUMBER_DIGITS):0{NUMBER_DIGITS}d}"
    )


def create_order(
    *,
    product_id: uuid.UUID,
    quantity: int,
    email: str,
    inputs: dict | None = None,
    buyer_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    actor: str = "buyer",
    currency: str | None = None,
    caller: Caller = GUEST,
    coupon: str | None = None,
    sub_shop_id: uuid.UUID | None = None,
) -> tuple[Order, bool]:
    """Create an order and reserve its stock. Returns ``(order, created)``.

    ``currency`` is the shop's (surfaces pass the cached shop snapshot's, which
    saves a query per checkout); without it the shop row is read. ``caller``
    scopes the key and names the client address (service callers without
    one are a guest with no address).

    Same caller + key + request within ``IDEMPOTENCY_WINDOW`` → the existing
    order, ``created`` False; + another request → ``IdempotencyMismatch``
    (422). The price is ``app.pricing``'s for the buyer (its agent tier, the
    sub-shop ``sub_shop_id`` it buys through, the ``coupon`` code, its first
    order); a coupon that does not apply → ``CouponRefused``
    (422). A guest's key shorter than ``GUEST_KEY_MIN_LENGTH`` →
    ``IdempotencyKeyTooShort`` (422). Too many unpaid orders for the buyer,
    the email or the client address → ``TooManyUnpaidOrders`` (409). The
    shop's plan allows no more orders this month → ``PlanLimitReached`` (403).
    """
    from app.accounts.services import normalize_email
    from app.catalog.inputs import validate_inputs

    if idempotency_key and caller.kind == "guest" and len(idempotency_key) < GUEST_KEY_MIN_LENGTH:
        raise IdempotencyKeyTooShort(
            f"Without signing in, an Idempotency-Key must be at least "
            f"{GUEST_KEY_MIN_LENGTH} random characters (a UUID's hex, say): "
            "guests share one key space.",
            message=_l("This request's key is too short. Reload the page and try again."),
            min_length=GUEST_KEY_MIN_LENGTH,
        )
    email = normalize_email(email)
    coupon = (coupon or "").strip() or None
    request_hash = _request_hash(
        product_id, quantity, email, inputs, buyer_id, coupon=coupon, sub_shop_id=sub_shop_id
    )
    existing = _earlier_order(idempotency_key, caller.scope, request_hash)
    if existing is not None:
        return existing, False

    product = db.session.scalar(select(Product).where(Product.id == product_id))
    if product is None or product.status != STATUS_ON_SALE:
        raise NotFound("No such product on sale.")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise ValidationFailed(
            "Quantity must be a whole number.",
            errors={"quantity": ["Must be a whole number."]},
            message=quantity_bounds_message(product.min_quantity, product.max_quantity),
        )
    if not product.min_quantity <= quantity <= product.max_quantity:
        low, high = product.min_quantity, product.max_quantity
        raise ValidationFailed(
            f"Quantity must be from {low} to {high} for this product.",
            errors={"quantity": [f"Must be from {low} to {high}."]},
            message=quantity_bounds_message(low, high),
            min=low,
            max=high,
        )
    clean_inputs = validate_inputs(product, inputs or {})
    now = datetime.now(UTC)
    if caller.capped:
        _check_unpaid(email=email, buyer_id=buyer_id, address=caller.address, now=now)
    limits.check("orders_month")
    audience = pricing.audience_for(buyer_id, sub_shop_id)
    claimed = None
    redeemer = coupons.buyer_key(buyer_id, email)
    if coupon:
        claimed = coupons.claim(coupon, redeemer, now=now)
    try:
        priced = pricing.quote_purchase(
            product,
            quantity,
            audience,
            currency=currency or current_shop_currency(),
            coupon=coupons.terms(claimed) if claimed is not None else None,
            first_order_percent=pricing.first_order_percent(buyer_id),
            now=now,
        )
    except CouponNotApplicable as err:
        db.session.rollback()
        raise coupons.not_applicable(err) from None
    order = Order(
        id=uuid7(),
        number=new_number(),
        status=PENDING,
        product_id=product.id,
        product_kind=product.kind,
        product_name=product.name,
        quantity=quantity,
        unit_price=priced.unit_price,
        total=priced.total,
        currency=priced.currency,
        quote=priced.snapshot(),
        email=email,
        buyer_id=buyer_id,
        sub_shop_id=audience.sub_shop_id,
        inputs=clean_inputs,
        idempotency_key=idempotency_key,
        idempotency_scope=caller.scope if idempotency_key else None,
        client_address=caller.address[:45] if caller.address else None,
        request_hash=request_hash,
        created_at=now,
        expires_at=now + initial_hold_time(),
    )
    for attempt in range(NUMBER_TRIES):
        _release_expired_key(idempotency_key, caller.scope, now)
        db.session.add(order)
        try:
            db.session.flush()
            break
        except IntegrityError:
            # Nothing is written yet, so the rollback loses only reads.
            db.session.rollback()
            existing = _earlier_order(idempotency_key, caller.scope, request_hash)  # a twin won
            if existing is not None:
                return existing, False
            if attempt == NUMBER_TRIES - 1:
                raise
            order.number = new_number()
    db.session.add(OrderEvent(order_id=order.id, from_status=None, to_status=PENDING, actor=actor))
    if claimed is not None:
        coupons.redeem(claimed, order.id, redeemer, priced.coupon_discount)
    if product.kind == KIND_CARD:
        try:
            stock.reserve(product.id, quantity, order.id, hold=initial_hold_time())
        except stock.OutOfStock as err:
            left = int(err.extra.get("available", 0))
            if not _reserve_with_sources(product.id, quantity, left, order.id):
                db.session.rollback()
                raise stock.OutOfStock(
                    f"{product.name} is sold out."
                    if left == 0
                    else f"Only {left} of {product.name} left; you asked for {quantity}.",
                    available=left,
                ) from None
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        existing = _earlier_order(idempotency_key, caller.scope, request_hash)  # a twin won
        if existing is not None:
            return existing, False
        raise
    return order, True


def _reserve_with_sources(
    product_id: uuid.UUID, quantity: int, left: int, order_id: uuid.UUID
) -> bool:
    """The shop's own cards cannot cover the order (``left`` of them could
    be had): when the product's sources, by their last synced stock, can
    supply the rest, hold what own stock there is and let fulfilment buy the
    rest (``app.supply.routing``). False (nothing held) when they cannot.
    Runs only when own stock is short, so a stocked checkout pays nothing
    for it. Caller's transaction."""
    from app.supply.availability import sources_can_cover

    if not sources_can_cover(product_id, quantity - left):
        return False
    if left <= 0:
        return True
    held = stock.reserve_up_to(product_id, left, order_id, hold=initial_hold_time())
    # Another buyer may have taken some own cards since they were counted.
    return len(held) == left or sources_can_cover(product_id, quantity - len(held))


def _request_hash(
    product_id, quantity, email, inputs, buyer_id, *, coupon=None, sub_shop_id=None
) -> str:
    fields = {
        "product_id": str(product_id),
        "quantity": quantity,
        "email": email,
        "inputs": inputs or {},
        "buyer": str(buyer_id) if buyer_id else None,
    }
    # Only when given, so the hashes of orders made before coupons and
    # sub-shops existed still match a replay of their request.
    if coupon:
        fields["coupon"] = coupon.upper()
    if sub_shop_id:
        fields["sub_shop"] = str(sub_shop_id)
    body = json.dumps(
        fields,
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def extend_hold(order: Order) -> None:
    """A payment of ``order`` is starting: hold the order and its reserved
    cards for ``ORDER_HOLD_MINUTES`` from now. Never shortens a hold; does
    nothing to an order that is no longer pending. Runs in the caller's
    transaction (the caller commits); call it after ``ensure_payable``."""
    until = datetime.now(UTC) + hold_time()
    if order.status != PENDING or order.expires_at >= until:
        return
    db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == PENDING, Order.expires_at < until)
        .values(expires_at=until)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(order, "expires_at", until)
    if order.product_kind == KIND_CARD:
        stock.extend_reservation(order.id, until)


def _check_unpaid(
    *, email: str, buyer_id: uuid.UUID | None, address: str | None, now: datetime
) -> None:
    """``TooManyUnpaidOrders`` when the buyer account, the email or the
    client address already has its cap of unpaid (pending, unexpired)
    orders in this shop. A cap of 0 is no cap.

    Counted before the insert: simultaneous requests of one client may pass
    together on PostgreSQL; the order rate limit bounds how many."""
    config = current_app.config
    caps = [(Order.email == email, int(config.get("ORDER_UNPAID_PER_EMAIL", 3)))]
    if buyer_id is not None:
        caps.append((Order.buyer_id == buyer_id, int(config.get("ORDER_UNPAID_PER_BUYER", 3))))
    if address:
        caps.append(
            (Order.client_address == address[:45], int(config.get("ORDER_UNPAID_PER_ADDRESS", 5)))
        )
    for whose, cap in caps:
        if cap <= 0:
            continue
        unpaid = db.session.scalar(
            select(func.count(Order.id)).where(
                whose, Order.status == PENDING, Order.expires_at > now
            )
        )
        if unpaid >= cap:
            raise TooManyUnpaidOrders(
                f"There are already {unpaid} unpaid orders for this buyer; pay one or wait "
                "for it to expire before placing another.",
                message=_l(
                    "You have too many unpaid orders in this shop. Pay for one, or wait a "
                    "few minutes for them to expire, then try again."
                ),
                limit=cap,
            )


def _release_expired_key(idempotency_key: str | None, scope: str, now: datetime) -> None:
    """The caller's key on an order older than ``IDEMPOTENCY_WINDOW`` no
    longer stands for it: free it so the unique key can name a new order."""
    if not idempotency_key:
        return
    db.session.execute(
        update(Order)
        .where(
            Order.idempotency_scope == scope,
            Order.idempotency_key == idempotency_key,
            Order.created_at <= now - IDEMPOTENCY_WINDOW,
        )
        .values(idempotency_key=None)
        .execution_options(synchronize_session=False)
    )


def _earlier_order(idempotency_key: str | None, scope: str, request_hash: str) -> Order | None:
    """The order this caller's earlier request with this Idempotency-Key
    made within ``IDEMPOTENCY_WINDOW``, if any; ``IdempotencyMismatch`` when
    that request asked for something else."""
    if not idempotency_key:
        return None
    existing = db.session.scalar(
        select(Order).where(
            Order.idempotency_scope == scope,
            Order.idempotency_key == idempotency_key,
            Order.created_at > datetime.now(UTC) - IDEMPOTENCY_WINDOW,
        )
    )
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyMismatch()
    return existing
