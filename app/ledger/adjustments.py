"""An operator's manual change to a customer's balance (余额调整): credit a
goodwill amount, take back a mistaken top-up.

One ledger transaction per adjustment: the wallet gains (or loses) the
amount and the shop's ``adjustments`` account the opposite, so the books
still sum to zero and the wallet's cached balance moves under its row lock
like any payment. The reason is the transaction's memo (the customer sees
it in their balance history) and the audit row's; both commit together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.services import get_shop_account
from app.audit import services as audit
from app.core.errors import Conflict, ValidationFailed
from app.core.money import format_money
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import LedgerAccount, LedgerTransaction

ADJUSTMENT = "adjustment"
MAX_REASON = 200


@dataclass(frozen=True)
class Adjusted:
    """What an adjustment did: the amount, the balance after it, and
    whether this call made it (False: the same form was sent again)."""

    amount: int
    balance: int
    currency: str
    made: bool


def adjustment_key(form_key: str) -> str:
    """The ledger key of an adjustment form (one per form shown)."""
    return f"adjust:{form_key}"


def adjust_wallet(
    account_id: uuid.UUID,
    amount: int,
    reason: str,
    *,
    actor: str,
    form_key: str,
    currency: str,
) -> Adjusted:
    """Add ``amount`` minor units (negative: take them) to the wallet of a
    shop account of the current shop, for ``reason``, on the audit record
    (``wallet.adjusted``). One transaction; commits.

    Idempotent by ``form_key`` (a form sent twice moves the money once; the
    second call returns ``made=False`` and records nothing). ``NotFound``
    for an account of another shop; ``ValidationFailed`` for a zero amount
    or a missing reason; ``InsufficientFunds`` when the balance would go
    below zero, with nothing written.
    """
    account = get_shop_account(account_id)
    reason = " ".join((reason or "").split())
    errors: dict[str, list[str]] = {}
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("money is an int of minor units")
    if amount == 0:
        errors["amount"] = ["Not zero."]
    if not reason:
        errors["reason"] = ["Required."]
    elif len(reason) > MAX_REASON:
        errors["reason"] = [f"At most {MAX_REASON} characters."]
    if not form_key or len(form_key) > 64:
        errors["form_key"] = ["Missing."]
    if errors:
        raise ValidationFailed(
            "Give a non-zero amount and a reason.",
            errors=errors,
            message=_adjust_message(errors),
        )
    key = adjustment_key(form_key)
    wallet = ledger.wallet_code(account.id)
    existing = db.session.scalar(
        select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key)
    )
    wallet_currency = db.session.scalar(
        select(LedgerAccount.currency).where(LedgerAccount.code == wallet)
    )
    currency = wallet_currency or currency
    try:
        ledger.post(
            key,
            ADJUSTMENT,
            [ledger.Line(wallet, amount), ledger.Line(ledger.ADJUSTMENTS, -amount)],
            currency,
            memo=reason,
        )
    except Conflict:
        db.session.rollback()
        raise Conflict(
            "This form's key was used for another adjustment.",
            errors={"form_key": ["Used."]},
            message=_l("This form was used for another change already. Reload the page."),
        ) from None
    except ledger.InsufficientFunds as err:
        db.session.rollback()
        balance = ledger.wallet_balance(account.id)
        raise ledger.InsufficientFunds(
            err.detail,
            errors={"amount": ["More than the balance."]},
            message=_l(
                "The balance is %(balance)s; it cannot go below zero.",
                balance=format_money(balance, currency),
            ),
        ) from None
    if existing is None:
        audit.record(
            actor,
            "wallet.adjusted",
            f"account:{account.id}",
            email=account.email,
            amount=amount,
            currency=currency,
            reason=reason,
        )
    db.session.commit()
    return Adjusted(amount, ledger.wallet_balance(account.id), currency, existing is None)


def _adjust_message(errors: dict) -> object:
    if "amount" in errors:
        return _l("Type an amount other than zero.")
    if "reason" in errors and errors["reason"] == ["Required."]:
        return _l("Give a reason: it is kept with the change and shown to the customer.")
    if "reason" in errors:
        return _l("The reason is too long (at most 200 characters).")
    return _l("The form was incomplete. Reload the page and try again.")
