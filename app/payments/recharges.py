"""Wallet recharges (充值): a shop account adds money to its balance through
a payment provider.

A recharge is a ``Payment`` with purpose ``recharge``, collected through the
same adapters as orders (``payments.registry``): one that collects at once
(``sandbox``) is confirmed here, one that needs the buyer (``stripe``)
answers a client secret and its webhook confirms. ``confirm_recharge`` is the one path that credits the wallet,
whichever provider confirms; the ledger transaction ``recharge:<payment id>``
moves the amount from ``clearing:<provider>`` to the account's wallet.

Functions run in the current shop's context. Amounts are integer minor units
of the shop's currency.
"""

from __future__ import annotations

import logging
import uuid

from flask import current_app
from sqlalchemy import select

from app.core.errors import KamengError, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.extensions import db
from app.ledger import services as ledger
from app.payments import registry
from app.payments import services as payments
from app.payments.adapters.base import (
    SUCCEEDED,
    Charge,
    PaymentAdapter,
    PaymentStart,
    ProviderError,
)
from app.payments.events import PurposeHandler
from app.payments.models import Payment
from tenants.context import current_tenant_id
from tenants.models import current_shop_currency

log = logging.getLogger(__name__)


class PaymentMismatch(KamengError):
    status = 409
    slug = "payment-mismatch"
    title = "The confirmed payment does not match what was asked for"


def recharge_limit() -> int:
    """The largest single recharge in minor units (``WALLET_RECHARGE_MAX``)."""
    return int(current_app.config["WALLET_RECHARGE_MAX"])


def recharge_methods(*, on_pages: bool = False) -> list[PaymentAdapter]:
    """The providers a wallet may be filled through now, in the order a
    buyer sees them; with ``on_pages`` only those the shop's own pages can
    collect (the others need the provider's script and go through the API)."""
    return [a for a in registry.available() if a.recharges and (a.on_pages or not on_pages)]


def _check_amount(amount) -> int:
    limit = recharge_limit()
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationFailed(
            "The amount is a whole number of minor units (分/cents).",
            errors={"amount": ["Not a valid integer."]},
        )
    if not 1 <= amount <= limit:
        raise ValidationFailed(
            f"A recharge is between 1 and {limit} minor units.",
            errors={"amount": [f"Must be between 1 and {limit}."]},
        )
    return amount


def start_recharge(
    account_id: uuid.UUID, amount: int, provider: str, *, actor: str
) -> tuple[Payment, PaymentStart]:
    """Start recharging ``account_id``'s wallet by ``amount`` through
    ``provider``. Returns the payment (reloaded) and how it started:
    ``succeeded`` (the wallet is already credited) or ``requires_action``
    (pay with ``details['client_secret']``; the webhook credits the
    wallet). Commits. Raises ``ValidationFailed``, ``ProviderUnavailable``
    or ``ProviderError`` (the payment is then marked failed)."""
    from app.accounts.services import get_shop_account

    amount = _check_amount(amount)
    if provider not in registry.RECHARGE_NAMES:
        raise ValidationFailed(
            "Recharge with one of: " + ", ".join(registry.RECHARGE_NAMES) + ".",
            errors={"provider": ["Not a recharge method."]},
        )
    adapter = registry.usable(provider)
    account = get_shop_account(account_id)
    if not account.is_active:
        raise NotFound("No such account.")
    payment_id = uuid7()
    payment = Payment(
        id=payment_id,
        purpose="recharge",
        account_id=account.id,
        provider=provider,
        provider_ref=payments.pending_ref(payment_id),
        amount=amount,
        currency=current_shop_currency(),
    )
    db.session.add(payment)
    db.session.commit()
    log.info("recharge %s of %s started by %s via %s", payment_id, amount, actor, provider)
    charge = Charge(
        tenant_id=current_tenant_id(),
        purpose="recharge",
        subject_id=payment_id,
        amount=amount,
        currency=payment.currency,
        payer_id=account.id,
    )
    try:
        started = adapter.start(charge)
    except ProviderError:
        db.session.rollback()
        payments.mark_failed(payment_id)
        db.session.commit()
        raise
    started.payment_id = payment_id
    payments.name_payment(payment_id, started.provider_ref)
    db.session.commit()
    if started.status == SUCCEEDED:
        confirm_recharge(
            payment_id,
            provider=provider,
            provider_ref=started.provider_ref,
            amount=amount,
            actor=provider,
        )
    return get_recharge(account.id, payment_id), started


