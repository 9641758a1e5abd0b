"""Provider notifications (webhooks): verified, stored by id, handled once.

What ``receive`` guarantees, whichever provider sent the notification:

- the adapter verifies the signature; a bad one is a 400 problem and
  nothing is recorded;
- every verified event is stored by its id in ``ProviderEvent`` before
  anything else happens; an event already handled is answered and changes
  nothing (a replay), while one whose handling never finished (a crash) is
  handled again — every handler is idempotent;
- the event finds its shop and payment through the payment reference we
  recorded when we started the payment (metadata only says where to look
  first, so a forged metadata block cannot reach another shop's payment);
  the handling runs in that shop's ``tenant_context``;
- a payment whose reference we never saved (a crash right after asking the
  provider) is adopted only when the event names our pending payment row
  for the same subject, amount, currency and platform fee, comes from the
  shop's own provider account, and is in the deployment's live mode; money
  collected otherwise on the shop's account pays nothing and goes to the
  domain's ``unverified`` handler (an order gets a ticket);
- what the money is *for* (an order, a recharge) is handled by the
  ``PurposeHandler`` of the domain that owns it, passed in by the endpoint:
  this module knows payments, not orders;
- events out of order change nothing wrong: a failure after a success
  leaves the payment succeeded, a success after a refund credits nothing,
  and refund totals only ever grow.

Each stored event keeps an ``outcome`` (what the handling did) for the
operator and for reconciliation.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.core.errors import KamengError
from app.extensions import db
from app.payments import registry
from app.payments import services as payments
from app.payments.adapters.base import (
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    PAYMENT_SUCCEEDED,
    WebhookEvent,
)
from app.payments.models import Payment, ProviderEvent
from tenants.context import all_tenants, tenant_context
from tenants.models import Tenant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurposeHandler:
    """What a domain does with a notification about money collected for it.

    - ``adopt(payment_id, provider, provider_ref)``: our pending payment
      row whose reference we never saved (our process died between asking
      the provider and saving its answer) takes the provider's, or None;
      ``payments.events`` has checked the notification names that row, for
      the same subject, amount, currency and fee;
    - ``confirmed(payment, event)``: the provider collected the money;
    - ``refunded(payment)``: the provider sent it all back (it may have
      been done outside the platform);
    - ``unverified(subject_id, event, reason)``, optional: the provider
      collected money on the shop's account naming the subject, but not
      through a payment we started as it says; it must pay nothing (e.g.
      open a ticket). Each returns an outcome word.
    """

    adopt: Callable[[uuid.UUID, str, str], Payment | None]
    confirmed: Callable[[Payment, WebhookEvent], str]
    refunded: Callable[[Payment], str]
    unverified: Callable[[uuid.UUID, WebhookEvent, str], str] | None = None


def receive(provider: str, payload: bytes, headers, handlers: Mapping[str, PurposeHandler]) -> dict:
    """Verify, store and handle one notification of ``provider``. Commits.
    Safe to call any number of times with the same event."""
    adapter = registry.adapter(provider)
    event = adapter.read_webhook(payload, headers)
    record, fresh = _store(provider, event)
    if not fresh and record.outcome:
        return {"received": True, "duplicate": True, "outcome": record.outcome}
    tenant_id, outcome = _handle(provider, event, handlers)
    db.session.execute(
        update(ProviderEvent)
        .where(ProviderEvent.id == record.id)
        .values(outcome=outcome[:40], **({"tenant_id": tenant_id} if tenant_id else {}))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("%s event %s (%s): %s", provider, event.event_id, event.event_type, outcome)
    return {"received": True, "duplicate": not fresh, "outcome": outcome}


def _store(provider: str, event: WebhookEvent) -> tuple[ProviderEvent, bool]:
    """Insert the event, or find the one already stored. Commits the insert
    so the event is on record before anything acts on it."""
    existing = _stored(provider, event.event_id)
    if existing is not None:
        return existing, False
    record = ProviderEvent(
        provider=provider,
        event_id=event.event_id[:120],
        event_type=event.event_type[:80],
        tenant_id=event.tenant_hint,
        payload=event.record,
        outcome="",
    )
    try:
        db.session.add(record)
        db.session.commit()
    except IntegrityError:  # the same event, delivered twice at once
        db.session.rollback()
        return _stored(provider, event.event_id), False
    return record, True


def _stored(provider: str, event_id: str) -> ProviderEvent | None:
    return db.session.scalar(
        select(ProviderEvent).where(
            ProviderEvent.provider == provider, ProviderEvent.event_id == event_id[:120]
        )
    )


def _handle(
    provider: str, event: WebhookEvent, handlers: Mapping[str, PurposeHandler]
) -> tuple[uuid.UUID | None, str]:
    if event.kind is None:
        return None, "ignored"
    if not event.provider_ref:
        return None, "no_payment_intent"
    adapter = registry.adapter(provider)
    if event.livemode != adapter.livemode():
        found = None
        mismatch = "live mode" if event.livemode else "test mode"
    else:
        found, mismatch = _find_payment(provider, event), None
    if found is None:
        return _adopt_or_refuse(adapter, event, handlers, mismatch)
    tenant_id, payment_id = found
    with tenant_context(tenant_id):
        try:
            payment = db.session.scalar(select(Payment).where(Payment.id == payment_id))
            return tenant_id, _apply(payment, event, handlers[payment.purpose])
        except KamengError as err:
            # A domain refusal will not change on the provider's retries:
            # record it for the operator rather than be retried for days.
            log.warning("%s event for payment %s refused: %s", provider, payment_id, err.detail)
            return tenant_id, f"refused:{err.slug}"
        finally:
            db.session.rollback()  # nothing half-done leaks into the next event


def _apply(payment: Payment, event: WebhookEvent, handler: PurposeHandler) -> str:
    if event.kind == PAYMENT_FAILED:
        changed = payments.mark_failed(payment.id)
        db.session.commit()
        return "payment_failed" if changed else "unchanged"
    if event.kind == PAYMENT_REFUNDED:
        if event.refunded_total is None:
            return "mismatch"
        changed = payments.record_refunded(payment.id, event.refunded_total)
        db.session.commit()
        return handler.refunded(payment) if changed else "unchanged"
    if event.kind == PAYMENT_SUCCEEDED:
        if event.amount is None or event.currency != payment.currency:
            return "mismatch"
        if payment.status == "refunded":
            return "already_refunded"
        return handler.confirmed(payment, event)
    return "ignored"


def _find_payment(provider: str, event: WebhookEvent) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (shop, payment) an event is about, by the reference we recorded
    (unique at the provider, so the shop named in metadata only says where
    to look first), or None."""
    query = select(Payment.tenant_id, Payment.id).where(
        Payment.provider == provider, Payment.provider_ref == event.provider_ref
    )
    hint = event.tenant_hint
    if hint is not None:
        with tenant_context(hint):
            row = db.session.execute(query).first()
            if row is not None:
                return row.tenant_id, row.id
    with all_tenants():
        row = db.session.execute(query).first()
    return (row.tenant_id, row.id) if row is not None else None


