"""Fulfilment from sources (货源): a paid top-up, or a card order the shop's
own stock cannot cover, is bought from the product's sources.

- One idempotency key per order item (``item_key``), the same across every
  retry and every source: asking again never buys twice.
- Sources are tried in ``app.supply.scores.ranked`` order. Each ask is a
  ``SupplyAttempt`` (latency, outcome, upstream reference, cost).
- ``failed`` (a refusal): the next source.
- ``timeout`` / ``garbage`` (the upstream may have bought): the SAME source
  is asked again with the same key — its status first, then the purchase —
  up to ``SUPPLY_RETRIES`` times with a doubling pause. A source that may
  have bought is never left for another: when it stays silent, the order
  stays ``fulfilling`` and the poll job asks it again later. Only an
  upstream that says it knows no purchase under the key lets the next
  source be tried.
- ``delivered``: codes become the order's sold cards (encrypted like every
  code); a top-up is delivered with the upstream's reference as the note.
- ``pending``: the order stays ``fulfilling``; the poll job
  (``app.supply.jobs.poll_supply``, ``sync`` queue) has it asked again.
- No source can: the order fails with a ``supply_failed`` ticket (retry or
  refund, the usual remedies).
- A source that stays silent or pending past ``SUPPLY_GIVE_UP_SECONDS``
  (counted from when the order last entered ``fulfilling``: its payment or
  the operator's retry) is not waited on for ever: the order fails with a
  ``supply_silent`` ticket naming the source. Retry asks that source's
  status again; "switch source" (``give_up_source`` then retry) tells
  routing to stop waiting on it and buy from the next one — the operator's
  call, since the silent source may still deliver.

The caller holds the fulfilment lease and has committed it: no database
transaction stays open across a request to an upstream. Runs in the current
shop's context.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app.catalog.models import CARD_SOLD, KIND_CARD, KIND_TOPUP, Card
from app.core.crypto import get_cipher
from app.extensions import db
from app.orders import state, tickets
from app.orders.lookups import get_order_by_id
from app.orders.models import DELIVERED, FAILED, FULFILLING, PAID, Order, OrderEvent, Ticket
from app.supply.connectors.base import FAILED as UP_FAILED
from app.supply.connectors.base import PENDING as UP_PENDING
from app.supply.connectors.base import Purchase, SupplyError
from app.supply.connectors.registry import connector_for
from app.supply.models import (
    ATTEMPT_ABANDONED,
    ATTEMPT_FAILED,
    SUPPLIER_ACTIVE,
    ProductSource,
    Supplier,
    SupplyAttempt,
)
from app.supply.scores import ranked
from tenants.context import current_tenant_id

log = logging.getLogger(__name__)

TICKET_REASON = "supply_failed"
SILENT_REASON = "supply_silent"
#: a paid top-up still ``paid`` this long after its payment lost its job
LOST_JOB_SECONDS = 10
#: the longest pause between two asks of one source (seconds)
MAX_BACKOFF = 8.0


def item_key(order: Order) -> str:
    """The order item's idempotency key at every source."""
    return f"kameng:{current_tenant_id()}:{order.id}"


def usable_sources(product_id: uuid.UUID) -> list[ProductSource]:
    """The product's enabled sources whose supplier is active."""
    return list(
        db.session.scalars(
            select(ProductSource)
            .join(Supplier, Supplier.id == ProductSource.supplier_id)
            .where(
                ProductSource.product_id == product_id,
                ProductSource.enabled.is_(True),
                Supplier.status == SUPPLIER_ACTIVE,
            )
            .order_by(ProductSource.id)
        )
    )


def has_sources(product_id: uuid.UUID) -> bool:
    """Whether the product can be bought from a source at all."""
    return (
        db.session.scalar(
            select(ProductSource.id)
            .join(Supplier, Supplier.id == ProductSource.supplier_id)
            .where(
                ProductSource.product_id == product_id,
                ProductSource.enabled.is_(True),
                Supplier.status == SUPPLIER_ACTIVE,
            )
            .limit(1)
        )
        is not None
    )


@dataclass
class _Answer:
    """How one source's asks ended: a ``Purchase`` (delivered / pending /
    failed there), or ``unknown`` (it may have bought and stayed silent)."""

    purchase: Purchase | None = None
    unknown: bool = False
    detail: str = ""


@dataclass(frozen=True)
class _Item:
    """What routing needs of the order, read once: nothing is loaded from
    the database while an upstream is being asked (SQLite's writers queue
    behind an open transaction)."""

    id: uuid.UUID
    product_id: uuid.UUID
    product_kind: str
    inputs: dict


