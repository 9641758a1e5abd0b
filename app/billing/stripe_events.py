"""Stripe Billing's events about shops' subscriptions (``POST
/billing/stripe/webhook`` on the platform host).

What ``receive`` guarantees:

- the ``Stripe-Signature`` header is verified against
  ``STRIPE_BILLING_WEBHOOK_SECRET`` (else ``STRIPE_WEBHOOK_SECRET``); a bad
  one is a 400 problem and nothing is recorded;
- every verified event is stored by its id (``ProviderEvent``, provider
  ``stripe_billing``) before it is handled; a replay changes nothing, one
  whose handling never finished is handled again (handling is idempotent);
- the subscription is found by its Stripe id, or (its first event, or
  Checkout's) by the shop the metadata names *and* the Stripe customer we
  made for that shop — a block of metadata alone reaches no shop;
- out of order is safe: an event older than the newest state applied to
  the shop's row changes nothing (``stale``).

Events: ``customer.subscription.created|updated|deleted``, ``invoice.paid``
(and ``invoice.payment_succeeded``, which the Stripe double sends),
``invoice.payment_failed``, ``checkout.session.completed``; others are
stored and ignored.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.billing import pause, subscriptions
from app.billing.models import SUB_ACTIVE, Plan, Subscription
from app.billing.plans import forget_cached_plans
from app.core.errors import KamengError
from app.core.ids import parse_uuid
from app.extensions import db
from app.payments.adapters.base import WebhookNotConfigured, WebhookSignatureInvalid
from app.payments.models import ProviderEvent
from tenants.context import tenant_context
from tenants.models import Tenant

log = logging.getLogger(__name__)

PROVIDER = "stripe_billing"
#: who the shop's audit log says acted on an event
ACTOR = "Stripe Billing"
SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
PAID_EVENTS = ("invoice.paid", "invoice.payment_succeeded")


def _verified(payload: bytes, headers) -> dict:
    import stripe

    cfg = current_app.config
    secret = cfg.get("STRIPE_BILLING_WEBHOOK_SECRET") or cfg.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise WebhookNotConfigured("Set STRIPE_BILLING_WEBHOOK_SECRET to receive Stripe events.")
    try:
        stripe.Webhook.construct_event(payload, headers.get("Stripe-Signature") or "", secret)
        event = json.loads(payload)
        str(event["id"]), str(event["type"])
    except (ValueError, KeyError, TypeError, stripe.SignatureVerificationError) as exc:
        raise WebhookSignatureInvalid(
            "The Stripe-Signature header does not match this payload."
        ) from exc
    if not isinstance(event, dict):
        raise WebhookSignatureInvalid("The payload is not a Stripe event.")
    return event


def receive(payload: bytes, headers) -> dict:
    """Verify, store and handle one Stripe Billing event. Commits. Safe to
    call any number of times with the same event."""
    event = _verified(payload, headers)
    record, fresh = _store(event)
    if not fresh and record.outcome:
        return {"received": True, "duplicate": True, "outcome": record.outcome}
    try:
        tenant_id, outcome = _handle(event)
    except KamengError as err:
        db.session.rollback()
        tenant_id, outcome = None, f"refused:{err.slug}"
    db.session.execute(
        update(ProviderEvent)
        .where(ProviderEvent.id == record.id)
        .values(outcome=outcome[:40], **({"tenant_id": tenant_id} if tenant_id else {}))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    forget_cached_plans()
    log.info("stripe billing event %s (%s): %s", event["id"], event["type"], outcome)
    return {"received": True, "duplicate": not fresh, "outcome": outcome}


def _store(event: dict) -> tuple[ProviderEvent, bool]:
    existing = _stored(str(event["id"]))
    if existing is not None:
        return existing, False
    record = ProviderEvent(
        provider=PROVIDER,
        event_id=str(event["id"])[:120],
        event_type=str(event["type"])[:80],
        payload=event,
        outcome="",
    )
    try:
        db.session.add(record)
        db.session.commit()
    except IntegrityError:  # the same event, delivered twice at once
        db.session.rollback()
        return _stored(str(event["id"])), False
    return record, True


def _stored(event_id: str) -> ProviderEvent | None:
    return db.session.scalar(
        select(ProviderEvent).where(
            ProviderEvent.provider == PROVIDER, ProviderEvent.event_id == event_id[:120]
        )
    )


def _handle(event: dict):
    kind = str(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        return None, "ignored"
    at = subscriptions.instant(event.get("created")) or datetime.now(UTC)
    if event.get("livemode") is not _live():
        return None, "wrong_mode"
    if kind == "checkout.session.completed":
        return _checkout_completed(obj, at)
    if kind in SUBSCRIPTION_EVENTS:
        row = _row(obj.get("id"), obj)
        if row is None:
            return None, "unknown_subscription"
        return row.tenant_id, _apply(row, lambda: subscriptions.apply_subscription(row, obj, at))
    if kind in PAID_EVENTS or kind == "invoice.payment_failed":
        row = _row(_invoice_subscription(obj), obj)
        if row is None:
            return None, "unknown_subscription"
        if row.stripe_synced_at is not None and at < row.stripe_synced_at:
            return row.tenant_id, "stale"
        if kind == "invoice.payment_failed":
            step = subscriptions.mark_past_due
        else:
            step = subscriptions.mark_paid
        return row.tenant_id, _apply(row, lambda: _at(row, at, step(row, at)))
    return None, "ignored"


def _live() -> bool:
    key = current_app.config.get("STRIPE_SECRET_KEY") or ""
    return key.startswith(("sk_live_", "rk_live_"))


def _at(row: Subscription, at: datetime, outcome: str) -> str:
    row.stripe_synced_at = max(at, row.stripe_synced_at or at)
    return outcome


def _apply(row: Subscription, step) -> str:
    before = row.status
    outcome = step()
    paused = pause.sync(row)
    if row.status != before:
        tenant = db.session.get(Tenant, row.tenant_id)
        with tenant_context(tenant):
            audit.record(
                ACTOR, "billing.status_changed", f"plan:{row.plan.code}",
                before=before, status=row.status,
            )  # fmt: skip
            db.session.commit()
    else:
        db.session.commit()
    pause.announce(paused)
    return outcome


def _invoice_subscription(invoice: dict) -> str | None:
    sub = invoice.get("subscription")
    if isinstance(sub, dict):
        sub = sub.get("id")
    if not sub:
        parent = invoice.get("parent") or {}
        details = parent.get("subscription_details") if isinstance(parent, dict) else None
        sub = details.get("subscription") if isinstance(details, dict) else None
    return sub if isinstance(sub, str) and sub else None


def _customer_of(obj: dict) -> str | None:
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) and customer else None


def _row(subscription_id, obj: dict) -> Subscription | None:
    """The shop's row of this Stripe subscription: by its id, else the row
    of the shop named in metadata whose Stripe customer is the event's and
    which has no other Stripe subscription."""
    if isinstance(subscription_id, str) and subscription_id:
        row = db.session.scalar(
            select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)
        )
        if row is not None:
            return row
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    tenant_id = parse_uuid(metadata.get("kameng_tenant_id"))
    customer = _customer_of(obj)
    if tenant_id is None or customer is None:
        return None
    row = subscriptions.subscription_row(tenant_id)
    if row is None or row.stripe_customer_id != customer:
        return None
    if row.stripe_subscription_id not in (None, subscription_id):
        return None  # the shop's subscription is another one (an old one's late news)
    if isinstance(subscription_id, str) and obj.get("object") == "subscription":
        row.stripe_subscription_id = subscription_id
    return row


def _checkout_completed(session: dict, at: datetime):
    """Checkout made the shop's subscription: link it to the shop named by
    ``client_reference_id`` whose Stripe customer made the session, on the
    plan the metadata names. Paid (or free to start: a trial) makes it
    active at once; the subscription's own events follow."""
    if session.get("mode") != "subscription":
        return None, "ignored"
    tenant_id = parse_uuid(session.get("client_reference_id"))
    customer = _customer_of(session)
    sub_id = session.get("subscription")
    if isinstance(sub_id, dict):
        sub_id = sub_id.get("id")
    if tenant_id is None or customer is None or not isinstance(sub_id, str):
        return None, "unknown_shop"
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        return None, "unknown_shop"
    metadata = session.get("metadata") if isinstance(session.get("metadata"), dict) else {}
    plan = db.session.scalar(select(Plan).where(Plan.code == str(metadata.get("kameng_plan"))))
    if plan is None:
        return tenant_id, "unknown_plan"
    row = subscriptions.subscription_row(tenant_id)
    if row is not None and row.stripe_customer_id not in (None, customer):
        return tenant_id, "other_customer"
    if row is not None and row.stripe_synced_at is not None and at < row.stripe_synced_at:
        return tenant_id, "stale"
    if row is None:
        row = Subscription(tenant_id=tenant_id, plan_id=plan.id, status=SUB_ACTIVE, started_at=at)
        db.session.add(row)
    before = row.plan.code if row.plan_id and row.plan is not None else None
    row.plan_id, row.plan = plan.id, plan
    row.stripe_customer_id = customer
    row.stripe_subscription_id = sub_id
    row.stripe_synced_at = at
    if session.get("payment_status") in ("paid", "no_payment_required"):
        row.status = SUB_ACTIVE
        subscriptions.paid_up(row)
    paused = pause.sync(row)
    with tenant_context(tenant):
        audit.record(
            ACTOR, "billing.subscribed", f"plan:{plan.code}", plan=plan.code, before=before
        )
        db.session.commit()
    pause.announce(paused)
    return tenant_id, "checkout_completed"
