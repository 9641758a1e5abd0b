"""Periodic work and mail of the platform's billing: the dunning run
(``BILLING_DUNNING_INTERVAL_SECONDS``) and the reminder mail to a past-due
shop's owners (``mail`` queue)."""

from __future__ import annotations

import uuid

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import ROLE_OWNER, Membership, PlatformUser
from app.billing import dunning
from app.core.queues import register_periodic
from app.extensions import db
from tenants.context import tenant_context
from tenants.models import Tenant


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
    from app.billing.plans import plan_of
    from app.core.dates import in_zone
    from app.core.links import shop_url
    from app.core.mail import send_mail

    try:
        shop = db.session.get(Tenant, uuid.UUID(tenant_id))
        row = plan_of(shop.id).subscription
        if row is None:
            return 0
        with tenant_context(shop.id):
            owners = list(
                db.session.scalars(
                    select(PlatformUser.email)
                    .join(Membership, Membership.user_id == PlatformUser.id)
                    .where(Membership.role == ROLE_OWNER)
                    .order_by(PlatformUser.email)
                )
            )
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


register_periodic(run_dunning, "default", "BILLING_DUNNING_INTERVAL_SECONDS")
