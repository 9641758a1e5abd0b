"""Periodic work and mail of the platform's billing.

- The dunning run (``BILLING_DUNNING_INTERVAL_SECONDS``, ``default``
  queue) and the reminder mail to a past-due shop's owners (``mail``
  queue).
- On the ``sync`` queue: accruing the platform's commission on every
  shop's sales (``app.billing.accrual``, every
  ``PLATFORM_COMMISSION_INTERVAL_SECONDS``) and billing each shop's last
  month on its Stripe customer (``app.billing.invoicing``, every
  ``BILLING_INVOICE_INTERVAL_SECONDS``: a month is billed by the first run
  after it ends in the shop's time zone, and never twice)."""

from __future__ import annotations

import logging
import uuid

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from app.accounts.members import owner_emails
from app.billing import accrual, dunning, invoicing, statements
from app.billing.plans import plan_of
from app.core.queues import register_periodic
from app.extensions import db
from tenants.context import all_tenants, tenant_context
from tenants.models import Tenant

log = logging.getLogger(__name__)


def run_dunning() -> int:
    """Periodic: send the due reminders, suspend the shops out of grace;
    how many things it did."""
    try:
        done = dunning.run_dunning()
        return len(done.reminders) + len(done.suspended)
    finally:
        db.session.remove()


def mail_reminder(tenant_id: str, number: int) -> int:
    """``mail`` queue: remind every owner of the shop that its plan's
    payment failed (reminder ``number``: 1, 2, 3), in the shop's language,
    with the day its storefront pauses and a link to the plan page. The
    dunning run queues each reminder once; how many owners were mailed."""
    from app.core.dates import in_zone
    from app.core.links import shop_url
    from app.core.mail import send_mail

    try:
        shop = db.session.get(Tenant, uuid.UUID(tenant_id))
        row = plan_of(shop.id).subscription
        if row is None:
            return 0
        with tenant_context(shop.id):
            owners = owner_emails()
        context = {
            "shop_name": shop.name,
            "plan": row.plan.name,
            "number": number,
            "suspends_at": dunning.suspends_at(row),
            "suspended": row.status == "suspended",
            "link": shop_url(shop.slug, "/console/plan"),
        }
        locale = shop.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
        with force_locale(locale), in_zone(shop.timezone):
            subject = _("[%(shop)s] The payment for your plan failed", shop=shop.name)
            text = render_template("mail/billing_reminder.txt", **context)
            html = render_template("mail/billing_reminder.html", **context)
        for email in owners:
            send_mail(email, subject, text, html)
        return len(owners)
    finally:
        db.session.remove()


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


register_periodic(run_dunning, "default", "BILLING_DUNNING_INTERVAL_SECONDS")
register_periodic(accrue_platform_commission, "sync", "PLATFORM_COMMISSION_INTERVAL_SECONDS")
register_periodic(bill_last_month, "sync", "BILLING_INVOICE_INTERVAL_SECONDS")
