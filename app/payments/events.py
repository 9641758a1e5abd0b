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

    - ``adopt(subject_id, provider, provider_ref)``: the payment row for a
      subject whose reference we never saved (our process died between
      asking the provider and saving its answer), or None;
    - ``confirmed(payment, event)``: the provider collected the money;
    - ``refunded(payment)``: the provider sent it all back (it may have
      been done outside the platform). Each returns an outcome word.
    """

    adopt: Callable[[uuid.UUID, str, str], Payment | None]
    confirmed: Callable[[Payment, WebhookEvent], str]
    refunded: Callable[[Payment], str]


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
    found = _find_payment(provider, event, handlers)
    if found is None:
        return None, "unknown_payment"
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


def _find_payment(
    provider: str, event: WebhookEvent, handlers: Mapping[str, PurposeHandler]
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (shop, payment) an event is about, or None when it is not ours.

    First by the reference we recorded (unique at the provider, so the
    shop named in metadata only says where to look first). Failing that —
    our process died between asking the provider and saving its answer —
    by the metadata, but only for an event about the payment itself, from
    the shop's own provider account.
    """
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
    if row is not None:
        return row.tenant_id, row.id
    handler = handlers.get(event.purpose or "")
    if hint is None or not event.is_payment or event.subject_id is None or handler is None:
        return None
    with tenant_context(hint):
        try:
            shop = db.session.get(Tenant, hint)
            if shop is None or (event.account or None) != (shop.stripe_account_id or None):
                return None
            payment = handler.adopt(event.subject_id, provider, event.provider_ref)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return (hint, payment.id) if payment is not None else None
