"""Order jobs (RQ). They take ids, enter the shop's context, and are safe to
run twice: delivery is a conditional transition, the sweepers only
re-enqueue, and the delivery mail is marked sent (a Redis marker) only
once the mail server took it: a worker killed mid-send leaves no marker, so
the next run sends it. Mail is at least once, never lost: a rare second
copy beats a buyer who never hears of their codes.

A delivery joins a Redis list of pending mails (``fulfilment.notify_delivered``)
and ``drain_delivery_mails`` sends them in batches over the worker's one
SMTP connection (``app.core.mail``), taking each off the list only after
its mail was sent and marked, so a worker killed mid-batch leaves the rest
to the next drain. A mail that fails gets a job of its own
(``mail_delivery``), which also sends the per-order mail jobs queued
behind it."""

from __future__ import annotations

import logging
import smtplib
import uuid
from itertools import groupby

from flask import render_template
from sqlalchemy import distinct, select

from app.core.errors import NotFound
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

#: Takes each listed job off the queue if it is still waiting there (a
#: worker that popped it meanwhile runs it and finds its mail sent), and
#: deletes the taken ones' hashes. KEYS: the queue, then each job's hash,
#: dependents and dependencies keys; ARGV: the job ids. Returns how many.
_TAKE_JOBS = """
local taken = 0
for i, id in ipairs(ARGV) do
  if redis.call('LREM', KEYS[1], 1, id) == 1 then
    local k = 2 + (i - 1) * 3
    redis.call('DEL', KEYS[k], KEYS[k + 1], KEYS[k + 2])
    taken = taken + 1
  end
end
return taken
"""


#: While one worker drains the pending delivery mails, no other does (the
#: lock expires if that worker dies; it is renewed after every batch).
DRAIN_LOCK_KEY = "kameng:mail:draining"
DRAIN_LOCK_SECONDS = 300


def drain_delivery_mails() -> int:
    """``mail`` queue: send the pending delivery mails
    (``fulfilment.MAIL_PENDING_KEY``), ``MAIL_BATCH`` at a time over the
    worker's one SMTP connection, until none is left; how many were sent.

    An entry leaves the list only once its mail was sent and marked (or it
    was handed on), so a worker killed mid-batch leaves them to the next
    drain: the scheduler runs one every ``ORDER_SWEEP_INTERVAL_SECONDS``,
    and the next purchase into an empty list queues one. A mail the server
    refuses (or an order that is gone) is handed to a job of its own
    (``mail_delivery``), which tries again and reports a failure the way
    every job does; the drain goes on with the rest. One drain runs at a
    time (a Redis lock): another finds the lock taken and leaves."""
    redis = get_redis()
    sent = 0
    while True:
        if not redis.set(DRAIN_LOCK_KEY, "1", nx=True, ex=DRAIN_LOCK_SECONDS):
            return sent  # the holder drains what is pending
        try:
            sent += _drain(redis)
        finally:
            redis.delete(DRAIN_LOCK_KEY)
        # An entry pushed after the holder's last look, while it still held
        # the lock, queued a drain that left at once: look again.
        if not redis.llen(fulfilment.MAIL_PENDING_KEY):
            return sent


def _drain(redis) -> int:
    from app.core.queues import get_queue

    sent = 0
    while True:
        entries = redis.lrange(fulfilment.MAIL_PENDING_KEY, 0, MAIL_BATCH - 1)
        if not entries:
            return sent
        items = []
        for entry in entries:
            tenant_id, _, order_id = entry.decode().partition(":")
            items.append((tenant_id, order_id))
        outcomes = _send_delivery_mails(items, raise_first=False)
        done = len(outcomes)
        sent += outcomes.count("sent")
        if done < len(items):
            get_queue("mail").enqueue(
                fulfilment.MAIL_JOB, *items[done], job_id=f"mail-{items[done][1]}"
            )
            done += 1
        with redis.pipeline() as pipe:
            pipe.ltrim(fulfilment.MAIL_PENDING_KEY, done, -1)
            pipe.expire(DRAIN_LOCK_KEY, DRAIN_LOCK_SECONDS)
            pipe.execute()


