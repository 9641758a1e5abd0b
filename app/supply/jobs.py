"""Supply jobs (RQ): ``poll_supply`` (``sync`` queue, every
``SUPPLY_POLL_INTERVAL_SECONDS``) hands the orders waiting on a source —
a pending purchase, a source that stayed silent, a worker that died
mid-purchase — back to the fulfilment queue, where the source is asked for
the purchase's status under the order's key (never a second purchase)."""

from __future__ import annotations

import logging

from sqlalchemy import distinct, select

from app.core.queues import register_periodic
from app.extensions import db
from app.orders import fulfilment
from app.orders.models import FULFILLING, Order
from app.supply import routing
from tenants.context import all_tenants, tenant_context

log = logging.getLogger(__name__)


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


register_periodic(poll_supply, "sync", "SUPPLY_POLL_INTERVAL_SECONDS")
