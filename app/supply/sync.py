"""Stock sync (库存同步): each enabled source's stock and cost pulled from its
supplier, with back-off on failing ones, and products going off and on
sale with their sources.

- A source is due when its ``next_sync_at`` has passed (or it was never
  synced). A good answer stores the stock and cost, clears the failures and
  schedules the next sync ``SUPPLY_SYNC_INTERVAL_SECONDS`` later; a failure
  (``SupplyError``, or a supplier no connector speaks for) counts up and
  waits twice as long each time, at most ``SUPPLY_SYNC_MAX_BACKOFF_SECONDS``.
- A product on sale whose own stock is empty and whose sources are all
  empty or off goes off sale, and the product is remembered
  (``SyncPausedProduct``); when a source refills, only a product the sync
  took off sale comes back on sale: one the operator took off stays off.
  A cost change reprices the product by the operator's markup rule when
  its cheapest source's supplier has one (``reprice``).
  Both moves add a stock alert for the operator (``sold_out`` with every
  source empty, ``restocked`` when back), in the catalogue's alert list,
  and the owners are mailed (``app.supply.mail``, after the commit).

Each function works in the current shop and commits its own changes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from app.catalog.models import KIND_CARD, STATUS_OFF_SALE, STATUS_ON_SALE, Product, StockAlert
from app.core.money import share_of
from app.extensions import db
from app.supply import mail as stock_mail
from app.supply.connectors.base import SupplyError
from app.supply.connectors.registry import connector_for
from app.supply.models import (
    SUPPLIER_ACTIVE,
    ProductSource,
    Supplier,
    SyncPausedProduct,
)

DEFAULT_INTERVAL = 300
DEFAULT_MAX_BACKOFF = 6 * 3600
BATCH = 200
#: the kinds of stock alert the sync records (the catalogue's own are low
#: and sold_out)
ALERT_SOLD_OUT = stock_mail.SOLD_OUT
ALERT_RESTOCKED = stock_mail.RESTOCKED


def _interval() -> int:
    return int(current_app.config.get("SUPPLY_SYNC_INTERVAL_SECONDS", DEFAULT_INTERVAL))


def backoff_seconds(failures: int) -> int:
    """How long a source that failed ``failures`` times in a row waits:
    the interval, doubled per failure after the first, capped."""
    cap = int(current_app.config.get("SUPPLY_SYNC_MAX_BACKOFF_SECONDS", DEFAULT_MAX_BACKOFF))
    return min(_interval() * 2 ** max(failures - 1, 0), cap)


def record_offer(source: ProductSource, stock: int | None, cost: int, now: datetime) -> None:
    """Store what the supplier answered (flushes, does not commit)."""
    source.stock = stock
    source.cost = cost
    source.synced_at = now
    source.sync_failures = 0
    source.last_error = None
    source.next_sync_at = now + timedelta(seconds=_interval())


def record_failure(source: ProductSource, detail: str, now: datetime) -> None:
    """Count a failed sync and push the next one back (does not commit)."""
    source.sync_failures = (source.sync_failures or 0) + 1
    source.last_error = detail[:300]
    source.next_sync_at = now + timedelta(seconds=backoff_seconds(source.sync_failures))


def _has_supply(product: Product) -> bool:
    """Whether the product has something to sell: its own stock, or an
    enabled source of an active supplier whose last sync saw stock (a
    source that does not count stock, such as a top-up, always has)."""
    if product.kind == KIND_CARD and product.stock_available > 0:
        return True
    rows = db.session.execute(
        select(ProductSource.stock, ProductSource.synced_at)
        .join(Supplier, Supplier.id == ProductSource.supplier_id)
        .where(
            ProductSource.product_id == product.id,
            ProductSource.enabled.is_(True),
            Supplier.status == SUPPLIER_ACTIVE,
        )
    ).all()
    return any(synced is not None and (stock is None or stock > 0) for stock, synced in rows)


def follow_sources(product_id: uuid.UUID) -> str | None:
    """Take the product off sale when nothing is left to sell, or put it
    back on sale when a source refilled and the sync was what took it off.
    Returns ``"off"``, ``"on"`` or None (nothing changed). Only products
    with at least one source are touched. Commits."""
    product = db.session.scalar(select(Product).where(Product.id == product_id))
    if product is None:
        return None
    linked = db.session.scalar(
        select(ProductSource.id).where(ProductSource.product_id == product.id).limit(1)
    )
    if linked is None:
        return None
    paused = db.session.scalar(
        select(SyncPausedProduct).where(SyncPausedProduct.product_id == product.id)
    )
    supplied = _has_supply(product)
    if product.status == STATUS_ON_SALE and not supplied:
        product.status = STATUS_OFF_SALE
        if paused is None:
            db.session.add(SyncPausedProduct(product_id=product.id))
        _alert(product, ALERT_SOLD_OUT)
        db.session.commit()
        stock_mail.notify_stock_change(product_id, ALERT_SOLD_OUT)
        return "off"
    if paused is not None and supplied:
        back = product.status == STATUS_OFF_SALE
        if back:
            product.status = STATUS_ON_SALE
            _alert(product, ALERT_RESTOCKED)
        db.session.delete(paused)
        db.session.commit()
        if back:
            stock_mail.notify_stock_change(product_id, ALERT_RESTOCKED)
        return "on" if back else None
    return None


def _alert(product: Product, kind: str) -> None:
    """The operator's stock alert (``app.catalog.stock_alerts``' list) for
    a product the sync took off sale or put back on sale."""
    stock = db.session.scalar(
        select(func.coalesce(func.sum(ProductSource.stock), 0)).where(
            ProductSource.product_id == product.id, ProductSource.enabled.is_(True)
        )
    )
    db.session.add(
        StockAlert(
            product_id=product.id,
            kind=kind,
            stock=int(stock or 0) + product.stock_available,
            threshold=product.low_stock_threshold,
        )
    )


def sync_source(source_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Ask the source's supplier for its stock and cost and store the
    answer, or count the failure and back off; then let the product follow
    its sources. True when the supplier answered. Commits (before the
    request to the supplier, too: no transaction is open across it)."""
    now = now or datetime.now(UTC)
    source = db.session.scalar(select(ProductSource).where(ProductSource.id == source_id))
    if source is None:
        return False
    supplier = db.session.scalar(select(Supplier).where(Supplier.id == source.supplier_id))
    sku = source.sku
    try:
        connector = connector_for(supplier)
        # No transaction stays open across the request to the upstream: on
        # SQLite it would hold the write lock, and an upstream on this very
        # platform (a ``platform`` supplier) would wait on it until our read
        # timed out.
        db.session.commit()
        offer = connector.offer(sku)
    except SupplyError as err:
        record_failure(source, f"{err.outcome}: {err.detail}", now)
        answered = False
    except (ImportError, ValueError) as err:  # no connector speaks for this kind here
        record_failure(source, f"failed: {err}", now)
        answered = False
    else:
        stock = offer.stock if offer.on_sale else 0
        changed = offer.price != source.cost
        record_offer(source, stock, offer.price, now)
        if changed:
            reprice(source.product_id)
        answered = True
    product_id = source.product_id
    db.session.commit()
    follow_sources(product_id)
    return answered


