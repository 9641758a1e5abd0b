"""The operator's stock mail: when the stock sync takes a product off sale
(every source empty) or puts it back (a source refilled), the shop's owners
are mailed, besides the alert on the console's stock alert list
(``app.supply.sync.follow_sources``).

``notify_stock_change`` queues the mail after the sync's commit; the
``mail`` queue's worker renders it in the shop's language and sends it.
A queue that cannot be reached loses the mail, never the sync: the console
alert is the record."""

from __future__ import annotations

import logging
import uuid

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.accounts.members import owner_emails
from app.core.links import shop_url
from app.core.mail import send_mail
from app.core.queues import get_queue
from app.extensions import db
from tenants.context import current_tenant_id, tenant_context

log = logging.getLogger(__name__)

MAIL_JOB = "app.supply.mail.mail_stock_change"
SOLD_OUT = "sold_out"
RESTOCKED = "restocked"


def notify_stock_change(product_id: uuid.UUID, kind: str) -> None:
    """Queue the owners' mail about ``product_id`` going off sale
    (``sold_out``) or back on sale (``restocked``). Call after the commit."""
    try:
        get_queue("mail").enqueue(MAIL_JOB, str(current_tenant_id()), str(product_id), kind)
    except Exception:  # noqa: BLE001 - the console's alert list has it regardless
        log.warning("product %s: stock mail not enqueued", product_id)


def mail_stock_change(tenant_id: str, product_id: str, kind: str) -> int:
    """``mail`` queue: mail every owner of the shop that the product went
    off sale or came back, with the stock its sources reported and a link
    to its sources page. Returns how many mails were sent."""
    from app.catalog.models import Product
    from app.supply.models import ProductSource
    from tenants.models import Tenant

    try:
        with tenant_context(uuid.UUID(tenant_id)):
            product = db.session.scalar(select(Product).where(Product.id == uuid.UUID(product_id)))
            if product is None:
                return 0
            shop = db.session.get(Tenant, uuid.UUID(tenant_id))
            owners = owner_emails()
            supplied = db.session.scalar(
                select(func.coalesce(func.sum(ProductSource.stock), 0)).where(
                    ProductSource.product_id == product.id, ProductSource.enabled.is_(True)
                )
            )
            context = {
                "shop_name": shop.name,
                "product": product.name,
                "stock": int(supplied or 0) + product.stock_available,
                "restocked": kind == RESTOCKED,
                "link": shop_url(shop.slug, f"/console/products/{product.id}/sources"),
            }
            with force_locale(shop.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
                if kind == RESTOCKED:
                    subject = _(
                        "[%(shop)s] %(product)s is back on sale",
                        shop=shop.name,
                        product=product.name,
                    )
                else:
                    subject = _(
                        "[%(shop)s] %(product)s is off sale: its sources are empty",
                        shop=shop.name,
                        product=product.name,
                    )
                text = render_template("mail/stock_change.txt", **context)
                html = render_template("mail/stock_change.html", **context)
            for email in owners:
                send_mail(email, subject, text, html)
            return len(owners)
    finally:
        db.session.remove()
