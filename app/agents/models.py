"""Agents' money and storefronts: commission, withdrawals and sub-shops (分站).

- A **commission** is what one upline earns on one delivered order: the
  spread between the price its downline paid and its own price (level 1 is
  the sub-shop's owner when the order came through a sub-shop, else the
  buyer's upline). It is ``pending`` in the ledger's ``commission:pending``
  account until ``settle_after`` (the shop's refund window), then
  ``settled`` into the agent's wallet; a refund before that makes it
  ``reversed``, one after it ``clawed_back`` from the wallet
  (``app.agents.commission``).
- A **withdrawal** takes money out of an agent's wallet: ``requested`` (the
  amount waits in ``withdrawals:pending``), then ``approved`` (paid out with
  the operator's reference, less the shop's fee) or ``rejected`` (returned).
- A **sub-shop** is an agent's storefront inside the shop at ``/s/<code>``,
  with its own title, notice and markup (percent over the agent's price, per
  category, ``markups["*"]`` for the rest).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dates import UTCDateTime
from app.core.ids import uuid7
from app.extensions import db
from tenants.guard import TenantOwned

COMMISSION_PENDING = "pending"
COMMISSION_SETTLED = "settled"
COMMISSION_REVERSED = "reversed"
COMMISSION_CLAWED_BACK = "clawed_back"
COMMISSION_STATUSES = (
    COMMISSION_PENDING,
    COMMISSION_SETTLED,
    COMMISSION_REVERSED,
    COMMISSION_CLAWED_BACK,
)

WITHDRAWAL_REQUESTED = "requested"
WITHDRAWAL_APPROVED = "approved"
WITHDRAWAL_REJECTED = "rejected"
WITHDRAWAL_STATUSES = (WITHDRAWAL_REQUESTED, WITHDRAWAL_APPROVED, WITHDRAWAL_REJECTED)

#: the most levels of uplines a shop may pay (its own setting is 0..3)
MAX_DEPTH = 3


class Commission(TenantOwned, db.Model):
    __tablename__ = "commissions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id", "level"),
        Index("ix_commissions_tenant_account", "tenant_id", "account_id", "created_at"),
        Index("ix_commissions_tenant_status_settle", "tenant_id", "status", "settle_after"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    #: the earning agent
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("shop_accounts.id", ondelete="RESTRICT")
    )
    level: Mapped[int] = mapped_column(Integer)
    #: what the downline paid and what this agent would have paid (order totals)
    downline_paid: Mapped[int] = mapped_column(BigInteger)
    own_price: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12), default=COMMISSION_PENDING)
    settle_after: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Withdrawal(TenantOwned, db.Model):
    __tablename__ = "withdrawals"
    __table_args__ = (
        Index("ix_withdrawals_tenant_status", "tenant_id", "status", "created_at"),
        Index("ix_withdrawals_tenant_account", "tenant_id", "account_id", "created_at"),
        # A request sent twice with the same key is one request.
        UniqueConstraint("tenant_id", "account_id", "request_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("shop_accounts.id", ondelete="RESTRICT")
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    #: where to pay it (the agent's words: an Alipay account, a bank card …)
    payout_account: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default=WITHDRAWAL_REQUESTED)
    #: the operator's payout reference (approved) or reason (rejected)
    reference: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    #: the asker's idempotency key (a form's hidden key, an API
    #: ``Idempotency-Key``); none for a request sent without one
    request_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SubShop(TenantOwned, db.Model):
    __tablename__ = "sub_shops"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        UniqueConstraint("tenant_id", "account_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("shop_accounts.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(80))
    notice: Mapped[str] = mapped_column(String(500), default="")
    #: whole percent over the agent's own price: ``{"*": 10, "<category id>": 15}``
    markups: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )
