"""Stock moves: the only code that changes a card's status or a product's
``stock_available`` counter. Every function runs in the caller's transaction
and the current shop's context; the caller commits.

Guarantees:

- ``reserve`` is all-or-nothing: it takes exactly ``n`` cards or raises
  ``OutOfStock`` having changed nothing. A card is never in two orders: rows
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
  ``StockAlert`` in the same transaction (sold out wins when both happen).

The operator's reads of stock live here too: card listings that never load
a secret, and the two audited ways to see codes (``reveal_card`` and
``export_codes``), each writing its audit row in the transaction it commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from app.catalog.models import (
    CARD_AVAILABLE,
    CARD_RESERVED,
    CARD_SOLD,
    CARD_STATUSES,
    CARD_VOID,
    KIND_CARD,
    Card,
    Product,
    StockAlert,
)
from app.core import audit
from app.core.crypto import get_cipher
from app.core.errors import KamengError, NotFound, ValidationFailed
from app.extensions import db

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
    if len(rows) < n:
        raise OutOfStock(f"Only {len(rows)} left; {n} requested.", available=len(rows))
    ids = [r.id for r in rows]
    fresh = sum(1 for r in rows if r.status == CARD_AVAILABLE)
    claimed = db.session.execute(
        update(Card)
        .where(Card.id.in_(ids), _claimable(now))
        .values(status=CARD_RESERVED, order_id=order_id, reserved_until=now + hold)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != n:
        # Cannot happen: PostgreSQL holds the row locks, SQLite serialises
        # writers from BEGIN IMMEDIATE. If it does, stop loudly.
        raise RuntimeError(f"stock race on product {product_id}: claimed {claimed} of {n}")
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


def release(order_id: uuid.UUID) -> int:
    """Return the order's reserved (unsold) cards to stock. Idempotent; returns
    how many came back."""
    rows = db.session.execute(
        select(Card.product_id, func.count())
        .where(Card.order_id == order_id, Card.status == CARD_RESERVED)
        .group_by(Card.product_id)
    ).all()
    total = 0
    for product_id, _count in rows:
        moved = db.session.execute(
            update(Card)
            .where(
                Card.order_id == order_id,
                Card.product_id == product_id,
                Card.status == CARD_RESERVED,
            )
            .values(status=CARD_AVAILABLE, order_id=None, reserved_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved:
            _move_counter(product_id, moved)
            total += moved
    return total


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
    total = 0
    for product_id, ids in by_product.items():
        moved = db.session.execute(
            update(Card)
            .where(Card.id.in_(ids), Card.status == CARD_RESERVED, Card.reserved_until < now)
            .values(status=CARD_AVAILABLE, order_id=None, reserved_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved:
            _move_counter(product_id, moved)
            total += moved
    return total


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


def expired_holds_of(product_id_column):
    """A correlated count of a product's expired holds, to select beside the
    product rows: what a buyer can have now is ``Product.stock_available``
    plus this (a hold past its time counts as available, whether or not the
    tidy-up job has run). Lets a page read products and their stock in one
    query."""
    return (
        select(func.count(Card.id))
        .where(
            Card.product_id == product_id_column,
            Card.status == CARD_RESERVED,
            Card.reserved_until < _now(),
        )
        .correlate_except(Card)
        .scalar_subquery()
    )


def sellable_stock(product_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Stock a buyer can have now, per product, in one indexed query."""
    if not product_ids:
        return {}
    return dict(
        db.session.execute(
            select(Product.id, Product.stock_available + expired_holds_of(Product.id)).where(
                Product.id.in_(product_ids)
            )
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
    before = after - delta
    if delta < 0:
        if after == 0 and before > 0:
            db.session.add(
                StockAlert(
                    tenant_id=tenant_id,
                    product_id=product_id,
                    kind="sold_out",
                    stock=0,
                    threshold=threshold,
                )
            )
        elif threshold and after <= threshold < before:
            db.session.add(
                StockAlert(
                    tenant_id=tenant_id,
                    product_id=product_id,
                    kind="low",
                    stock=after,
                    threshold=threshold,
                )
            )


# --- the operator's reads and audited access ---------------------------------


def get_card_product(product_id: uuid.UUID) -> Product:
    """The current shop's product, which must be of kind ``card``.

    Raises ``NotFound`` (no such product in this shop) or ``ValidationFailed``.
    """
    product = db.session.scalar(select(Product).where(Product.id == product_id))
    if product is None:
        raise NotFound("No such product.")
    if product.kind != KIND_CARD:
        raise ValidationFailed(
            "Only card products hold card stock.", errors={"kind": ["Not a card product."]}
        )
    return product


def short_fingerprint(fingerprint: bytes) -> str:
    """8 hex digits of the keyed hash: enough to tell cards apart on screen
    and to match a line of an export, useless for recovering a code."""
    return bytes(fingerprint[:4]).hex()


def list_cards(
    product_id: uuid.UUID, status: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[dict], int]:
    """A page of the product's cards, newest first, with their total. Never
    loads a secret: only ids, status, times, order and a short fingerprint."""
    get_card_product(product_id)
    if status is not None and status not in CARD_STATUSES:
        raise ValidationFailed("Unknown card status.", errors={"status": list(CARD_STATUSES)})
    where = [Card.product_id == product_id]
    if status is not None:
        where.append(Card.status == status)
    total = db.session.scalar(select(func.count()).select_from(Card).where(*where)) or 0
    rows = db.session.execute(
        select(
            Card.id,
            Card.status,
            Card.created_at,
            Card.sold_at,
            Card.order_id,
            Card.reserved_until,
            Card.import_id,
            Card.fingerprint,
        )
        .where(*where)
        .order_by(Card.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = [
        {
            "id": r.id,
            "status": r.status,
            "created_at": r.created_at,
            "sold_at": r.sold_at,
            "order_id": r.order_id,
            "reserved_until": r.reserved_until,
            "import_id": r.import_id,
            "fingerprint": short_fingerprint(r.fingerprint),
        }
        for r in rows
    ]
    return items, total


def stock_of(product_id: uuid.UUID) -> dict:
    """The product's cards by status, what a buyer can have now
    (``sellable``), the counter, the threshold and whether it is sold out."""
    product = get_card_product(product_id)
    result = counts(product_id)
    return {
        "product_id": product.id,
        **result,
        "stock_available": product.stock_available,
        "low_stock_threshold": product.low_stock_threshold,
        "sold_out": result["sellable"] == 0,
        "low": 0 < result["sellable"] <= product.low_stock_threshold,
    }


def reveal_card(card_id: uuid.UUID, actor: str) -> dict:
    """One card's code for the operator, with an audit row written and
    committed first: no audit row, no code. Raises ``NotFound``."""
    card = db.session.scalar(select(Card).where(Card.id == card_id))
    if card is None:
        raise NotFound("No such card.")
    code = get_cipher().decrypt(card.id, card.key_id, card.secret)
    audit.record(
        actor,
        "card.reveal",
        f"card:{card.id}",
        product_id=str(card.product_id),
        status=card.status,
        fingerprint=short_fingerprint(card.fingerprint),
    )
    db.session.commit()
    number, _, password = code.partition("\t")
    return {
        "id": card.id,
        "product_id": card.product_id,
        "status": card.status,
        "code": number if not password else f"{number}----{password}",
        "number": number,
        "password": password or None,
    }


def export_codes(product_id: uuid.UUID, actor: str, limit: int | None = None) -> tuple[str, int]:
    """The product's available codes as text, one per line (``number`` or
    ``number----password``, oldest first, as an import reads them back),
    and how many. The audit row is committed before the text is returned.
    Exporting does not take the codes out of stock."""
    get_card_product(product_id)
    query = (
        select(Card.id, Card.key_id, Card.secret)
        .where(Card.product_id == product_id, Card.status == CARD_AVAILABLE)
        .order_by(Card.id)
    )
    if limit:
        query = query.limit(limit)
    decrypt = get_cipher().decrypt
    lines = [
        decrypt(r.id, r.key_id, r.secret).replace("\t", "----") for r in db.session.execute(query)
    ]
    audit.record(
        actor, "cards.export", f"product:{product_id}", count=len(lines), status=CARD_AVAILABLE
    )
    db.session.commit()
    return ("\n".join(lines) + "\n" if lines else ""), len(lines)


def void_cards(card_ids: list[uuid.UUID], actor: str) -> int:
    """Operator: void the current shop's cards among ``card_ids`` (others
    are ignored), audited, committed. Returns how many changed."""
    changed = void(card_ids)
    if changed:
        audit.record(actor, "cards.void", "cards", count=changed, ids=[str(i) for i in card_ids])
    db.session.commit()
    return changed


def list_alerts(
    include_acknowledged: bool = False, page: int = 1, per_page: int = 50
) -> tuple[list[StockAlert], int]:
    """The current shop's stock alerts, newest first, with their total."""
    where = [] if include_acknowledged else [StockAlert.acknowledged_at.is_(None)]
    total = db.session.scalar(select(func.count()).select_from(StockAlert).where(*where)) or 0
    rows = db.session.scalars(
        select(StockAlert)
        .where(*where)
        .order_by(StockAlert.created_at.desc(), StockAlert.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def acknowledge_alert(alert_id: uuid.UUID) -> StockAlert:
    """Mark an alert seen. Idempotent (the first time is kept); commits."""
    alert = db.session.scalar(select(StockAlert).where(StockAlert.id == alert_id))
    if alert is None:
        raise NotFound("No such alert.")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = _now()
    db.session.commit()
    return alert
