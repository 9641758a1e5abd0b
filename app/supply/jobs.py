"""Supply jobs (RQ, queue ``sync``). They enter each shop's context
themselves and are safe to run twice: a source synced once is not due
again until its ``next_sync_at``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from app.core.queues import register_periodic
from app.extensions import db
from app.supply import sync
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


register_periodic(sync_stock, "sync", "SUPPLY_SYNC_INTERVAL_SECONDS")
