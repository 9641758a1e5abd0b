"""Stock moves: the only code that changes a card's status or a product's
``stock_available`` counter. Every function runs in the caller's transaction
and the current shop's context; the caller commits.

Guarantees:

- ``reserve`` is all-or-nothing: it takes exactly ``n`` cards or raises
  ``OutOfStock`` having changed nothing (``reserve_up_to`` takes what
  there is, for an order whose sources supply the rest). A card is never in two orders: rows
  are picked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (concurrent
  buyers take different rows instead of waiting on each other; a buyer may
  see "sold out" while another's uncommitted hold is still in doubt), and on
  SQLite every transaction starts with ``BEGIN IMMEDIATE`` (see
  ``configure_sqlite``). The claiming UPDATE names the state it expects.
- A reservation's expiry is part of the query: a reserved card whose hold
  has passed is available to the next buyer even if no worker has tidied it
  up. ``release_expired`` only tidies.
- ``stock_available`` always equals the number of cards in status
  ``available`` (expired holds are added on top when stock is shown).
- Crossing a product's low-stock threshold, or reaching zero, records one
  alert in the same transaction (``stock_alerts.record_crossing``).
- ``void_cards`` is the operator's void: the one function here that writes
  an audit row and commits.

Elsewhere: the operator's reads of stock (``card_reads``), the audited ways
to see codes (``card_reveal``), the alerts' list (``stock_alerts``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from app.audit import services as audit
from app.catalog import stock_alerts
from app.catalog.models import CARD_AVAILABLE, CARD_RESERVED, CARD_SOLD, CARD_VOID, Card, Product
from app.core.errors import KamengError
from app.extensions import db
from app.supply.availability import sourced_stock_of

DEFAULT_HOLD = timedelta(minutes=15)
#: a paid order's cards are held until it is delivered, refunded or voided
PAID_HOLD = timedelta(days=3650)


class OutOfStock(KamengError):
    status = 409
    slug = "out-of-stock"
    title = "Not enough stock"


def _now() -> datetime:
    return datetime.now(UTC)


def _claimable(now: datetime):
    return or_(
        Card.status == CARD_AVAILABLE,
        and_(Card.status == CARD_RESERVED, Card.reserved_until < now),
    )


def reserve(
    product_id: uuid.UUID, n: int, order_id: uuid.UUID, hold: timedelta = DEFAULT_HOLD
) -> list[uuid.UUID]:
    """Reserve ``n`` cards of the product for ``order_id`` until now + ``hold``.

    Returns the card ids. Raises ``OutOfStock`` (nothing changed) when fewer
    than ``n`` can be had.
    """
    return _claim(product_id, n, order_id, hold, partial=False)


def reserve_up_to(
    product_id: uuid.UUID, n: int, order_id: uuid.UUID, hold: timedelta = DEFAULT_HOLD
) -> list[uuid.UUID]:
    """Reserve as many of ``n`` cards as can be had now (perhaps none), with
    ``reserve``'s guarantees; the rest of an order is bought from the
    product's sources (``app.supply.routing``). Returns the card ids."""
    return _claim(product_id, n, order_id, hold, partial=True)


