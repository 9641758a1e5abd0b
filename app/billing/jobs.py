"""Periodic work of the platform's billing: accruing its commission on
every shop's sales (``app.billing.accrual``), on the ``sync`` queue every
``PLATFORM_COMMISSION_INTERVAL_SECONDS``."""

from __future__ import annotations

import logging

from app.billing import accrual
from app.core.queues import register_periodic
from app.extensions import db
from tenants.context import all_tenants, tenant_context

log = logging.getLogger(__name__)


def accrue_platform_commission() -> int:
    """Run ``accrual.accrue_shop`` for every shop; one shop's failure is
    logged and the others go on (it is retried on the next run). Returns
    how many rows were added. Safe to run twice."""
    added = 0
    try:
        with all_tenants():
            shops = accrual.shops_to_accrue()
        for tenant_id in shops:
            with tenant_context(tenant_id):
                try:
                    added += sum(accrual.accrue_shop().values())
                except Exception:
                    db.session.rollback()
                    log.exception("platform commission of shop %s not accrued", tenant_id)
    finally:
        db.session.remove()
    return added


register_periodic(accrue_platform_commission, "sync", "PLATFORM_COMMISSION_INTERVAL_SECONDS")