def _adopt_or_refuse(
    adapter, event: WebhookEvent, handlers: Mapping[str, PurposeHandler], mismatch: str | None
) -> tuple[uuid.UUID | None, str]:
    """An event about a payment whose reference we never saved. Adopted
    (then handled) only when ``_not_ours`` finds nothing wrong; money
    collected on the shop's own account otherwise goes to the handler's
    ``unverified``. Events from another account, or naming no shop, are
    not ours at all."""
    handler = handlers.get(event.purpose or "")
    hint = event.tenant_hint
    if hint is None or not event.is_payment or event.subject_id is None or handler is None:
        return None, "unknown_payment"
    with tenant_context(hint):
        try:
            shop = db.session.get(Tenant, hint)
            if shop is None or (event.account or None) != (shop.stripe_account_id or None):
                return None, "unknown_payment"
            reason = mismatch or _not_ours(adapter, event)
            if reason is None:
                payment = handler.adopt(event.payment_hint, adapter.name, event.provider_ref)
                db.session.commit()
                if payment is None:
                    return None, "unknown_payment"
                return hint, _apply(payment, event, handler)
            if event.kind != PAYMENT_SUCCEEDED or handler.unverified is None:
                return hint, "unknown_payment"
            log.warning(
                "%s payment %s for %s %s refused: %s",
                adapter.name,
                event.provider_ref,
                event.purpose,
                event.subject_id,
                reason,
            )
            return hint, handler.unverified(event.subject_id, event, reason)
        except KamengError as err:
            return hint, f"refused:{err.slug}"
        finally:
            db.session.rollback()


def _not_ours(adapter, event: WebhookEvent) -> str | None:
    """Why the event's payment is not one we started as it says, or None:
    it must name our pending payment row (current shop) of the same
    provider, purpose and subject, for the same amount and currency, with
    the fee the platform charges."""
    if event.payment_hint is None:
        return "names no payment of ours"
    payment = db.session.scalar(select(Payment).where(Payment.id == event.payment_hint))
    subject = payment and (payment.order_id if payment.purpose == "order" else payment.id)
    if (
        payment is None
        or payment.provider != adapter.name
        or payment.purpose != event.purpose
        or subject != event.subject_id
        or payment.provider_ref != payments.pending_ref(payment.id)
    ):
        return "names no pending payment of ours for it"
    if event.amount != payment.amount or event.currency != payment.currency:
        return f"amount {event.amount} {event.currency}, asked {payment.amount} {payment.currency}"
    # The fee as it was when the payment was started (a launch offer may
    # have ended since).
    fee = adapter.application_fee(payment.tenant_id, payment.amount, at=payment.created_at)
    if event.application_fee != fee:
        return f"application fee {event.application_fee}, charged {fee}"
    return None