def reprice(product_id: uuid.UUID) -> int | None:
    """Apply the markup rule after a cost change: when the product's
    cheapest enabled source (of an active supplier) has a supplier with a
    ``markup_percent``, the product's cost becomes that source's cost and
    its price the cost plus the markup (``app.core.money.share_of``
    rounding). The new price, or None when no rule applies. Flushes; the
    caller commits."""
    row = db.session.execute(
        select(ProductSource.cost, Supplier.markup_percent)
        .join(Supplier, Supplier.id == ProductSource.supplier_id)
        .where(
            ProductSource.product_id == product_id,
            ProductSource.enabled.is_(True),
            Supplier.status == SUPPLIER_ACTIVE,
        )
        .order_by(ProductSource.cost, ProductSource.priority.desc())
        .limit(1)
    ).first()
    if row is None or row.markup_percent is None:
        return None
    product = db.session.scalar(select(Product).where(Product.id == product_id))
    price = row.cost + share_of(row.cost, row.markup_percent * 100)
    product.cost, product.price = row.cost, price
    db.session.flush()
    return price


def due_sources(now: datetime, limit: int = BATCH) -> list[uuid.UUID]:
    """The enabled sources of active suppliers whose sync is due, the
    longest waiting first, at most ``limit``."""
    return list(
        db.session.scalars(
            select(ProductSource.id)
            .join(Supplier, Supplier.id == ProductSource.supplier_id)
            .where(
                ProductSource.enabled.is_(True),
                Supplier.status == SUPPLIER_ACTIVE,
                or_(ProductSource.next_sync_at.is_(None), ProductSource.next_sync_at <= now),
            )
            .order_by(ProductSource.next_sync_at.is_not(None), ProductSource.next_sync_at)
            .limit(limit)
        )
    )


def sync_due(now: datetime | None = None, limit: int = BATCH) -> int:
    """Sync every due source of the current shop (at most ``limit``); how
    many answered."""
    now = now or datetime.now(UTC)
    return sum(sync_source(ident, now) for ident in due_sources(now, limit))


def shops_with_due_sources(now: datetime, limit: int = 1_000) -> list[uuid.UUID]:
    """The shops (tenant ids) with at least one source due; to be called
    across every shop (``tenants.context.all_tenants``)."""
    return list(
        db.session.scalars(
            select(ProductSource.tenant_id)
            .join(Supplier, Supplier.id == ProductSource.supplier_id)
            .where(
                ProductSource.enabled.is_(True),
                Supplier.status == SUPPLIER_ACTIVE,
                or_(ProductSource.next_sync_at.is_(None), ProductSource.next_sync_at <= now),
            )
            .distinct()
            .limit(limit)
        )
    )
