"""Double-entry ledger: accounts, transactions and their entries.

Every movement of value is one ``LedgerTransaction`` whose entries sum to
zero, with an idempotency key unique per shop. An account's balance is the
sum of its entries; wallets also cache it on the account row (updated under
a row lock in the same transaction) so reading a balance is one row.

Sign convention: an entry's ``amount`` is what the account gains. A wallet
recharge paid by card is ``wallet +N, clearing:<provider> -N``; paying an
order from the wallet is ``wallet -N, sales +N``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    Uuid,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dates import UTCDateTime
from app.core.ids import uuid7
from app.extensions import db
from tenants.guard import TenantOwned


def wallet_code(shop_account_id: uuid.UUID) -> str:
    """The ledger account of a shop account's wallet (余额)."""
    return f"wallet:{shop_account_id}"


def supplier_payable_code(shop_account_id: uuid.UUID) -> str:
    """The ledger account of what the shop owes a supplier account (应付):
    credited at cost for each code sold from its pool, debited by its
    withdrawals. Like a wallet, it caches its balance and never goes below
    zero."""
    return f"supplier:payable:{shop_account_id}"


def supplier_deposit_code(supplier_id: uuid.UUID) -> str:
    """The ledger account of the deposit (保证金) the shop holds for a supplier."""
    return f"supplier:deposit:{supplier_id}"


def clearing_code(provider: str) -> str:
    """The ledger account where a provider's collected money waits."""
    return f"clearing:{provider}"


class LedgerAccount(TenantOwned, db.Model):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        # A wallet never goes below zero, except one a commission clawback
        # marked ``may_owe`` (``services.post(..., allow_debt=True)``).
        CheckConstraint("kind <> 'wallet' OR balance >= 0 OR may_owe", name="wallet_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: ``wallet:<shop account id>``, ``sales``, ``clearing:<provider>``, ``refunds``
    code: Mapped[str] = mapped_column(String(80))
    #: wallet | payable | revenue | clearing | expense | liability
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    #: the shop account of a wallet or of a supplier's payable
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    #: a clawback took this wallet below zero once: it may show a debt
    may_owe: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class LedgerTransaction(TenantOwned, db.Model):
    __tablename__ = "ledger_transactions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_ledger_transactions_tenant_order", "tenant_id", "order_id"),
        # A day's transactions, for the daily reconciliation (``reconcile``).
        Index("ix_ledger_transactions_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(24))  # recharge | order_payment | refund | ...
    memo: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class LedgerEntry(TenantOwned, db.Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_tenant_account", "tenant_id", "account_id", "created_at"),
        Index("ix_ledger_entries_tenant_transaction", "tenant_id", "transaction_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ledger_transactions.id", ondelete="RESTRICT")
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ledger_accounts.id", ondelete="RESTRICT")
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
