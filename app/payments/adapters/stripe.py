"""``stripe``: a PaymentIntent on the shop's connected Stripe account.

With a connected account (``Tenant.stripe_account_id``) the intent is made
on that account (``Stripe-Account`` header) with the platform's fee as
``application_fee_amount`` (the shop's plan's commission, none during its
launch offer: ``app.billing.commission``); without one the platform's own
account takes the payment and no fee applies. The buyer pays with the intent's
``client_secret`` (Stripe.js); the verified webhook confirms.

Every intent carries ``metadata.kameng_tenant_id`` (where the webhook
looks first), ``kameng_purpose`` and ``kameng_payment_id`` (our pending
``Payment`` row, recorded before Stripe is asked; also the idempotency
key); orders add ``kameng_order_id`` and ``kameng_order_number``. The number
travels in metadata rather than ``description``: the parameters we send
are the minimal documented set, which localstripe (the test double of
Stripe) also accepts.
"""

from __future__ import annotations

import json
import uuid

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.ids import parse_uuid
from app.extensions import db
from app.payments.adapters.base import (
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    PAYMENT_SUCCEEDED,
    REQUIRES_ACTION,
    Charge,
    PaymentAdapter,
    PaymentStart,
    ProviderError,
    ProviderUnavailable,
    WebhookEvent,
    WebhookNotConfigured,
    WebhookSignatureInvalid,
)
from tenants.models import Tenant

#: Stripe's event types, in our words.
EVENT_KINDS = {
    "payment_intent.succeeded": PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": PAYMENT_FAILED,
    "charge.refunded": PAYMENT_REFUNDED,
}
#: ``Charge.purpose`` → the metadata key naming the subject.
SUBJECT_KEYS = {"order": "kameng_order_id", "recharge": "kameng_payment_id"}


def platform_fee(tenant_id: uuid.UUID, amount: int, at=None) -> int:
    """The platform's fee on the shop's Stripe payment of ``amount`` minor
    units started at ``at`` (now when ``None``): its plan's commission,
    none during its launch offer, ``PLATFORM_FEE_BPS`` with no plan
    (``app.billing.commission``)."""
    from app.billing.commission import commission_on

    return commission_on(tenant_id, amount, at)