@dataclass(frozen=True)
class _Source:
    id: uuid.UUID
    supplier_id: uuid.UUID
    sku: str
    cost: int


def supply_order(order_id: uuid.UUID, actor: str = "fulfilment") -> str:
    """Buy what the order (``fulfilling``, its lease committed) still lacks
    from its sources. Commits. Returns the order's status."""
    row = get_order_by_id(order_id)
    if row.status != FULFILLING:
        return row.status
    order = _Item(row.id, row.product_id, row.product_kind, dict(row.inputs or {}))
    need = _still_needed(row)
    if need <= 0:
        return _finish_delivered(order, None, actor)
    key = item_key(row)
    abandoned = _abandoned_sources(order.id)
    rows = [s for s in ranked(usable_sources(order.product_id)) if s.id not in abandoned]
    open_source_id = _source_that_may_have_bought(order.id)
    if open_source_id is not None:
        # It must be asked (status first) before any other source.
        first = [s for s in rows if s.id == open_source_id]
        if not first:
            source = db.session.get(ProductSource, open_source_id)
            first = [source] if source is not None else []
        rows = first + [s for s in rows if s.id != open_source_id]
    sources = [_Source(s.id, s.supplier_id, s.sku, s.cost) for s in rows]
    connectors = {s.id: _connector(s.supplier_id) for s in sources}
    db.session.commit()  # no transaction open across the requests below
    reasons: list[str] = []
    for source in sources:
        connector = connectors[source.id]
        if isinstance(connector, str):
            _record(order, source, key, ATTEMPT_FAILED, 0, detail=connector)
            reasons.append(connector)
            continue
        answer = _ask(connector, order, source, key, need, check_first=source.id == open_source_id)
        if answer.unknown:
            return _wait(order, answer.detail, source, actor)
        purchase = answer.purchase
        if purchase is None or purchase.status == UP_FAILED:
            reasons.append(answer.detail or (purchase.detail if purchase else "refused"))
            continue
        if purchase.status == UP_PENDING:
            detail = f"pending at the supplier ({purchase.ref or 'no reference'})"
            return _wait(order, detail, source, actor)
        delivered = _deliver(order, source, purchase, need, actor)
        if delivered is not None:
            return delivered
        # Bought, but unusable: buying elsewhere would pay twice; the
        # operator decides (the attempt names the source and its reference).
        reasons.append(
            f"the supplier delivered codes that could not be used ({purchase.ref or 'no reference'})"
        )
        break
    return _fail(order, reasons, actor)


# --- asking one source ---------------------------------------------------------


def _connector(supplier_id: uuid.UUID):
    """The supplier's connector, or why there is none (a text)."""
    try:
        return connector_for(db.session.get(Supplier, supplier_id))
    except (SupplyError, ValueError) as exc:
        return str(exc)


