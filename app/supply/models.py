"""Supply (货源) and docking (对接): where a shop's stock comes from, and who
may buy from this shop through its supply API.

Downstream (this shop buys):

- a **supplier** is a source of goods: ``account`` (a shop account of role
  supplier that uploads codes and is paid at cost), ``http`` (an external
  API speaking our supply protocol) or ``platform`` (another shop, on this
  platform or another, through the same HTTP protocol — never through the
  database). Its credentials (key id and secret for http/platform) are
  sealed with the card key like codes (``app.supply.secrets``).
- a **product source** links a product to a supplier's SKU with a cost, a
  priority and an on/off switch, and remembers the last stock and cost the
  sync saw and when to sync it next (back-off on failures).
- a **supply attempt** is one try to buy an order's goods from one source:
  the source, the idempotency key (one per order item, the same across every
  retry and every source), the latency and the outcome.

Upstream (others buy from this shop):

- a **supply credential** lets a docking partner call ``/supply/v1/``: it
  acts as one shop account (an agent of the shop: its tier price, its
  wallet), with a public key id and a sealed secret for the HMAC signature,
  and an optional callback URL for status changes.
- a **supply purchase** maps a caller's idempotency key to the order it made
  here, so a repeated purchase answers the same order.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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

KIND_ACCOUNT = "account"
KIND_HTTP = "http"
KIND_PLATFORM = "platform"
SUPPLIER_KINDS = (KIND_ACCOUNT, KIND_HTTP, KIND_PLATFORM)

SUPPLIER_VETTING = "vetting"
SUPPLIER_ACTIVE = "active"
SUPPLIER_SUSPENDED = "suspended"
SUPPLIER_BLACKLISTED = "blacklisted"
SUPPLIER_STATUSES = (SUPPLIER_VETTING, SUPPLIER_ACTIVE, SUPPLIER_SUSPENDED, SUPPLIER_BLACKLISTED)

ATTEMPT_DELIVERED = "delivered"  # the upstream answered codes / a confirmed top-up
ATTEMPT_PENDING = "pending"  # accepted; confirmation follows (callback or poll)
ATTEMPT_FAILED = "failed"  # refused or failed upstream: try the next source
ATTEMPT_TIMEOUT = "timeout"  # no answer in time: the same key is asked again
ATTEMPT_GARBAGE = "garbage"  # an answer we could not read
ATTEMPT_ABANDONED = "abandoned"  # the operator stopped waiting on a silent source
ATTEMPT_OUTCOMES = (
    ATTEMPT_DELIVERED,
    ATTEMPT_PENDING,
    ATTEMPT_FAILED,
    ATTEMPT_TIMEOUT,
    ATTEMPT_GARBAGE,
    ATTEMPT_ABANDONED,
)

#: bounds on what one shop may hold
MAX_SUPPLIERS = 200
MAX_SOURCES_PER_PRODUCT = 10
MAX_CREDENTIALS = 50


class Supplier(TenantOwned, db.Model):
    __tablename__ = "suppliers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default=SUPPLIER_VETTING)
    #: the supplier's shop account (kind ``account``)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("shop_accounts.id", ondelete="RESTRICT")
    )
    #: the upstream's supply API (kinds ``http`` and ``platform``):
    #: ``https://<shop host>/supply/v1`` for a shop on a Kameng platform
    base_url: Mapped[str | None] = mapped_column(String(300))
    #: our credential at the upstream: its public key id and the sealed secret
    key_id: Mapped[str | None] = mapped_column(String(64))
    secret_key_id: Mapped[str | None] = mapped_column(String(8))
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: the deposit (保证金) the shop holds for this supplier, minor units
    deposit: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the operator's markup rule for this supplier's goods: when the stock
    #: sync sees a source's cost change, the product's price becomes the
    #: cheapest enabled source's cost plus this percent (None: prices stay)
    markup_percent: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class ProductSource(TenantOwned, db.Model):
    __tablename__ = "product_sources"
    __table_args__ = (
        UniqueConstraint("tenant_id", "product_id", "supplier_id", "sku"),
        Index("ix_product_sources_tenant_supplier", "tenant_id", "supplier_id"),
        Index("ix_product_sources_tenant_next_sync", "tenant_id", "next_sync_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE")
    )
    supplier_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("suppliers.id", ondelete="CASCADE")
    )
    #: the supplier's product id (for an ``account`` supplier: unused)
    sku: Mapped[str] = mapped_column(String(120), default="")
    cost: Mapped[int] = mapped_column(BigInteger, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: what the last sync saw (None: never synced)
    stock: Mapped[int | None] = mapped_column(Integer)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sync_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class SupplyAttempt(TenantOwned, db.Model):
    __tablename__ = "supply_attempts"
    __table_args__ = (
        Index("ix_supply_attempts_tenant_order", "tenant_id", "order_id", "created_at"),
        Index("ix_supply_attempts_tenant_supplier", "tenant_id", "supplier_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("product_sources.id", ondelete="SET NULL")
    )
    supplier_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("suppliers.id", ondelete="CASCADE")
    )
    #: one per order item, the same across every retry and every source
    idempotency_key: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(10))
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    upstream_ref: Mapped[str | None] = mapped_column(String(120))
    cost: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class SupplyCredential(TenantOwned, db.Model):
    __tablename__ = "supply_credentials"
    __table_args__ = (UniqueConstraint("tenant_id", "key_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: the docking partner's shop account here (its tier price, its wallet)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("shop_accounts.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(80))
    #: public, sent with every request (``X-Kameng-Key``); unique in the shop
    key_id: Mapped[str] = mapped_column(String(64))
    secret_key_id: Mapped[str] = mapped_column(String(8))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    callback_url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SupplyPurchase(TenantOwned, db.Model):
    __tablename__ = "supply_purchases"
    __table_args__ = (
        UniqueConstraint("tenant_id", "credential_id", "caller_key"),
        Index("ix_supply_purchases_tenant_order", "tenant_id", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    credential_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("supply_credentials.id", ondelete="CASCADE")
    )
    caller_key: Mapped[str] = mapped_column(String(120))
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    #: when the caller was last told of a status change (signed callback)
    notified_status: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class SyncPausedProduct(TenantOwned, db.Model):
    """A product the stock sync took off sale because every source and its
    own stock were empty. Only these come back on sale by themselves when a
    source refills: a product the operator took off sale stays off."""

    __tablename__ = "supply_paused_products"
    __table_args__ = (UniqueConstraint("tenant_id", "product_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


CODE_AVAILABLE = "available"
CODE_SOLD = "sold"
CODE_WITHDRAWN = "withdrawn"
CODE_STATUSES = (CODE_AVAILABLE, CODE_SOLD, CODE_WITHDRAWN)


class SupplierCode(TenantOwned, db.Model):
    """One code in an account supplier's pool (供货商卡池): uploaded by the
    supplier for a product it is a source of, sealed and fingerprinted like
    the shop's own cards (a code is held once across the pool and the
    shop's cards). Sold to an order through the ``account`` connector under
    routing's idempotency key, at the source's cost of that moment."""

    __tablename__ = "supplier_codes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "fingerprint"),
        # the codes available for (supplier, product), oldest first
        Index(
            "ix_supplier_codes_tenant_supplier_product_status",
            "tenant_id",
            "supplier_id",
            "product_id",
            "status",
            "id",
        ),
        Index("ix_supplier_codes_tenant_sold_key", "tenant_id", "sold_key"),
        # the supplier's sales, newest first
        Index("ix_supplier_codes_tenant_supplier_sold", "tenant_id", "supplier_id", "sold_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    supplier_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("suppliers.id", ondelete="CASCADE")
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE")
    )
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("product_sources.id", ondelete="SET NULL")
    )
    key_id: Mapped[str] = mapped_column(String(8))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[str] = mapped_column(String(10), default=CODE_AVAILABLE)
    #: routing's idempotency key the code was sold under
    sold_key: Mapped[str | None] = mapped_column(String(120))
    #: the order it was sold to (read from routing's key), when known
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: what the shop owes the supplier for it, minor units (the source's cost)
    cost: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    sold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
