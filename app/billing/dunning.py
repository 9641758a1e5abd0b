"""Dunning: what happens to a shop whose payment for its plan failed.

``invoice.payment_failed`` makes the subscription ``past_due`` and dunning
counts from that instant (``Subscription.past_due_since``):

- on each of the ``BILLING_REMINDER_DAYS`` (0, 3 and 7 by default) the
  shop's owners get a reminder mail, once each, in the shop's language,
  from the ``mail`` queue;
- after the grace days (the shop's own ``Subscription.grace_days``, else
  its plan's) the subscription is ``suspended``: every storefront page of
  the shop says it is paused (``app.billing.views``), its console stays
  open so the owner can pay, and nothing is deleted;
- a paid invoice makes it ``active`` at once (``subscriptions.mark_paid``).

``run_dunning`` is the periodic job (``BILLING_DUNNING_INTERVAL_SECONDS``);
each step is a conditional UPDATE naming the state it expects, so two runs
at once send each reminder once and suspend once. Subscriptions are
platform data; audit records go to the shop's log.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.audit import services as audit
from app.billing import pause
from app.billing.models import SUB_PAST_DUE, SUB_SUSPENDED, Subscription
from app.billing.plans import find_shop, forget_cached_plans
from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from tenants.context import tenant_context
from tenants.models import Tenant

log = logging.getLogger(__name__)

MAX_EXTENSION_DAYS = 365


def grace_days(row: Subscription) -> int:
    """The shop's grace days: its own when the platform owner set them,
    else its plan's."""
    return row.grace_days if row.grace_days is not None else row.plan.grace_days


def suspends_at(row: Subscription) -> datetime | None:
    """When a past-due (or suspended) shop's storefront is (or was)
    suspended; None for a shop that owes nothing."""
    if row.status not in (SUB_PAST_DUE, SUB_SUSPENDED) or row.past_due_since is None:
        return None
    return row.past_due_since + timedelta(days=grace_days(row))


@dataclass(frozen=True)
class DunningRun:
    """What one run did: reminders queued (shop ids with the reminder's
    number) and shops suspended."""

    reminders: list[tuple[uuid.UUID, int]]
    suspended: list[uuid.UUID]


def run_dunning(now: datetime | None = None, *, enqueue: bool = True) -> DunningRun:
    """Send the reminders that are due and suspend the shops whose grace
    is over. Each reminder and each suspension happens once however many
    runs overlap. ``enqueue=False`` leaves the mails to the caller (the
    returned reminders). Commits."""
    now = now or datetime.now(UTC)
    days = sorted(current_app.config.get("BILLING_REMINDER_DAYS") or [0, 3, 7])
    reminders: list[tuple[uuid.UUID, int]] = []
    suspended: list[uuid.UUID] = []
    rows = db.session.scalars(
        select(Subscription).where(
            Subscription.status == SUB_PAST_DUE, Subscription.past_due_since.is_not(None)
        )
    ).all()
    for row in rows:
        elapsed = now - row.past_due_since
        due = sum(1 for d in days if elapsed >= timedelta(days=d))
        if due > row.reminders_sent and _claim_reminder(row, due):
            reminders.append((row.tenant_id, due))
        end = suspends_at(row)
        if end is not None and now >= end and _suspend(row, now):
            suspended.append(row.tenant_id)
    db.session.commit()
    forget_cached_plans()
    if enqueue:
        from app.core.queues import get_queue

        queue = get_queue("mail")
        for tenant_id, number in reminders:
            queue.enqueue("app.billing.jobs.mail_reminder", str(tenant_id), number)
    return DunningRun(reminders, suspended)


def _claim_reminder(row: Subscription, due: int) -> bool:
    # In the shop's context, so the page cache's watch on ``subscriptions``
    # makes only this shop's copies stale.
    with tenant_context(row.tenant_id):
        return _claim_in_shop(row, due)


def _claim_in_shop(row: Subscription, due: int) -> bool:
    claimed = db.session.execute(
        update(Subscription)
        .where(
            Subscription.id == row.id,
            Subscription.status == SUB_PAST_DUE,
            Subscription.reminders_sent == row.reminders_sent,
        )
        .values(reminders_sent=due)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def _suspend(row: Subscription, now: datetime) -> bool:
    with tenant_context(row.tenant_id):
        done = db.session.execute(
            update(Subscription)
            .where(Subscription.id == row.id, Subscription.status == SUB_PAST_DUE)
            .values(status=SUB_SUSPENDED)
            .execution_options(synchronize_session=False)
        ).rowcount
        if done == 1:
            db.session.refresh(row)
            pause.sync(row)
            audit.record(
                "platform",
                "billing.suspended",
                f"plan:{row.plan.code}",
                past_due_since=row.past_due_since.isoformat(),
                grace_days=grace_days(row),
            )
        db.session.commit()
    if done == 1:
        pause.announce()
        log.info("shop %s suspended for non-payment", row.tenant_id)
    return done == 1


def extend_grace(slug: str, days: int, *, actor: str, now: datetime | None = None) -> Subscription:
    """Give the shop ``slug`` ``days`` more grace (the platform owner's
    hand): its own grace days become its current ones plus ``days``; a shop
    suspended whose new grace has not run out is past due again (its
    storefront opens at once). On the shop's audit record
    (``billing.grace_extended``) in the same transaction. Commits.
    ``ValidationFailed`` for days outside 1–365, ``NotFound`` for an
    unknown shop, ``Conflict`` for a shop with no subscription."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise ValidationFailed(
            f"days must be a whole number from 1 to {MAX_EXTENSION_DAYS}.",
            errors={"days": [f"A whole number from 1 to {MAX_EXTENSION_DAYS}."]},
            message=_l("Type a whole number of days from 1 to 365."),
        )
    tenant: Tenant = find_shop(slug)
    now = now or datetime.now(UTC)
    row = db.session.scalar(select(Subscription).where(Subscription.tenant_id == tenant.id))
    if row is None:
        raise Conflict(
            f"The shop {slug!r} has no subscription.",
            errors={"shop": ["No subscription."]},
            message=_l("This shop has no subscription: it has no grace period to extend."),
        )
    before = grace_days(row)
    row.grace_days = before + days
    reopened = False
    if row.status == SUB_SUSPENDED and (suspends_at(row) or now) > now:
        row.status = SUB_PAST_DUE
        reopened = True
    paused = pause.sync(row)
    with tenant_context(tenant):
        audit.record(
            actor,
            "billing.grace_extended",
            f"plan:{row.plan.code}",
            days=days,
            before=before,
            grace_days=row.grace_days,
            reopened=reopened,
        )
        db.session.commit()
    pause.announce(paused)
    forget_cached_plans()
    return row


def past_due_shops(limit: int = 100) -> list[tuple[Tenant, Subscription]]:
    """The shops that owe the platform (past due or suspended), the oldest
    debt first, at most ``limit``. Reads only."""
    rows = db.session.execute(
        select(Tenant, Subscription)
        .join(Subscription, Subscription.tenant_id == Tenant.id)
        .where(Subscription.status.in_((SUB_PAST_DUE, SUB_SUSPENDED)))
        .order_by(Subscription.past_due_since, Tenant.slug)
        .limit(limit)
    ).all()
    return [(t, s) for t, s in rows]