def _ask(
    connector, order: _Item, source: _Source, key: str, need: int, check_first: bool
) -> _Answer:
    """Ask one source until it answers, refuses, or stays silent past the
    retries. ``check_first``: it may have bought already; ask its status."""
    retries = int(current_app.config.get("SUPPLY_RETRIES", 3))
    backoff = float(current_app.config.get("SUPPLY_RETRY_BACKOFF", 0.5))
    must_check = check_first
    silent = 0
    while True:
        started = time.monotonic()
        try:
            if must_check:
                purchase = connector.status(key)
            else:
                purchase = connector.purchase(source.sku, need, order.inputs, key)
        except SupplyError as exc:
            elapsed = _ms(started)
            if exc.outcome == ATTEMPT_FAILED and must_check:
                # The upstream knows no purchase under the key: it never
                # bought, so buying now (there, or elsewhere) buys once.
                _record(order, source, key, ATTEMPT_FAILED, elapsed, detail=f"status: {exc.detail}")
                must_check = False
                continue
            _record(order, source, key, exc.outcome, elapsed, detail=exc.detail)
            if exc.outcome == ATTEMPT_FAILED:
                return _Answer(detail=exc.detail)
            must_check = True
            silent += 1
            if silent > retries:
                return _Answer(unknown=True, detail=exc.detail)
            time.sleep(min(MAX_BACKOFF, backoff * 2 ** (silent - 1)))
            continue
        _record(
            order,
            source,
            key,
            purchase.status,
            _ms(started),
            ref=purchase.ref,
            cost=purchase.price if purchase.price is not None else source.cost * need,
            detail=purchase.detail,
        )
        return _Answer(purchase=purchase, detail=purchase.detail)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(
    order: _Item,
    source: _Source,
    key: str,
    outcome: str,
    latency_ms: int,
    *,
    ref: str | None = None,
    cost: int | None = None,
    detail: str = "",
) -> None:
    """One attempt, committed at once (a crash later keeps it); the order's
    lease is renewed with it."""
    db.session.add(
        SupplyAttempt(
            order_id=order.id,
            source_id=source.id,
            supplier_id=source.supplier_id,
            idempotency_key=key,
            outcome=outcome,
            latency_ms=latency_ms,
            upstream_ref=ref,
            cost=cost,
            detail=(detail or "")[:300],
        )
    )
    db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == FULFILLING)
        .values(fulfil_started_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _source_that_may_have_bought(order_id: uuid.UUID) -> uuid.UUID | None:
    """The source of the order's last attempt, unless that attempt was a
    refusal: it may hold a purchase under the key."""
    last = db.session.execute(
        select(SupplyAttempt.source_id, SupplyAttempt.outcome)
        .where(SupplyAttempt.order_id == order_id)
        .order_by(SupplyAttempt.id.desc())
        .limit(1)
    ).first()
    if last is None or last.outcome in (ATTEMPT_FAILED, ATTEMPT_ABANDONED):
        return None
    return last.source_id


def _abandoned_sources(order_id: uuid.UUID) -> set[uuid.UUID]:
    """The sources the operator stopped waiting on for this order: never
    asked for it again."""
    return set(
        db.session.scalars(
            select(SupplyAttempt.source_id).where(
                SupplyAttempt.order_id == order_id,
                SupplyAttempt.outcome == ATTEMPT_ABANDONED,
                SupplyAttempt.source_id.is_not(None),
            )
        )
    )


# --- endings ---------------------------------------------------------------------


def _still_needed(order: Order) -> int:
    if order.product_kind != KIND_CARD:
        return order.quantity
    sold = db.session.scalar(
        select(func.count()).where(Card.order_id == order.id, Card.status == CARD_SOLD)
    )
    return order.quantity - int(sold or 0)


def _deliver(
    order: _Item, source: _Source, purchase: Purchase, need: int, actor: str
) -> str | None:
    """Store what the source delivered and deliver the order; None when the
    codes are unusable (too few, or already held by the shop)."""
    if order.product_kind == KIND_CARD:
        if len(purchase.codes) < need:
            return None
        if not _store_codes(order, purchase.codes[:need]):
            db.session.rollback()
            return None
    return _finish_delivered(order, purchase.ref, actor)


def _store_codes(order: _Item, codes: list[str]) -> bool:
    """The upstream's codes as this order's sold cards, encrypted and
    fingerprinted like imported ones (caller's transaction)."""
    cipher = get_cipher()
    canonicals = [code.strip() for code in codes]
    if not all(canonicals):
        return False
    fingerprints = cipher.fingerprint_many(canonicals)
    if len(set(fingerprints)) != len(fingerprints):
        return False
    if db.session.scalar(select(func.count()).where(Card.fingerprint.in_(fingerprints))):
        return False
    now = datetime.now(UTC)
    for canonical, fingerprint in zip(canonicals, fingerprints, strict=True):
        card_id = uuid.uuid4()
        db.session.add(
            Card(
                id=card_id,
                product_id=order.product_id,
                status=CARD_SOLD,
                key_id=cipher.current_id,
                secret=cipher.encrypt(card_id, canonical),
                fingerprint=fingerprint,
                order_id=order.id,
                sold_at=now,
            )
        )
    db.session.flush()
    return True


def _finish_delivered(order: _Item, ref: str | None, actor: str) -> str:
    from app.orders.fulfilment import notify_delivered

    note = f"supplier reference {ref}" if ref else "delivered by the supplier"
    moved = state.transition(
        order.id,
        FULFILLING,
        DELIVERED,
        actor=actor,
        note=note,
        delivered_at=datetime.now(UTC),
        last_error=None,
    )
    if not moved:
        db.session.rollback()  # another worker finished it: nothing of ours stays
        return get_order_by_id(order.id).status
    db.session.commit()
    notify_delivered(order.id)
    return DELIVERED


def _wait(order: _Item, detail: str, source: _Source, actor: str) -> str:
    """Leave the order ``fulfilling`` with its lease let go, so the poll job
    may take it up again; past the give-up deadline, fail it with a
    ``supply_silent`` ticket instead."""
    if _past_give_up(order.id):
        return _fail(order, [detail], actor, reason=SILENT_REASON, source=source)
    db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == FULFILLING)
        .values(fulfil_started_at=None, last_error=detail[:500])
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return FULFILLING


