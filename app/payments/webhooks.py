"""The Stripe webhook: ``POST /api/v1/webhooks/stripe``.

Stripe posts every event to one URL, so this endpoint answers on the
platform host and on every shop host alike (it is registered outside the
shop-only API gate, and is CSRF-exempt: the signature is its
authentication). What it guarantees:

- the ``Stripe-Signature`` header is verified against
  ``STRIPE_WEBHOOK_SECRET`` (``stripe.Webhook.construct_event``); a bad one
  is a 400 problem and nothing is recorded;
- every verified event is stored by its id in ``ProviderEvent`` before
  anything else happens; an event already handled is answered 200 and
  changes nothing (a replay), while one whose handling never finished (a
  crash) is handled again — every handler is idempotent;
- the event finds its shop through ``metadata.kameng_tenant_id`` and its
  payment through the PaymentIntent id we recorded when we created it (so a
  forged metadata block cannot reach another shop's order); the handling
  runs in that shop's ``tenant_context``;
- ``payment_intent.succeeded`` confirms an order (``orders.services.
  confirm_payment``) or a recharge (``payments.services.confirm_recharge``);
  ``payment_intent.payment_failed`` and ``charge.refunded`` are recorded on
  the payment. Events out of order change nothing wrong: a failure after a
  success leaves the payment succeeded, a success after a refund credits
  nothing, and refund totals only ever grow.

Each stored event keeps an ``outcome`` (what the handling did) for the
operator and for reconciliation.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.core.errors import KamengError
from app.extensions import db
from app.payments import providers
from app.payments.models import Payment, ProviderEvent
from app.payments.schemas import WebhookReceipt
from tenants.context import all_tenants, tenant_context

log = logging.getLogger(__name__)

blp = Blueprint(
    "stripe_webhooks",
    __name__,
    description="Payment provider webhooks (platform-wide: any host)",
)


class WebhookSignatureInvalid(KamengError):
    status = 400
    slug = "webhook-signature-invalid"
    title = "The webhook signature is not valid"


class WebhookNotConfigured(KamengError):
    status = 503
    slug = "webhook-not-configured"
    title = "Stripe webhooks are not configured on this platform"


@blp.route("/webhooks/stripe")
class StripeWebhook(MethodView):
    @blp.response(200, WebhookReceipt)
    @blp.doc(
        security=[],
        description="Stripe's events, signed with the endpoint's secret "
        "(``Stripe-Signature``). Answers on the platform host and every shop host.",
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    )
    def post(self):
        """Receive a Stripe event (verified, stored by id, handled once)."""
        return receive_stripe_event(
            request.get_data(cache=False), request.headers.get("Stripe-Signature")
        )


# --- receiving ------------------------------------------------------------


def receive_stripe_event(payload: bytes, signature: str | None) -> dict:
    """Verify, store and handle one Stripe event. Commits. Safe to call any
    number of times with the same event."""
    import stripe

    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise WebhookNotConfigured("Set STRIPE_WEBHOOK_SECRET to receive Stripe events.")
    try:
        stripe.Webhook.construct_event(payload, signature or "", secret)
        event = json.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
    except (ValueError, KeyError, TypeError, stripe.SignatureVerificationError) as exc:
        raise WebhookSignatureInvalid(
            "The Stripe-Signature header does not match this payload."
        ) from exc
    obj = (event.get("data") or {}).get("object") or {}
    record, fresh = _store(
        event_id, event_type, _uuid(_metadata(obj).get("kameng_tenant_id")), event
    )
    if not fresh and record.outcome:
        return {"received": True, "duplicate": True, "outcome": record.outcome}
    tenant_id, outcome = _handle(event_type, obj, event.get("account"))
    db.session.execute(
        update(ProviderEvent)
        .where(ProviderEvent.id == record.id)
        .values(outcome=outcome[:40], **({"tenant_id": tenant_id} if tenant_id else {}))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("stripe event %s (%s): %s", event_id, event_type, outcome)
    return {"received": True, "duplicate": not fresh, "outcome": outcome}


def _store(
    event_id: str, event_type: str, tenant_id: uuid.UUID | None, event: dict
) -> tuple[ProviderEvent, bool]:
    """Insert the event, or find the one already stored. Commits the insert
    so the event is on record before anything acts on it."""
    existing = _stored(event_id)
    if existing is not None:
        return existing, False
    record = ProviderEvent(
        provider="stripe",
        event_id=event_id[:120],
        event_type=event_type[:80],
        tenant_id=tenant_id,
        payload=_without_secrets(event),
        outcome="",
    )
    try:
        db.session.add(record)
        db.session.commit()
    except IntegrityError:  # the same event, delivered twice at once
        db.session.rollback()
        return _stored(event_id), False
    return record, True


def _stored(event_id: str) -> ProviderEvent | None:
    return db.session.scalar(
        select(ProviderEvent).where(
            ProviderEvent.provider == "stripe", ProviderEvent.event_id == event_id
        )
    )


def _without_secrets(event: dict) -> dict:
    # A PaymentIntent's client secret lets anyone holding it confirm the
    # payment; it has no business in our event log.
    copy = json.loads(json.dumps(event))
    obj = (copy.get("data") or {}).get("object")
    if isinstance(obj, dict) and "client_secret" in obj:
        obj["client_secret"] = None
    return copy


# --- handling -------------------------------------------------------------


def _handle(event_type: str, obj: dict, account: str | None) -> tuple[uuid.UUID | None, str]:
    handler = HANDLERS.get(event_type)
    if handler is None:
        return None, "ignored"
    intent_id = obj.get("id") if obj.get("object") == "payment_intent" else None
    intent_id = intent_id or obj.get("payment_intent")
    if not isinstance(intent_id, str) or not intent_id:
        return None, "no_payment_intent"
    found = _find_payment(intent_id, obj, account)
    if found is None:
        return None, "unknown_payment"
    tenant_id, payment_id = found
    with tenant_context(tenant_id):
        try:
            return tenant_id, handler(payment_id, intent_id, obj)
        except KamengError as err:
            # A domain refusal will not change on Stripe's retries: record it
            # for the operator and answer 200 rather than be retried for days.
            log.warning("stripe event for payment %s refused: %s", payment_id, err.detail)
            return tenant_id, f"refused:{err.slug}"
        finally:
            db.session.rollback()  # nothing half-done leaks into the next event


def _find_payment(
    intent_id: str, obj: dict, account: str | None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (shop, payment) an event is about, or None when it is not ours.

    First by the PaymentIntent id we recorded (ids are unique at Stripe, so
    metadata only says where to look first). Failing that — our process
    died between creating the intent and saving its id — by the metadata,
    but only for an event from the shop's own Stripe account.
    """
    metadata = _metadata(obj)
    hint = _uuid(metadata.get("kameng_tenant_id"))
    query = select(Payment.tenant_id, Payment.id).where(
        Payment.provider == "stripe", Payment.provider_ref == intent_id
    )
    if hint is not None:
        with tenant_context(hint):
            row = db.session.execute(query).first()
            if row is not None:
                return row.tenant_id, row.id
    with all_tenants():
        row = db.session.execute(query).first()
    if row is not None:
        return row.tenant_id, row.id
    if hint is None or obj.get("object") != "payment_intent":
        return None
    with tenant_context(hint):
        try:
            payment_id = _adopt_intent(hint, intent_id, metadata, account)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return (hint, payment_id) if payment_id else None


