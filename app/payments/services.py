"""Wallet recharges (充值): a shop account adds money to its balance through
a payment provider.

A recharge is a ``Payment`` with purpose ``recharge``, collected through the
same provider interface as orders (``providers.start_recharge``): ``sandbox``
confirms at once, ``stripe`` returns a client secret and its webhook
confirms. ``confirm_recharge`` is the one path that credits the wallet,
whichever provider confirms; the ledger transaction ``recharge:<payment id>``
moves the amount from ``clearing:<provider>`` to the account's wallet.

Functions run in the current shop's context. Amounts are integer minor units
of the shop's currency.
"""

from __future__ import annotations

import logging
import uuid

from flask import current_app
from sqlalchemy import select, update

from app.core.errors import KamengError, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.extensions import db
from app.ledger import services as ledger
from app.payments import providers
from app.payments.models import Payment
from tenants.context import current_tenant_id

log = logging.getLogger(__name__)

#: Providers a wallet can be recharged through (the wallet itself is not one).
RECHARGE_PROVIDERS = ("sandbox", "stripe")
#: The largest single recharge, in minor units, unless ``WALLET_RECHARGE_MAX``
#: says otherwise (100 000.00 in a two-decimal currency).
DEFAULT_RECHARGE_MAX = 10_000_000
PENDING_REF = "pending:"


class PaymentMismatch(KamengError):
    status = 409
    slug = "payment-mismatch"
    title = "The confirmed payment does not match what was asked for"


def recharge_limit() -> int:
    return int(current_app.config.get("WALLET_RECHARGE_MAX", DEFAULT_RECHARGE_MAX))


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


def _shop_currency() -> str:
    from tenants.models import Tenant

    return db.session.scalar(select(Tenant.currency).where(Tenant.id == current_tenant_id()))


def start_recharge(
    account_id: uuid.UUID, amount: int, provider: str, *, actor: str
) -> tuple[Payment, providers.PaymentStart]:
    """Start recharging ``account_id``'s wallet by ``amount`` through
    ``provider``. Returns the payment (reloaded) and how it started:
    ``succeeded`` (sandbox: the wallet is already credited) or
    ``requires_action`` (stripe: pay with ``details['client_secret']``; the
    webhook credits the wallet). Commits. Raises ``ValidationFailed``,
    ``ProviderUnavailable`` or ``ProviderError`` (the payment is then
    marked failed)."""
    from app.accounts.services import get_shop_account

    amount = _check_amount(amount)
    if provider not in RECHARGE_PROVIDERS:
        raise ValidationFailed(
            "Recharge with one of: " + ", ".join(RECHARGE_PROVIDERS) + ".",
            errors={"provider": ["Not a recharge method."]},
        )
    if not providers.enabled(provider):
        raise providers.ProviderUnavailable(f"'{provider}' is not enabled on this platform.")
    if provider == "stripe" and not current_app.config.get("STRIPE_SECRET_KEY"):
        raise providers.ProviderUnavailable("Stripe is not configured on this platform.")
    account = get_shop_account(account_id)
    if not account.is_active:
        raise NotFound("No such account.")
    payment_id = uuid7()
    # The row exists before the provider is asked, so a webhook can always
    # find it (by ``kameng_payment_id``) even if we never hear the answer.
    payment = Payment(
        id=payment_id,
        purpose="recharge",
        account_id=account.id,
        provider=provider,
        provider_ref=f"sb_{payment_id.hex}"
        if provider == "sandbox"
        else PENDING_REF + str(payment_id),
        amount=amount,
        currency=_shop_currency(),
    )
    db.session.add(payment)
    db.session.commit()
    log.info("recharge %s of %s started by %s via %s", payment_id, amount, actor, provider)
    try:
        started = providers.start_recharge(payment)
    except providers.ProviderError:
        db.session.rollback()
        providers.mark_failed(payment_id)
        db.session.commit()
        raise
    return get_recharge(account.id, payment_id), started


def confirm_recharge(
    payment_id: uuid.UUID, *, provider: str, provider_ref: str, amount: int, actor: str
) -> bool:
    """The one path by which a confirmed recharge credits a wallet.

    Marks the payment succeeded and posts ``recharge:<payment id>``
    (``clearing:<provider>`` −N, ``wallet:<account>`` +N) in one
    transaction, then commits. Idempotent: a repeat (or a payment already
    refunded) returns False and changes nothing. A confirmation for another
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
    if not providers.mark_succeeded(payment.id):
        db.session.rollback()
        return False
    if payment.provider_ref.startswith(PENDING_REF) and provider_ref:
        db.session.execute(
            update(Payment)
            .where(Payment.id == payment.id)
            .values(provider_ref=provider_ref)
            .execution_options(synchronize_session=False)
        )
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
