"""Supply jobs (RQ, queue ``sync``). They enter each shop's context
themselves and are safe to run twice.

- ``sync_stock`` (every ``SUPPLY_SYNC_INTERVAL_SECONDS``) pulls stock and
  cost from every due source: a source synced once is not due again until
  its ``next_sync_at``.
- ``poll_supply`` (every ``SUPPLY_POLL_INTERVAL_SECONDS``) hands the orders
  waiting on a source — a pending purchase, a source that stayed silent, a
  worker that died mid-purchase — back to the fulfilment queue, where the
  source is asked for the purchase's status under the order's key (never a
  second purchase)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import distinct, select

from app.core.queues import register_periodic
from app.extensions import db
from app.orders import fulfilment
from app.orders.models import FULFILLING, Order
from app.supply import routing, sync
from tenants.context import all_tenants, tenant_context

log = logging.getLogger(__name__)


def sync_stock() -> int:
    """Periodic: pull stock and cost from every due source of every shop
    (at most ``sync.BATCH`` sources per shop per run); how many answered.
    One shop's failure is logged and does not stop the others."""
    now = datetime.now(UTC)
    with all_tenants():
        try:
            shops = sync.shops_with_due_sources(now)
        finally:
            db.session.remove()
    answered = 0
    for tenant_id in shops:
        with tenant_context(tenant_id):
            try:
                answered += sync.sync_due(now)
            except Exception:
                db.session.rollback()
                log.exception("stock sync of shop %s failed", tenant_id)
            finally:
                db.session.remove()
    return answered


def poll_supply() -> int:
    """Periodic: queue the fulfilment of every order waiting on a source,
    shop by shop. Returns how many it queued."""
    queued = 0
    try:
        with all_tenants():
            shops = list(
                db.session.scalars(
                    select(distinct(Order.tenant_id)).where(Order.status == FULFILLING)
                )
            )
        for tenant_id in shops:
            with tenant_context(tenant_id):
                for order_id in routing.waiting_orders():
                    fulfilment.enqueue_fulfilment(order_id)
                    queued += 1
    finally:
        db.session.remove()
    return queued


register_periodic(sync_stock, "sync", "SUPPLY_SYNC_INTERVAL_SECONDS")
register_periodic(poll_supply, "sync", "SUPPLY_POLL_INTERVAL_SECONDS")