def _adopt_intent(
    tenant_id: uuid.UUID, intent_id: str, metadata: dict, account: str | None
) -> uuid.UUID | None:
    from app.orders import services as orders
    from app.payments.services import PENDING_REF
    from tenants.models import Tenant

    shop = db.session.get(Tenant, tenant_id)
    if shop is None or (account or None) != (shop.stripe_account_id or None):
        return None
    payment_id = _uuid(metadata.get("kameng_payment_id"))
    if payment_id is not None:
        payment = db.session.scalar(
            select(Payment).where(
                Payment.id == payment_id,
                Payment.provider == "stripe",
                Payment.provider_ref == PENDING_REF + str(payment_id),
            )
        )
        if payment is None:
            return None
        payment.provider_ref = intent_id
        return payment.id
    order_id = _uuid(metadata.get("kameng_order_id"))
    if order_id is None:
        return None
    try:
        order = orders.get_order_by_id(order_id)
    except KamengError:
        return None
    return providers.record_order_payment(order, "stripe", intent_id).id


def _on_intent_succeeded(payment_id: uuid.UUID, intent_id: str, obj: dict) -> str:
    from app.orders import services as orders
    from app.payments import services as payments

    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id))
    amount = obj.get("amount_received") or obj.get("amount")
    currency = str(obj.get("currency") or "").upper()
    if not isinstance(amount, int) or currency != payment.currency:
        return "mismatch"
    if payment.status == "refunded":
        return "already_refunded"
    if payment.purpose == "recharge":
        try:
            credited = payments.confirm_recharge(
                payment.id,
                provider="stripe",
                provider_ref=intent_id,
                amount=amount,
                actor="stripe webhook",
            )
        except payments.PaymentMismatch:
            return "mismatch"
        return "wallet_credited" if credited else "unchanged"
    paid = orders.confirm_payment(
        payment.order_id,
        provider="stripe",
        provider_ref=intent_id,
        amount=amount,
        actor="stripe webhook",
    )
    providers.mark_succeeded(payment.id)
    db.session.commit()
    return "order_paid" if paid else "order_unchanged"


def _on_intent_failed(payment_id: uuid.UUID, intent_id: str, obj: dict) -> str:
    changed = providers.mark_failed(payment_id)
    db.session.commit()
    return "payment_failed" if changed else "unchanged"


def _on_charge_refunded(payment_id: uuid.UUID, intent_id: str, obj: dict) -> str:
    from app.orders.models import REFUNDED, Order

    refunded = obj.get("amount_refunded")
    if not isinstance(refunded, int):
        return "mismatch"
    changed = providers.record_refunded(payment_id, refunded)
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id))
    db.session.commit()
    if not changed:
        return "unchanged"
    if payment.purpose == "order":
        status = db.session.scalar(select(Order.status).where(Order.id == payment.order_id))
        if status != REFUNDED:
            # Refunded at Stripe (e.g. from the Dashboard), not through us:
            # the order still stands, so the operator must look at it.
            return "refunded_outside_kameng"
    elif payment.purpose == "recharge":
        return "refunded_outside_kameng"
    return "refund_recorded"


HANDLERS: dict[str, Callable[[uuid.UUID, str, dict], str]] = {
    "payment_intent.succeeded": _on_intent_succeeded,
    "payment_intent.payment_failed": _on_intent_failed,
    "charge.refunded": _on_charge_refunded,
}


def _metadata(obj: dict) -> dict:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
