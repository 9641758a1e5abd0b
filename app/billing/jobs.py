"""Periodic work of the platform's billing, on the ``sync`` queue:
accruing its commission on every shop's sales (``app.billing.accrual``,
every ``PLATFORM_COMMISSION_INTERVAL_SECONDS``) and billing each shop's
last month on its Stripe customer (``app.billing.invoicing``, every
``BILLING_INVOICE_INTERVAL_SECONDS``: a month is billed by the first run
after it ends in the shop's time zone, and never twice)."""

from __future__ import annotations

import logging

from flask import current_app

from app.billing import accrual, invoicing, statements
from app.billing.plans import plan_of
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


def bill_last_month() -> dict[str, int]:
    """Bill every shop's previous month (in its time zone) once Stripe is
    set up; counts of each outcome (``billed``, ``no_customer`` …). One
    shop's failure is logged and the others go on. Safe to run twice."""
    outcomes: dict[str, int] = {}
    if not current_app.config.get("STRIPE_SECRET_KEY"):
        return outcomes
    try:
        with all_tenants():
            shops = accrual.shops_to_accrue()
        for tenant_id in shops:
            with tenant_context(tenant_id):
                try:
                    zone = plan_of(tenant_id).timezone
                    month = statements.previous_month(statements.this_month(zone))
                    bill = invoicing.bill_month(month)
                    outcomes[bill.status] = outcomes.get(bill.status, 0) + 1
                except Exception:
                    db.session.rollback()
                    log.exception("platform commission of shop %s not billed", tenant_id)
    finally:
        db.session.remove()
    return outcomes


register_periodic(accrue_platform_commission, "sync", "PLATFORM_COMMISSION_INTERVAL_SECONDS")
register_periodic(bill_last_month, "sync", "BILLING_INVOICE_INTERVAL_SECONDS")