def _past_give_up(order_id: uuid.UUID) -> bool:
    """Whether the order entered ``fulfilling`` (paid, or retried) longer
    than ``SUPPLY_GIVE_UP_SECONDS`` ago."""
    limit = int(current_app.config.get("SUPPLY_GIVE_UP_SECONDS", 1800))
    entered = db.session.scalar(
        select(func.max(OrderEvent.created_at)).where(
            OrderEvent.order_id == order_id, OrderEvent.to_status == FULFILLING
        )
    )
    if entered is None:
        return False
    if entered.tzinfo is None:
        entered = entered.replace(tzinfo=UTC)
    return datetime.now(UTC) - entered > timedelta(seconds=limit)


def _fail(
    order: _Item,
    reasons: list[str],
    actor: str,
    *,
    reason: str = TICKET_REASON,
    source: _Source | None = None,
) -> str:
    detail = "; ".join(r for r in reasons if r)[:400] or "no usable source"
    if source is not None:
        name = db.session.scalar(select(Supplier.name).where(Supplier.id == source.supplier_id))
        detail = f"{name} stayed silent past the deadline ({detail})"[:400]
    moved = state.transition(
        order.id,
        FULFILLING,
        FAILED,
        actor=actor,
        note="the supplier stayed silent"
        if reason == SILENT_REASON
        else "no source could supply it",
        last_error=detail,
    )
    if not moved:
        db.session.rollback()
        return get_order_by_id(order.id).status
    open_ticket = db.session.scalar(
        select(Ticket.id).where(Ticket.order_id == order.id, Ticket.status == "open")
    )
    if open_ticket is None:
        text = detail if reason == SILENT_REASON else f"No source could supply it: {detail}"
        tickets.open_ticket(order.id, reason, text)
    db.session.commit()
    return FAILED


def give_up_source(order_id: uuid.UUID, actor: str) -> uuid.UUID | None:
    """The operator stops waiting on the source that may hold the order's
    purchase: an ``abandoned`` attempt is recorded in its name, so routing
    never asks it for this order again and buys from the next source. Returns that source's id (None: no source
    holds it). The caller commits."""
    last = db.session.execute(
        select(SupplyAttempt.source_id, SupplyAttempt.supplier_id, SupplyAttempt.outcome)
        .where(SupplyAttempt.order_id == order_id)
        .order_by(SupplyAttempt.id.desc())
        .limit(1)
    ).first()
    if last is None or last.outcome in (ATTEMPT_FAILED, ATTEMPT_ABANDONED):
        return None
    if last.source_id is None:
        return None
    order = get_order_by_id(order_id)
    db.session.add(
        SupplyAttempt(
            order_id=order_id,
            source_id=last.source_id,
            supplier_id=last.supplier_id,
            idempotency_key=item_key(order),
            outcome=ATTEMPT_ABANDONED,
            latency_ms=0,
            detail=f"given up by {actor}"[:300],
        )
    )
    db.session.flush()
    return last.source_id


def waiting_orders(limit: int = 500) -> list[uuid.UUID]:
    """The shop's orders waiting on a source: ``fulfilling`` with the lease
    let go (a pending purchase, a silent source, a card order the buyer's
    request left to the queue) or run out on a top-up or an order that has
    asked a source (a worker died mid-purchase); and paid
    top-ups with sources whose fulfilment job was lost (Redis down at the
    payment)."""
    from app.orders.fulfilment import fulfil_lease

    now = datetime.now(UTC)
    stale = now - fulfil_lease()
    asked = select(SupplyAttempt.id).where(SupplyAttempt.order_id == Order.id).exists()
    sourced = (
        select(ProductSource.id)
        .join(Supplier, Supplier.id == ProductSource.supplier_id)
        .where(
            ProductSource.product_id == Order.product_id,
            ProductSource.enabled.is_(True),
            Supplier.status == SUPPLIER_ACTIVE,
        )
        .exists()
    )
    # A let-go lease is routing's own mark; a stale one on a card order that
    # never asked a source is the sweeper's (``orders.fulfilment.sweep``).
    waiting = (Order.status == FULFILLING) & (
        Order.fulfil_started_at.is_(None)
        | ((Order.fulfil_started_at < stale) & ((Order.product_kind == KIND_TOPUP) | asked))
    )
    lost = (
        (Order.status == PAID)
        & (Order.product_kind == KIND_TOPUP)
        & (Order.paid_at < now - timedelta(seconds=LOST_JOB_SECONDS))
        & sourced
    )
    return list(
        db.session.scalars(select(Order.id).where(waiting | lost).order_by(Order.id).limit(limit))
    )
