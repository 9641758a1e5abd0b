"""Periodic work of agents' money: settling commission whose refund window
has passed, shop by shop (``COMMISSION_SETTLE_INTERVAL_SECONDS``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import distinct, select

from app.agents import commission
from app.agents.models import COMMISSION_PENDING, Commission
from app.core.queues import register_periodic
from app.extensions import db
from tenants.context import all_tenants, tenant_context

log = logging.getLogger(__name__)


def settle_commissions() -> int:
    """Settle every shop's due commission; one shop's failure is logged and
    the others go on (it is retried on the next run)."""
    now = datetime.now(UTC)
    settled = 0
    try:
        with all_tenants():
            shops = list(
                db.session.scalars(
                    select(distinct(Commission.tenant_id)).where(
                        Commission.status == COMMISSION_PENDING, Commission.settle_after <= now
                    )
                )
            )
        for tenant_id in shops:
            with tenant_context(tenant_id):
                try:
                    settled += commission.settle_due(now=now)
                except Exception:
                    db.session.rollback()
                    log.exception("commission of shop %s not settled", tenant_id)
    finally:
        db.session.remove()
    return settled


register_periodic(settle_commissions, "default", "COMMISSION_SETTLE_INTERVAL_SECONDS")
