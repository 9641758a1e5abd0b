"""Posting to the ledger. The only code that writes ledger rows.

``post`` runs in the caller's transaction and current shop (the caller
commits, so a payment and the order it pays stand or fall together). It is
idempotent by key: posting the same key with the same lines again returns
the first transaction and changes nothing; the same key with other lines is
a ``Conflict``. Wallet rows are locked (``FOR UPDATE``, in id order so two
transactions never deadlock) before their cached balance moves, and a wallet
that would go below zero raises ``InsufficientFunds`` with nothing written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from app.core.errors import Conflict, KamengError
from app.core.pagination import offset_of
from app.extensions import db
from app.ledger.models import (  # noqa: F401 - the codes are part of this service's API
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    clearing_code,
    supplier_deposit_code,
    supplier_payable_code,
    wallet_code,
)

SALES = "sales"
REFUNDS = "refunds"
#: the shop's side of an operator's manual change to a wallet
ADJUSTMENTS = "adjustments"
#: commission earned by agents and not yet settled into their wallets
COMMISSION_PENDING = "commission:pending"
#: money agents asked to withdraw, waiting for the operator's decision
WITHDRAWALS_PENDING = "withdrawals:pending"
#: money paid out to agents (approved withdrawals, less the fee)
PAYOUTS = "payouts"
#: the shop's income from withdrawal fees and tier fees
WITHDRAWAL_FEES = "fees:withdrawal"
TIER_FEES = "fees:tier"
#: the shop's cost of codes bought from its supplier accounts (the other
#: side of their payables)
SUPPLY_COST = "supply:cost"
#: kinds of account that cache their balance and never go below zero
#: (unless ``allow_debt``): a shop account's wallet and a supplier's payable
BALANCE_KINDS = ("wallet", "payable")
#: the platform's commission on sales not paid through Stripe: what the
#: shop owes the platform until it is billed (``app.billing.accrual``)
PLATFORM_COMMISSION = "platform:commission"
#: the shop's cost of the platform's commission (an expense: its ``sales``
#: stay the gross sales)
PLATFORM_FEES = "costs:platform"


class InsufficientFunds(KamengError):
    status = 402
    slug = "insufficient-funds"
    title = "Not enough balance"


class Unbalanced(ValueError):
    """Entries of a transaction must sum to zero (a programming error)."""


@dataclass(frozen=True)
class Line:
    code: str
    amount: int


_KINDS = {
    "wallet": "wallet",
    "clearing": "clearing",
    SALES: "revenue",
    REFUNDS: "expense",
    ADJUSTMENTS: "expense",
    "commission": "liability",
    "withdrawals": "liability",
    PAYOUTS: "clearing",
    "fees": "revenue",
    "supply": "expense",
    "costs": "expense",
    "platform": "liability",
}
#: ``supplier:<what>:<id>`` accounts
_SUPPLIER_KINDS = {"payable": "payable", "deposit": "liability"}


def get_or_create_account(code: str, currency: str) -> LedgerAccount:
    """The shop's account with this code, created on first use."""
    account = db.session.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
    if account is not None:
        return account
    prefix, _, rest = code.partition(":")
    kind = _KINDS.get(prefix)
    owner = uuid.UUID(rest) if prefix == "wallet" else None
    if prefix == "supplier":
        what, _, ident = rest.partition(":")
        kind = _SUPPLIER_KINDS.get(what)
        owner = uuid.UUID(ident) if what == "payable" else None
    if kind is None:
        raise ValueError(f"unknown ledger account {code!r}")
    account = LedgerAccount(code=code, kind=kind, currency=currency, owner_id=owner, balance=0)
    # A concurrent first use may insert the same code; the savepoint keeps
    # the caller's transaction alive and we read the winner's row.
    try:
        with db.session.begin_nested():
            db.session.add(account)
    except Exception:  # noqa: BLE001 - IntegrityError from the unique (tenant_id, code)
        account = db.session.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
        if account is None:
            raise
    return account


