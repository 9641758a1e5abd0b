"""Order jobs (RQ). They take ids, enter the shop's context, and are safe to
run twice: delivery is a conditional transition, the sweepers only
re-enqueue, and the delivery mail is marked sent (a Redis marker) only
once the mail server took it: a worker killed mid-send leaves no marker, so
the next run sends it. Mail is at least once, never lost: a rare second
copy beats a buyer who never hears of their codes.

Delivery mails that queue up behind one another are sent by the first of
them to run, over the worker's one SMTP connection (``app.core.mail``): each
job it sends for is taken off the queue only after its mail was sent and
marked, so a worker killed mid-batch leaves the rest to their own jobs."""

from __future__ import annotations

import logging
import smtplib
import uuid

from flask import render_template
from sqlalchemy import distinct, select

from app.core.queues import register_periodic
from app.core.redisconn import get_redis
from app.extensions import db
from app.orders import fulfilment, lookups
from app.orders.models import PENDING, Order
from tenants.context import all_tenants, tenant_context

log = logging.getLogger(__name__)

#: How long "this order's mail was sent" is remembered (a replay of the job
#: within it sends nothing).
MAILED_MARKER_SECONDS = 7 * 86400


def fulfil_order(tenant_id: str, order_id: str) -> str:
    """``fulfilment`` queue: deliver a paid order."""
    with tenant_context(uuid.UUID(tenant_id)):
        try:
            return fulfilment.fulfil(uuid.UUID(order_id))
        finally:
            db.session.remove()


#: How many delivery mails queued behind it one job sends (``mail_delivery``).
MAIL_BATCH = 50


def mail_delivery(tenant_id: str, order_id: str) -> str:
    """``mail`` queue: email the buyer their codes, once, in the shop's
    language (text and HTML, with a link back to the order page); then the
    delivery mails queued behind it, up to ``MAIL_BATCH``."""
    outcome = _mail_order(tenant_id, order_id)
    mail_queued_deliveries(MAIL_BATCH)
    return outcome


def mail_queued_deliveries(limit: int) -> int:
    """Send the delivery mails of the next ``limit`` jobs waiting on the
    ``mail`` queue, and take each job off the queue once its mail is sent
    (and marked). Stops at the first failure: that job and the rest run
    on their own. Returns how many jobs it took."""
    from rq.job import Job

    from app.core.queues import get_queue

    queue = get_queue("mail")
    waiting = [i for i in queue.get_job_ids(0, limit - 1) if i.startswith("mail-")]
    if not waiting:
        return 0
    taken = 0
    for job in Job.fetch_many(waiting, connection=queue.connection):
        if job is None or job.func_name != fulfilment.MAIL_JOB or len(job.args) != 2:
            continue
        try:
            _mail_order(*job.args)
        except Exception:  # noqa: BLE001 - its own job retries it and reports the failure
            log.warning("delivery mail %s left to its job", job.id)
            break
        if queue.remove(job.id):  # still waiting: nobody else will run it
            job.delete(remove_from_queue=False)
            taken += 1
    return taken


def _mail_order(tenant_id: str, order_id: str) -> str:
    from urllib.parse import urlencode

    from flask import current_app
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from app.core.links import shop_url
    from app.core.mail import send_mail
    from app.core.money import format_money
    from tenants.models import Tenant

    marker = f"kameng:mailed:{order_id}"
    redis = get_redis()
    if redis.exists(marker):
        return "already sent"
    try:
        with tenant_context(uuid.UUID(tenant_id)):
            order = lookups.get_order_by_id(uuid.UUID(order_id))
            shop = db.session.get(Tenant, order.tenant_id)
            token = lookups.lookup_token(order.id)
            context = {
                "order": order,
                "shop": shop,
                "codes": lookups.delivered_codes(order),
                "token": token,
                "total": format_money(order.total, order.currency),
                "page_url": shop_url(shop.slug, f"/o/{order.number}?{urlencode({'t': token})}"),
            }
            with force_locale(shop.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
                subject = _(
                    "[%(shop)s] Your order %(number)s is delivered",
                    shop=shop.name,
                    number=order.number,
                )
                text = render_template("mail/delivery.txt", **context)
                html = render_template("mail/delivery.html", **context)
            try:
                send_mail(order.email, subject, text, html)
            except (smtplib.SMTPException, OSError) as exc:
                db.session.rollback()
                fulfilment.record_delivery_mail(order.id, f"{type(exc).__name__}: {exc}")
                raise  # RQ keeps the job among the failed ones
            fulfilment.record_delivery_mail(order.id)
        redis.set(marker, "1", ex=MAILED_MARKER_SECONDS)
        return "sent"
    finally:
        db.session.remove()


def _due_shops(condition) -> list[uuid.UUID]:
    with all_tenants():
        return list(db.session.scalars(select(distinct(Order.tenant_id)).where(condition)))


def expire_orders() -> int:
    """Periodic: expire unpaid orders past their hold, shop by shop."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    total = 0
    try:
        for tenant_id in _due_shops((Order.status == PENDING) & (Order.expires_at < now)):
            with tenant_context(tenant_id):
                total += fulfilment.expire_due()
    finally:
        db.session.remove()
    return total


def sweep_orders() -> int:
    """Periodic: re-enqueue paid orders with no live fulfilment."""
    try:
        with all_tenants():
            return fulfilment.sweep()
    finally:
        db.session.remove()


def finish_stale_refunds() -> int:
    """Periodic: finish refunds claimed more than ``ORDER_REFUND_RECOVERY_SECONDS``
    ago (300 by default) and never finished — the process died between the
    claim and the finish. Each is sent to the provider again with the same
    idempotency key (never a second refund), then finished. Returns how many
    it finished; one that fails is logged and retried on the next run."""
    from datetime import UTC, datetime, timedelta

    from flask import current_app

    from app.orders import remedies
    from app.orders.models import REFUNDING

    age = int(current_app.config["ORDER_REFUND_RECOVERY_SECONDS"])
    older_than = datetime.now(UTC) - timedelta(seconds=age)
    finished = 0
    try:
        for tenant_id in _due_shops(Order.status == REFUNDING):
            with tenant_context(tenant_id):
                for order_id in remedies.stale_refunds(older_than):
                    try:
                        finished += remedies.finish_stale_refund(order_id)
                    except Exception:  # one shop's provider trouble must not stop the others
                        db.session.rollback()
                        log.exception("refund of order %s not finished", order_id)
    finally:
        db.session.remove()
    return finished


register_periodic(expire_orders, "default", "ORDER_EXPIRY_INTERVAL_SECONDS")
register_periodic(sweep_orders, "fulfilment", "ORDER_SWEEP_INTERVAL_SECONDS")
# Runs as often as the sweeper; the age that makes a refund stale is its own
# setting (read with a default, so the job needs no new interval setting).
register_periodic(finish_stale_refunds, "default", "ORDER_SWEEP_INTERVAL_SECONDS")
