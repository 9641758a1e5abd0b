"""The one small interface every payment provider implements.

A provider is an adapter: it knows how to ask its provider for money
(``start``), how to send money back (``refund``) and how to read the
provider's signed notifications (``read_webhook``). It knows nothing of
orders, wallets or tickets: the use cases that call it live in the domains
that own them (``orders.payment`` pays an order, ``payments.recharges``
fills a wallet, ``payments.events`` routes a notification). Adapters import
only models and settings, so they can be tested and replaced alone.

Adding a provider: one module beside this one, one line in
``payments.registry``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flask import current_app

from app.core.errors import KamengError
from app.ledger.models import clearing_code

#: ``PaymentStart.status`` values.
SUCCEEDED = "succeeded"  # the money is collected: confirm at once
REQUIRES_ACTION = "requires_action"  # the buyer finishes at the provider; a webhook confirms

#: ``WebhookEvent.kind`` values (what a notification says about a payment).
PAYMENT_SUCCEEDED = "succeeded"
PAYMENT_FAILED = "failed"
PAYMENT_REFUNDED = "refunded"


class ProviderUnavailable(KamengError):
    status = 422
    slug = "payment-provider-unavailable"
    title = "This payment method is not available"


class ProviderError(KamengError):
    status = 502
    slug = "payment-provider-error"
    title = "The payment provider did not accept the request"


class WebhookSignatureInvalid(KamengError):
    status = 400
    slug = "webhook-signature-invalid"
    title = "The webhook signature is not valid"


class WebhookNotConfigured(KamengError):
    status = 503
    slug = "webhook-not-configured"
    title = "Webhooks of this provider are not configured on this platform"


@dataclass(frozen=True)
class Charge:
    """What to collect: ``amount`` minor units of ``currency`` for the shop
    ``tenant_id``. ``purpose`` is ``order`` or ``recharge``; ``subject_id``
    the order's or the recharge payment's id, ``reference`` what the buyer
    recognises (the order number). ``payer_id`` is the signed-in shop
    account, when there is one. ``payment_id`` is our pending ``Payment``
    row, recorded before the provider is asked: the provider keeps it with
    the payment, so a notification can prove the payment is ours."""

    tenant_id: uuid.UUID
    purpose: str
    subject_id: uuid.UUID
    amount: int
    currency: str
    reference: str = ""
    payer_id: uuid.UUID | None = None
    payment_id: uuid.UUID | None = None


@dataclass
class PaymentStart:
    """How a payment started. ``provider_ref`` names it at the provider;
    ``ledger_source`` is the ledger account the money comes from."""

    provider: str
    status: str
    provider_ref: str
    ledger_source: str
    details: dict = field(default_factory=dict)
    payment_id: uuid.UUID | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified provider notification, in our words. ``kind`` is None for
    an event we do not act on. ``purpose`` and ``subject_id`` come from the
    metadata we attached when we started the payment; they only say where
    to look first (``payments.events`` trusts the payment it recorded).
    ``payment_hint`` is the pending payment row the metadata names,
    ``application_fee`` the platform's fee the provider reports, ``livemode``
    whether the provider collected real money (missing: False)."""

    event_id: str
    event_type: str
    kind: str | None
    provider_ref: str | None
    amount: int | None = None
    currency: str = ""
    refunded_total: int | None = None
    tenant_hint: uuid.UUID | None = None
    purpose: str | None = None
    subject_id: uuid.UUID | None = None
    account: str | None = None
    is_payment: bool = False  # the event's object is the payment itself (not a charge of it)
    payment_hint: uuid.UUID | None = None
    application_fee: int | None = None
    livemode: bool = False
    record: dict = field(default_factory=dict)  # what we keep of the payload (no secrets)


class PaymentAdapter:
    """One provider. Subclasses set the flags and implement what they support."""

    name: str = ""
    #: pays from the payer's shop balance (needs a signed-in account; no
    #: ``Payment`` row: the ledger is the whole record)
    pays_from_wallet: bool = False
    #: the buyer waits on the request that pays, so a card order is
    #: delivered in it rather than by the fulfilment worker
    delivers_in_request: bool = False
    #: may fill a wallet (充值)
    recharges: bool = False
    #: the shop's own pages can collect it today (no provider script needed)
    on_pages: bool = True
    #: Posts signed events to ``/api/v1/webhooks/<name>``; for the others that
    #: address does not exist (404).
    sends_webhooks: bool = False
    #: where the buyer's list of payment methods puts it (lower first)
    rank: int = 50
    #: what the operator's settings call it (a lazy translation)
    title = ""
    #: what the shop's pay page shows: the button, a line under it (lazy
    #: translations), and whether it is the page's main button
    label = ""
    hint = ""
    primary: bool = False
    #: the provider as the shop's operators know it (order pages, exports)
    title = ""
    #: refused when ``ENV=production`` (the app will not start with it enabled)
    development_only: bool = False

    def available(self) -> bool:
        """Enabled on this platform (``PAYMENT_PROVIDERS``) and configured."""
        return self.name in current_app.config["PAYMENT_PROVIDERS"]

    def ledger_source(self, payer_id: uuid.UUID | None) -> str:
        """The ledger account a payment through this provider comes from."""
        return clearing_code(self.name)

    def livemode(self) -> bool:
        """Whether this deployment collects real money through the provider
        (its notifications must say the same)."""
        return False

    def application_fee(self, tenant_id: uuid.UUID, amount: int, at=None) -> int | None:
        """The platform's fee the provider takes on a payment of ``amount``
        to the shop ``tenant_id`` started at ``at`` (now when ``None``), or
        None when it takes none."""
        return None

    def start(self, charge: Charge) -> PaymentStart:
        raise NotImplementedError

    def refund(self, *, tenant_id: uuid.UUID, provider_ref: str, key: str, payer_id) -> str:
        """Send a collected payment back in full; idempotent by ``key``.
        Returns the ledger account the money goes back to."""
        raise ProviderUnavailable(f"Refunds through '{self.name}' are not supported.")

    def read_webhook(self, payload: bytes, headers) -> WebhookEvent:
        """Verify and read one notification; ``WebhookSignatureInvalid`` when
        it is not the provider's."""
        raise WebhookNotConfigured(f"'{self.name}' sends no webhooks.")