def confirm_recharge(
    payment_id: uuid.UUID, *, provider: str, provider_ref: str, amount: int, actor: str
) -> bool:
    """The one path by which a confirmed recharge credits a wallet.

    Marks the payment succeeded and posts ``recharge:<payment id>``
    (``clearing:<provider>`` −N, ``wallet:<account>`` +N) in one
    transaction, with the recharge-total agent tier the account now reaches
    (``app.agents.upgrades.grant_recharge_tier``), then commits.
    Idempotent: a repeat (or a payment already refunded) returns False and
    changes nothing. A confirmation for another
    provider or amount raises ``PaymentMismatch`` and credits nothing.
    """
    payment = db.session.scalar(
        select(Payment).where(Payment.id == payment_id, Payment.purpose == "recharge")
    )
    if payment is None:
        raise NotFound("No such recharge.")
    if provider != payment.provider or amount != payment.amount:
        raise PaymentMismatch(
            f"{provider} {provider_ref} confirmed {amount}; the recharge asked "
            f"{payment.amount} through {payment.provider}."
        )
    if not payments.mark_succeeded(payment.id):
        db.session.rollback()
        return False
    if provider_ref:
        payments.name_payment(payment.id, provider_ref)
    ledger.post(
        f"recharge:{payment.id}",
        "recharge",
        [
            ledger.Line(ledger.clearing_code(provider), -amount),
            ledger.Line(ledger.wallet_code(payment.account_id), amount),
        ],
        payment.currency,
        memo=f"recharge via {provider} {provider_ref} ({actor})",
    )
    # The recharge may reach a recharge-total agent tier: granted in the
    # same transaction, so the wallet and the tier never disagree.
    from app.agents.upgrades import grant_recharge_tier

    grant_recharge_tier(payment.account_id)
    db.session.commit()
    return True


def get_recharge(account_id: uuid.UUID, payment_id: uuid.UUID) -> Payment:
    """One of the account's recharges; another account's (or shop's) is
    ``NotFound``."""
    db.session.expire_all()
    payment = db.session.scalar(
        select(Payment).where(
            Payment.id == payment_id,
            Payment.purpose == "recharge",
            Payment.account_id == account_id,
        )
    )
    if payment is None:
        raise NotFound("No such recharge.")
    return payment


# --- provider notifications (payments.events) ----------------------------------


def _adopt(payment_id: uuid.UUID, provider: str, provider_ref: str) -> Payment | None:
    """A pending recharge whose reference was never saved takes the one the
    provider reports."""
    payment = db.session.scalar(
        select(Payment).where(
            Payment.id == payment_id,
            Payment.provider == provider,
            Payment.provider_ref == payments.pending_ref(payment_id),
        )
    )
    if payment is not None:
        payment.provider_ref = provider_ref
    return payment


def _confirmed(payment: Payment, event) -> str:
    try:
        credited = confirm_recharge(
            payment.id,
            provider=payment.provider,
            provider_ref=event.provider_ref,
            amount=event.amount,
            actor=f"{payment.provider} webhook",
        )
    except PaymentMismatch:
        return "mismatch"
    return "wallet_credited" if credited else "unchanged"


def _refunded(payment: Payment) -> str:
    # Recharges are never refunded through the platform: money sent back at
    # the provider while the wallet keeps it is for the operator to see.
    return "refunded_outside_kameng"


#: How ``payments.events`` handles notifications about recharges.
NOTIFICATIONS = PurposeHandler(adopt=_adopt, confirmed=_confirmed, refunded=_refunded)