def _claim(
    product_id: uuid.UUID, n: int, order_id: uuid.UUID, hold: timedelta, *, partial: bool
) -> list[uuid.UUID]:
    if n < 1:
        raise ValueError("n must be at least 1")
    now = _now()
    rows = db.session.execute(
        select(Card.id, Card.status)
        .where(Card.product_id == product_id, _claimable(now))
        .order_by(Card.id)
        .limit(n)
        .with_for_update(skip_locked=True)
    ).all()
    if len(rows) < n and not partial:
        raise OutOfStock(f"Only {len(rows)} left; {n} requested.", available=len(rows))
    if not rows:
        return []
    ids = [r.id for r in rows]
    fresh = sum(1 for r in rows if r.status == CARD_AVAILABLE)
    claimed = db.session.execute(
        update(Card)
        .where(Card.id.in_(ids), _claimable(now))
        .values(status=CARD_RESERVED, order_id=order_id, reserved_until=now + hold)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != len(ids):
        # Cannot happen: PostgreSQL holds the row locks, SQLite serialises
        # writers from BEGIN IMMEDIATE. If it does, stop loudly.
        raise RuntimeError(f"stock race on product {product_id}: claimed {claimed} of {len(ids)}")
    if fresh:
        _move_counter(product_id, -fresh)
    return ids


def keep_for_paid_order(order_id: uuid.UUID) -> int:
    """Stop the order's holds from expiring (it is paid). Returns how many
    reserved cards the order still holds; cards a late payment lost to other
    buyers are not among them."""
    return db.session.execute(
        update(Card)
        .where(Card.order_id == order_id, Card.status == CARD_RESERVED)
        .values(reserved_until=_now() + PAID_HOLD)
        .execution_options(synchronize_session=False)
    ).rowcount


def extend_reservation(order_id: uuid.UUID, until: datetime) -> int:
    """Hold the order's reserved cards until ``until`` (its payment has
    started). Never shortens a hold; cards the order already lost to other
    buyers are not its any more. Returns how many holds moved."""
    return db.session.execute(
        update(Card)
        .where(
            Card.order_id == order_id,
            Card.status == CARD_RESERVED,
            Card.reserved_until < until,
        )
        .values(reserved_until=until)
        .execution_options(synchronize_session=False)
    ).rowcount


def release(order_id: uuid.UUID) -> int:
    """Return the order's reserved (unsold) cards to stock. Idempotent; returns
    how many came back."""
    rows = db.session.execute(
        select(Card.product_id, func.count())
        .where(Card.order_id == order_id, Card.status == CARD_RESERVED)
        .group_by(Card.product_id)
    ).all()
    return sum(
        _return_to_stock(product_id, Card.order_id == order_id, Card.status == CARD_RESERVED)
        for product_id, _count in rows
    )


def sell(order_id: uuid.UUID, quantity: int | None = None) -> list[Card]:
    """Mark the order's reserved cards sold and return every card the order
    holds (already sold ones too, so a repeat is harmless).

    With ``quantity`` (what the order needs), when this call sold that many
    the cards it sold are the answer and no second read is made."""
    now = _now()
    newly = list(
        db.session.scalars(
            update(Card)
            .where(Card.order_id == order_id, Card.status == CARD_RESERVED)
            .values(status=CARD_SOLD, sold_at=now, reserved_until=None)
            .returning(Card),
            execution_options={"synchronize_session": False, "populate_existing": True},
        ).all()
    )
    if quantity is not None and len(newly) >= quantity:
        return sorted(newly, key=lambda card: card.id)
    return list(
        db.session.scalars(
            select(Card)
            .where(Card.order_id == order_id, Card.status == CARD_SOLD)
            .order_by(Card.id)
        ).all()
    )


def void(card_ids: list[uuid.UUID]) -> int:
    """Take cards out of circulation for good (a refunded delivered code, a
    bad code). Void cards are never sold again; returns how many changed."""
    if not card_ids:
        return 0
    rows = db.session.execute(
        select(Card.product_id, Card.status, func.count())
        .where(Card.id.in_(card_ids), Card.status != CARD_VOID)
        .group_by(Card.product_id, Card.status)
    ).all()
    changed = db.session.execute(
        update(Card)
        .where(Card.id.in_(card_ids), Card.status != CARD_VOID)
        .values(status=CARD_VOID, reserved_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    for product_id, status, count in rows:
        if status == CARD_AVAILABLE:
            _move_counter(product_id, -count)
    return changed


def add_available(product_id: uuid.UUID, n: int) -> None:
    """Count ``n`` newly stored available cards (the import calls this in the
    transaction that inserts them)."""
    if n:
        _move_counter(product_id, n)


def release_expired(limit: int = 10_000) -> int:
    """Tidy up: expired holds go back to ``available``. Safe to run anytime."""
    now = _now()
    rows = db.session.execute(
        select(Card.id, Card.product_id)
        .where(Card.status == CARD_RESERVED, Card.reserved_until < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    by_product: dict[uuid.UUID, list[uuid.UUID]] = {}
    for card_id, product_id in rows:
        by_product.setdefault(product_id, []).append(card_id)
    return sum(
        _return_to_stock(
            product_id, Card.id.in_(ids), Card.status == CARD_RESERVED, Card.reserved_until < now
        )
        for product_id, ids in by_product.items()
    )


def counts(product_id: uuid.UUID) -> dict[str, int]:
    """Cards of the product by status, plus ``sellable`` (available + expired holds)."""
    now = _now()
    result = dict.fromkeys((CARD_AVAILABLE, CARD_RESERVED, CARD_SOLD, CARD_VOID), 0)
    for status, count in db.session.execute(
        select(Card.status, func.count()).where(Card.product_id == product_id).group_by(Card.status)
    ).all():
        result[status] = count
    expired = db.session.scalar(
        select(func.count()).where(
            Card.product_id == product_id,
            Card.status == CARD_RESERVED,
            Card.reserved_until < now,
        )
    )
    result["sellable"] = result[CARD_AVAILABLE] + int(expired or 0)
    return result


def expired_holds_of(product_id_column, now=None):
    """A correlated count of a product's expired holds, to select beside the
    product rows: what a buyer can have now is ``Product.stock_available``
    plus this (a hold past its time counts as available, whether or not the
    tidy-up job has run). Lets a page read products and their stock in one
    query. ``now``: the moment (a bind parameter, for a statement built
    once), else the current time."""
    return (
        select(func.count(Card.id))
        .where(
            Card.product_id == product_id_column,
            Card.status == CARD_RESERVED,
            Card.reserved_until < (_now() if now is None else now),
        )
        .correlate_except(Card)
        .scalar_subquery()
    )


def sellable_stock(product_ids: list[uuid.UUID]) -> dict[uuid.UUID, int | None]:
    """Stock a buyer can have now, per product, in one indexed query: own
    sellable cards plus what the product's sources last said they had
    (``None`` when a source has not said: not counted)."""
    if not product_ids:
        return {}
    sourced = sourced_stock_of(Product.id)
    return dict(
        db.session.execute(
            select(
                Product.id,
                Product.stock_available + expired_holds_of(Product.id) + sourced,
            ).where(Product.id.in_(product_ids))
        ).all()
    )


def _move_counter(product_id: uuid.UUID, delta: int) -> None:
    """Move the counter and record a stock alert when a threshold is crossed."""
    row = db.session.execute(
        update(Product)
        .where(Product.id == product_id)
        .values(stock_available=Product.stock_available + delta)
        .returning(Product.stock_available, Product.low_stock_threshold, Product.tenant_id)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        raise KamengError("No such product.")
    after, threshold, tenant_id = row
    stock_alerts.record_crossing(tenant_id, product_id, after - delta, after, threshold)


def _return_to_stock(product_id: uuid.UUID, *where) -> int:
    """The product's cards matching ``where`` become available again (no
    order, no hold) and its counter moves with them. Returns how many."""
    moved = db.session.execute(
        update(Card)
        .where(Card.product_id == product_id, *where)
        .values(status=CARD_AVAILABLE, order_id=None, reserved_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved:
        _move_counter(product_id, moved)
    return moved


def void_cards(card_ids: list[uuid.UUID], actor: str) -> int:
    """Operator: void the current shop's cards among ``card_ids`` (others
    are ignored), audited, committed. Returns how many changed."""
    changed = void(card_ids)
    if changed:
        audit.record(actor, "cards.void", "cards", count=changed, ids=[str(i) for i in card_ids])
    db.session.commit()
    return changed