def post(
    key: str,
    kind: str,
    lines: list[Line],
    currency: str,
    *,
    memo: str = "",
    order_id: uuid.UUID | None = None,
    allow_debt: bool = False,
    at: datetime | None = None,
) -> LedgerTransaction:
    """Record one balanced transaction (see module doc for the guarantees).

    ``allow_debt``: a wallet may go below zero by this transaction. Only a
    commission clawback passes it (``app.agents.commission``): the agent
    owes the shop what it already withdrew or spent, shown as a debt.

    ``at``: the transaction's instant when the caller keeps it elsewhere
    too (the platform's commission rows); the database's clock otherwise."""
    if not lines or sum(line.amount for line in lines) != 0:
        raise Unbalanced(f"entries of {key} do not sum to zero")
    if any(not isinstance(line.amount, int) or isinstance(line.amount, bool) for line in lines):
        raise TypeError("ledger amounts are integer minor units")
    existing = db.session.scalar(
        select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key)
    )
    if existing is not None:
        _check_same(existing, lines)
        return existing

    codes = sorted({line.code for line in lines})
    accounts = {
        a.code: a
        for a in db.session.scalars(select(LedgerAccount).where(LedgerAccount.code.in_(codes)))
    }
    for code in codes:
        if code not in accounts:
            accounts[code] = get_or_create_account(code, currency)
    wallets = sorted(
        (a for a in accounts.values() if a.kind in BALANCE_KINDS), key=lambda a: str(a.id)
    )
    if len(wallets) > 1:
        # Lock the wallet rows in one order, so two transactions moving money
        # between the same wallets cannot deadlock. (One wallet needs no
        # lock of its own: its conditional UPDATE below takes it.)
        db.session.execute(
            select(LedgerAccount.id)
            .where(LedgerAccount.id.in_([w.id for w in wallets]))
            .order_by(LedgerAccount.id)
            .with_for_update()
        ).all()
    tx = LedgerTransaction(idempotency_key=key, kind=kind, memo=memo[:200], order_id=order_id)
    if at is not None:
        tx.created_at = at
    db.session.add(tx)
    db.session.flush()
    deltas: dict[str, int] = {}
    for line in lines:
        deltas[line.code] = deltas.get(line.code, 0) + line.amount
        db.session.add(
            LedgerEntry(
                transaction_id=tx.id,
                account_id=accounts[line.code].id,
                amount=line.amount,
                **({"created_at": at} if at is not None else {}),
            )
        )
    for code, delta in deltas.items():
        account = accounts[code]
        if account.kind not in BALANCE_KINDS or delta == 0:
            continue
        moved = db.session.execute(
            update(LedgerAccount)
            .where(
                LedgerAccount.id == account.id,
                *(() if allow_debt or delta > 0 else (LedgerAccount.balance + delta >= 0,)),
            )
            .values(
                balance=LedgerAccount.balance + delta,
                **({"may_owe": True} if allow_debt and delta < 0 else {}),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            raise InsufficientFunds("The wallet balance is too low for this payment.")
    db.session.flush()
    return tx


def _check_same(existing: LedgerTransaction, lines: list[Line]) -> None:
    rows = db.session.execute(
        select(LedgerAccount.code, LedgerEntry.amount)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id == existing.id)
    ).all()
    if sorted((r.code, r.amount) for r in rows) != sorted((x.code, x.amount) for x in lines):
        raise Conflict("That idempotency key was used for a different ledger transaction.")


def wallet_balance(shop_account_id: uuid.UUID) -> int:
    """The cached balance (0 for a wallet never used)."""
    balance = db.session.scalar(
        select(LedgerAccount.balance).where(LedgerAccount.code == wallet_code(shop_account_id))
    )
    return int(balance or 0)


def account_balance(code: str) -> int:
    """The cached balance of a wallet or payable account (0 when never used)."""
    balance = db.session.scalar(select(LedgerAccount.balance).where(LedgerAccount.code == code))
    return int(balance or 0)


def wallet_entry_count(shop_account_id: uuid.UUID) -> int:
    """How many entries the account's wallet has (0 for a wallet never used)."""
    return int(
        db.session.scalar(
            select(func.count(LedgerEntry.id))
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerAccount.code == wallet_code(shop_account_id))
        )
        or 0
    )


def wallet_page(shop_account_id: uuid.UUID, *, page: int = 1, per_page: int = 50) -> dict:
    """A shop account's wallet as its owner sees it, in the current shop:
    the cached balance, the currency, and one page of entries, newest first
    (amounts in minor units; positive adds to the balance)."""
    from tenants.context import current_tenant_id
    from tenants.models import Tenant

    currency = db.session.scalar(
        select(LedgerAccount.currency).where(LedgerAccount.code == wallet_code(shop_account_id))
    ) or db.session.scalar(select(Tenant.currency).where(Tenant.id == current_tenant_id()))
    return {
        "balance": wallet_balance(shop_account_id),
        "currency": currency,
        "entries": wallet_entries(
            shop_account_id, limit=per_page, offset=offset_of(page, per_page)
        ),
        "total": wallet_entry_count(shop_account_id),
        "page": page,
        "per_page": per_page,
    }


def wallet_entries(shop_account_id: uuid.UUID, limit: int = 50, offset: int = 0) -> list[dict]:
    """A page of the wallet's entries, newest first, each with the number of
    the order it paid or refunded (``None`` for a recharge). One query."""
    from app.orders.models import Order

    rows = db.session.execute(
        select(LedgerEntry, LedgerTransaction, Order.number)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .outerjoin(Order, Order.id == LedgerTransaction.order_id)
        .where(LedgerAccount.code == wallet_code(shop_account_id))
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        {
            "id": entry.id,
            "amount": entry.amount,
            "kind": tx.kind,
            "memo": tx.memo,
            "order_id": tx.order_id,
            "order_number": number,
            "created_at": entry.created_at,
        }
        for entry, tx, number in rows
    ]


def trial_balance() -> dict[str, int]:
    """Sum of entries per account code in the current shop (sums to zero)."""
    rows = db.session.execute(
        select(LedgerAccount.code, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id, isouter=True)
        .group_by(LedgerAccount.code)
    ).all()
    return {code: int(total) for code, total in rows}


def cached_balances_match() -> bool:
    """Every wallet's cached balance equals the sum of its entries."""
    rows = db.session.execute(
        select(LedgerAccount.balance, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id, isouter=True)
        .where(LedgerAccount.kind == "wallet")
        .group_by(LedgerAccount.id, LedgerAccount.balance)
    ).all()
    return all(int(cached) == int(total) for cached, total in rows)