class StripeAdapter(PaymentAdapter):
    name = "stripe"
    recharges = True
    on_pages = False  # the pages do not load Stripe.js yet; the API answers a client secret
    sends_webhooks = True
    rank = 20
    title = _l("Stripe: card, Alipay and WeChat Pay")
    label = _l("Pay by card, Alipay or WeChat Pay")
    title = "Stripe"

    def available(self) -> bool:
        return super().available() and bool(current_app.config.get("STRIPE_SECRET_KEY"))

    def client(self):
        import stripe

        cfg = current_app.config
        if not cfg.get("STRIPE_SECRET_KEY"):
            raise ProviderUnavailable("Stripe is not configured on this platform.")
        return stripe.StripeClient(
            cfg["STRIPE_SECRET_KEY"],
            base_addresses={"api": cfg["STRIPE_API_BASE"]} if cfg.get("STRIPE_API_BASE") else None,
            max_network_retries=2,
        )

    def livemode(self) -> bool:
        """Live when the secret key is a live one (``sk_live_``/``rk_live_``)."""
        key = current_app.config.get("STRIPE_SECRET_KEY") or ""
        return key.startswith(("sk_live_", "rk_live_"))

    def application_fee(self, tenant_id: uuid.UUID, amount: int, at=None) -> int | None:
        """``platform_fee(tenant_id, amount, at)`` on a connected account;
        None on ours."""
        return platform_fee(tenant_id, amount, at) if _connected_account(tenant_id) else None

    def start(self, charge: Charge) -> PaymentStart:
        """Create the PaymentIntent, idempotent at Stripe by our payment row
        (``kameng-<purpose>-<payment id>``; the subject's id when the charge
        names no row). ``ProviderError`` when Stripe refuses."""
        import stripe

        metadata = {
            "kameng_tenant_id": str(charge.tenant_id),
            "kameng_purpose": charge.purpose,
            SUBJECT_KEYS[charge.purpose]: str(charge.subject_id),
        }
        if charge.payment_id is not None:
            metadata["kameng_payment_id"] = str(charge.payment_id)
        if charge.purpose == "order":
            metadata["kameng_order_number"] = charge.reference
        elif charge.payer_id is not None:
            metadata["kameng_account_id"] = str(charge.payer_id)
        params: dict = {
            "amount": charge.amount,
            "currency": charge.currency.lower(),
            "payment_method_types": current_app.config["STRIPE_PAYMENT_METHODS"],
            "metadata": metadata,
        }
        options: dict = {
            "idempotency_key": f"kameng-{charge.purpose}-{charge.payment_id or charge.subject_id}"
        }
        account = _connected_account(charge.tenant_id)
        if account:
            params["application_fee_amount"] = self.application_fee(charge.tenant_id, charge.amount)
            options["stripe_account"] = account
        try:
            intent = self.client().v1.payment_intents.create(params=params, options=options)
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe: {exc.user_message or type(exc).__name__}") from exc
        return PaymentStart(
            self.name,
            REQUIRES_ACTION,
            intent.id,
            self.ledger_source(None),
            {"payment_intent": intent.id, "client_secret": intent.client_secret},
        )

    def refund(self, *, tenant_id, provider_ref, key, payer_id) -> str:
        """Refund the intent in full (and the application fee with it, on a
        connected account), once: idempotent at Stripe by ``key``, and an
        intent that already has a refund (ours, made before a crash, even
        after Stripe forgot the key; or one from the Dashboard) is not
        refunded again."""
        import stripe

        options: dict = {"idempotency_key": key}
        params: dict = {"payment_intent": provider_ref}
        account = _connected_account(tenant_id)
        if account:
            options["stripe_account"] = account
            params["refund_application_fee"] = True
        client = self.client()
        try:
            made = client.v1.refunds.list(
                params={"payment_intent": provider_ref},
                options={"stripe_account": account} if account else {},
            )
            if any(r.status not in ("failed", "canceled") for r in made.data):
                return self.ledger_source(None)
            client.v1.refunds.create(params=params, options=options)
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe refund: {exc.user_message or type(exc).__name__}") from exc
        return self.ledger_source(None)

    def read_webhook(self, payload: bytes, headers) -> WebhookEvent:
        """Verify ``Stripe-Signature`` against ``STRIPE_WEBHOOK_SECRET`` and
        read the event."""
        import stripe

        secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
        if not secret:
            raise WebhookNotConfigured("Set STRIPE_WEBHOOK_SECRET to receive Stripe events.")
        try:
            stripe.Webhook.construct_event(payload, headers.get("Stripe-Signature") or "", secret)
            event = json.loads(payload)
            event_id, event_type = str(event["id"]), str(event["type"])
        except (ValueError, KeyError, TypeError, stripe.SignatureVerificationError) as exc:
            raise WebhookSignatureInvalid(
                "The Stripe-Signature header does not match this payload."
            ) from exc
        obj = (event.get("data") or {}).get("object") or {}
        if not isinstance(obj, dict):
            obj = {}
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        is_intent = obj.get("object") == "payment_intent"
        ref = (obj.get("id") if is_intent else None) or obj.get("payment_intent")
        purpose = metadata.get("kameng_purpose")
        if purpose not in SUBJECT_KEYS:
            purpose = "recharge" if metadata.get("kameng_payment_id") else "order"
        amount = obj.get("amount_received") or obj.get("amount")
        refunded = obj.get("amount_refunded")
        fee = obj.get("application_fee_amount")
        return WebhookEvent(
            event_id=event_id,
            event_type=event_type,
            kind=EVENT_KINDS.get(event_type),
            provider_ref=ref if isinstance(ref, str) and ref else None,
            amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            currency=str(obj.get("currency") or "").upper(),
            refunded_total=refunded if isinstance(refunded, int) else None,
            tenant_hint=parse_uuid(metadata.get("kameng_tenant_id")),
            purpose=purpose,
            subject_id=parse_uuid(metadata.get(SUBJECT_KEYS[purpose])),
            account=event.get("account") or None,
            is_payment=is_intent,
            payment_hint=parse_uuid(metadata.get("kameng_payment_id")),
            application_fee=fee if isinstance(fee, int) and not isinstance(fee, bool) else None,
            livemode=event.get("livemode") is True,
            record=_without_secrets(event),
        )


def _connected_account(tenant_id: uuid.UUID) -> str | None:
    return db.session.get(Tenant, tenant_id).stripe_account_id or None


def _without_secrets(event: dict) -> dict:
    # A PaymentIntent's client secret lets anyone holding it confirm the
    # payment; it has no business in our event log.
    copy = json.loads(json.dumps(event))
    obj = (copy.get("data") or {}).get("object")
    if isinstance(obj, dict) and "client_secret" in obj:
        obj["client_secret"] = None
    return copy