def mail_delivery(tenant_id: str, order_id: str) -> str:
    """``mail`` queue: email the buyer their codes, once, in the shop's
    language (text and HTML, with a link back to the order page); with it,
    the delivery mails queued behind it, up to ``MAIL_BATCH``, in one batch
    (their jobs are taken off the queue once their mails are sent). A
    failure to send its own mail fails the job (RQ keeps it among the
    failed ones); a failure on a queued one ends the batch there and leaves
    the rest to their own jobs."""
    own = (tenant_id, order_id)
    queue, jobs = _queued_mail_jobs(MAIL_BATCH)
    others = [job for job in jobs if tuple(job.args) != own]
    outcomes = _send_delivery_mails([own] + [tuple(job.args) for job in others], raise_first=True)
    finished = [job for job in jobs if tuple(job.args) == own] + others[: len(outcomes) - 1]
    _take_off(queue, finished)
    return outcomes[0]


def mail_queued_deliveries(limit: int) -> int:
    """Send the delivery mails of the next ``limit`` jobs waiting on the
    ``mail`` queue, and take those jobs off the queue once their mails are
    sent and marked. Stops at the first failure: that job and the rest run
    on their own. Returns how many jobs it took."""
    queue, jobs = _queued_mail_jobs(limit)
    if not jobs:
        return 0
    outcomes = _send_delivery_mails([tuple(job.args) for job in jobs], raise_first=False)
    return _take_off(queue, jobs[: len(outcomes)])


def _queued_mail_jobs(limit: int) -> tuple:
    """The ``mail`` queue and its next delivery-mail jobs (up to ``limit``)."""
    from rq.job import Job

    from app.core.queues import get_queue

    queue = get_queue("mail")
    waiting = [i for i in queue.get_job_ids(0, limit - 1) if i.startswith("mail-")]
    if not waiting:
        return queue, []
    jobs = [
        job
        for job in Job.fetch_many(waiting, connection=queue.connection)
        if job is not None and job.func_name == fulfilment.MAIL_JOB and len(job.args) == 2
    ]
    return queue, jobs


def _take_off(queue, jobs: list) -> int:
    """Take ``jobs`` off ``queue`` where they still wait (one round trip);
    how many were."""
    if not jobs:
        return 0
    keys = [queue.key]
    for job in jobs:
        keys += [job.key, job.dependents_key, job.dependencies_key]
    take = queue.connection.register_script(_TAKE_JOBS)
    return int(take(keys=keys, args=[job.id for job in jobs]))


def _marker(order_id: str) -> str:
    return f"kameng:mailed:{order_id}"


def _send_delivery_mails(items: list[tuple[str, str]], *, raise_first: bool) -> list[str]:
    """Send the delivery mail of each ``(shop id, order id)`` not sent yet,
    in order, over the worker's one SMTP connection; the outcome of each
    (``sent``, ``already sent``), as far as it got.

    The work is shared across a shop's orders in the batch: whether each
    was sent is asked of Redis in one round trip, the shop, its orders and
    their codes are read in three statements, the shop's language is set
    once, and ``mailed_at`` is stamped for all of them in one UPDATE and
    one commit. Each mail is marked sent in Redis as soon as the server
    took it (so a job that runs again does not send it twice); an order
    marked but not stamped (a worker killed in between) is stamped by
    whichever job finds the marker.

    A mail the server refuses is recorded on its order (``mail_error``)
    and ends the batch there: the outcomes stop before it. With
    ``raise_first`` a failure on the first item is raised instead."""
    redis = get_redis()
    with redis.pipeline(transaction=False) as pipe:
        for _tenant, order_id in items:
            pipe.exists(_marker(order_id))
        marked = [bool(m) for m in pipe.execute()]
    outcomes: list[str] = []
    position = 0
    for tenant_id, group in groupby(items, key=lambda item: item[0]):
        order_ids = [order_id for _tenant, order_id in group]
        flags = marked[position : position + len(order_ids)]
        first_group = position == 0
        position += len(order_ids)
        outcomes += _send_for_shop(tenant_id, order_ids, flags, raise_first and first_group)
        if len(outcomes) < position:
            break  # stopped at a failure
    return outcomes


