"""Checkout: an order is created and its stock reserved, once per request.

- the same ``Idempotency-Key`` with the same request returns the same
  order; with another request it is refused (``IdempotencyMismatch``);
- order numbers are ``YYMMDD`` plus 14 random digits: not guessable, not
  counted; a clash draws again, never fails the order;
- a card order's cards are reserved in the same transaction, held for
  ``ORDER_HOLD_MINUTES``; the hold's expiry is part of the stock query, so
  stock returns on time even when no worker runs.

Runs in the current shop's context and commits.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.catalog import stock
from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Product
from app.core.errors import KamengError, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.extensions import db
from app.orders.models import PENDING, Order, OrderEvent
from app.pricing.quote import quote
from tenants.models import current_shop_currency

NUMBER_DIGITS = 14  # random digits after the date; the column holds 20 characters
NUMBER_TRIES = 5


class IdempotencyMismatch(KamengError):
    status = 422
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


def hold_time() -> timedelta:
    """How long an unpaid order keeps its stock (``ORDER_HOLD_MINUTES``)."""
    return timedelta(minutes=int(current_app.config.get("ORDER_HOLD_MINUTES", 15)))


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
) -> tuple[Order, bool]:
    """Create an order and reserve its stock. Returns ``(order, created)``.

    ``currency`` is the shop's (surfaces pass the cached shop snapshot's, which
    saves a query per checkout); without it the shop row is read.

    Same key + same request → the existing order, ``created`` False. Same
    key + another request → ``IdempotencyMismatch`` (422 at the edge).
    """
    from app.accounts.services import normalize_email
    from app.catalog.inputs import validate_inputs

    email = normalize_email(email)
    request_hash = _request_hash(product_id, quantity, email, inputs, buyer_id)
    existing = _earlier_order(idempotency_key, request_hash)
    if existing is not None:
        return existing, False

    product = db.session.scalar(select(Product).where(Product.id == product_id))
    if product is None or product.status != STATUS_ON_SALE:
        raise NotFound("No such product on sale.")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise ValidationFailed(
            "Quantity must be a whole number.", errors={"quantity": ["Invalid."]}
        )
    if not product.min_quantity <= quantity <= product.max_quantity:
        raise ValidationFailed(
            f"Quantity must be between {product.min_quantity} and {product.max_quantity}.",
            errors={"quantity": [f"{product.min_quantity}–{product.max_quantity}."]},
        )
    clean_inputs = validate_inputs(product, inputs or {})
    priced = quote(
        unit_price=product.price,
        quantity=quantity,
        currency=currency or current_shop_currency(),
        product_name=product.name,
    )
    now = datetime.now(UTC)
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
        inputs=clean_inputs,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        expires_at=now + hold_time(),
    )
    for attempt in range(NUMBER_TRIES):
        db.session.add(order)
        try:
            db.session.flush()
            break
        except IntegrityError:
            # Nothing is written yet, so the rollback loses only reads.
            db.session.rollback()
            existing = _earlier_order(idempotency_key, request_hash)  # a twin won the insert
            if existing is not None:
                return existing, False
            if attempt == NUMBER_TRIES - 1:
                raise
            order.number = new_number()
    db.session.add(OrderEvent(order_id=order.id, from_status=None, to_status=PENDING, actor=actor))
    if product.kind == KIND_CARD:
        try:
            stock.reserve(product.id, quantity, order.id, hold=hold_time())
        except stock.OutOfStock as err:
            db.session.rollback()
            left = int(err.extra.get("available", 0))
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
        existing = _earlier_order(idempotency_key, request_hash)  # a twin won the insert
        if existing is not None:
            return existing, False
        raise
    return order, True


def _request_hash(product_id, quantity, email, inputs, buyer_id) -> str:
    body = json.dumps(
        {
            "product_id": str(product_id),
            "quantity": quantity,
            "email": email,
            "inputs": inputs or {},
            "buyer": str(buyer_id) if buyer_id else None,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _earlier_order(idempotency_key: str | None, request_hash: str) -> Order | None:
    """The order an earlier request with this Idempotency-Key made, if any;
    ``IdempotencyMismatch`` when that request asked for something else."""
    if not idempotency_key:
        return None
    existing = db.session.scalar(select(Order).where(Order.idempotency_key == idempotency_key))
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyMismatch()
    return existing