def _send_for_shop(
    tenant_id: str, order_ids: list[str], marked: list[bool], raise_first: bool
) -> list[str]:
    """``_send_delivery_mails`` for one shop's run of the batch; with
    ``raise_first`` a failure on its first order is raised."""
    from urllib.parse import urlencode

    from flask import current_app
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from app.core.links import shop_url
    from app.core.mail import send_mail
    from app.core.money import format_money
    from tenants.models import Tenant

    outcomes: list[str] = []
    sent: list[uuid.UUID] = []
    try:
        with tenant_context(uuid.UUID(tenant_id)):
            to_send = [uuid.UUID(i) for i, done in zip(order_ids, marked, strict=True) if not done]
            if not to_send:
                fulfilment.stamp_mailed([uuid.UUID(i) for i in order_ids], only_unstamped=True)
                return ["already sent"] * len(order_ids)
            shop = db.session.get(Tenant, uuid.UUID(tenant_id))
            orders = lookups.orders_by_id(to_send)
            codes = lookups.codes_by_order(list(orders.values()))
            locale = shop.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
            with force_locale(locale):
                for order_id, done in zip(order_ids, marked, strict=True):
                    if done:
                        outcomes.append("already sent")
                        continue
                    order = orders.get(uuid.UUID(order_id))
                    if order is None:  # not this shop's, or gone
                        if raise_first and not outcomes:
                            raise NotFound("No such order.")
                        break
                    token = lookups.lookup_token(order.id)
                    context = {
                        "order": order,
                        "shop": shop,
                        "codes": codes[order.id],
                        "token": token,
                        "total": format_money(order.total, order.currency),
                        "page_url": shop_url(
                            shop.slug, f"/o/{order.number}?{urlencode({'t': token})}"
                        ),
                    }
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
                        _stamp(order_ids, marked, sent)
                        fulfilment.record_delivery_mail(order.id, f"{type(exc).__name__}: {exc}")
                        if raise_first and not outcomes:
                            raise  # RQ keeps the job among the failed ones
                        log.warning("delivery mail of order %s left to its job", order.id)
                        return outcomes
                    get_redis().set(_marker(order_id), "1", ex=MAILED_MARKER_SECONDS)
                    sent.append(order.id)
                    outcomes.append("sent")
            _stamp(order_ids, marked, sent)
        return outcomes
    finally:
        db.session.remove()


def _stamp(order_ids: list[str], marked: list[bool], sent: list[uuid.UUID]) -> None:
    """Stamp ``mailed_at`` on the orders just sent, and on the ones found
    marked sent that never were stamped (a worker killed in between)."""
    fulfilment.stamp_mailed(sent)
    earlier = [uuid.UUID(i) for i, done in zip(order_ids, marked, strict=True) if done]
    if earlier:
        fulfilment.stamp_mailed(earlier, only_unstamped=True)


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
# The safety net of the pending delivery mails (a drain killed mid-batch).
register_periodic(drain_delivery_mails, "mail", "ORDER_SWEEP_INTERVAL_SECONDS")
register_periodic(sweep_orders, "fulfilment", "ORDER_SWEEP_INTERVAL_SECONDS")
# Runs as often as the sweeper; the age that makes a refund stale is its own
# setting (read with a default, so the job needs no new interval setting).
register_periodic(finish_stale_refunds, "default", "ORDER_SWEEP_INTERVAL_SECONDS")
