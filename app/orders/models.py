"""Orders, their event history and exception tickets (异常工单).

An order buys one product in some quantity (a cart of several products is a
later extension: it would add order items; the state machine and the ledger
postings stay as they are). Cards reserved or delivered for an order point
back at it (``cards.order_id``).
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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dates import UTCDateTime
from app.core.ids import uuid7
from app.extensions import db
from tenants.guard import TenantOwned

PENDING = "pending_payment"
PAID = "paid"
FULFILLING = "fulfilling"
DELIVERED = "delivered"
PARTIAL = "partially_delivered"
EXPIRED = "expired"
CANCELLED = "cancelled"
FAILED = "failed"
REFUNDING = "refunding"  # claimed for a refund; the provider is being asked
REFUNDED = "refunded"
ORDER_STATUSES = (
    PENDING,
    PAID,
    FULFILLING,
    DELIVERED,
    PARTIAL,
    EXPIRED,
    CANCELLED,
    FAILED,
    REFUNDING,
    REFUNDED,
)


class Order(TenantOwned, db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        # An Idempotency-Key is its caller's (checkout.Caller.scope).
        UniqueConstraint("tenant_id", "idempotency_scope", "idempotency_key"),
        Index("ix_orders_tenant_status_expires", "tenant_id", "status", "expires_at"),
        Index("ix_orders_tenant_email", "tenant_id", "email"),
        Index("ix_orders_tenant_buyer", "tenant_id", "buyer_id"),
        # The console's list order (newest first, the id breaking ties) and
        # the dashboard's and platform console's figures by day: the columns
        # they add up ride along, so those read the index alone, never the
        # wide rows (migration 0010, measured by ``scripts/bench console``).
        Index(
            "ix_orders_tenant_created_id",
            "tenant_id",
            "created_at",
            "id",
            postgresql_include=[
                "status",
                "paid_at",
                "total",
                "currency",
                "product_id",
                "quantity",
                "product_name",
            ],
        ),
        # A list filtered by status, in the same order, and its count.
        Index("ix_orders_tenant_status_created", "tenant_id", "status", "created_at", "id"),
        Index("ix_orders_tenant_address_status", "tenant_id", "client_address", "status"),
        # Orders delivered since a time: the platform's commission accrual
        # (``app.billing.accrual``) reads them a minute at a time.
        Index("ix_orders_tenant_delivered", "tenant_id", "delivered_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="RESTRICT")
    )
    product_kind: Mapped[str] = mapped_column(String(8))
    product_name: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    quote: Mapped[dict] = mapped_column(JSON, default=dict)
    email: Mapped[str] = mapped_column(String(254))
    buyer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: the agent sub-shop (分站) the order was placed through, if any
    sub_shop_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    inputs: Mapped[dict] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    #: whose key: ``shop_account:<id>``, ``api_key:<id>`` or ``guest``
    idempotency_scope: Mapped[str | None] = mapped_column(String(60))
    #: the address the order was placed from (caps unpaid orders per client)
    client_address: Mapped[str | None] = mapped_column(String(45))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    payment_provider: Mapped[str | None] = mapped_column(String(16))
    payment_ref: Mapped[str | None] = mapped_column(String(120))
    #: hand-delivered content of a manual item, encrypted like card codes
    manual_key_id: Mapped[str | None] = mapped_column(String(8))
    manual_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fulfil_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: when the delivery mail was taken by the mail server (the order page
    #: says a copy was mailed only then), and why the last try failed
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mail_error: Mapped[str | None] = mapped_column(String(200))
    fulfil_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class OrderEvent(TenantOwned, db.Model):
    """One transition: who or what moved the order, from where to where, when."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_tenant_order", "tenant_id", "order_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class Ticket(TenantOwned, db.Model):
    """An exception ticket (异常工单): an order the system could not finish."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_tenant_status", "tenant_id", "status", "created_at"),
        Index("ix_tickets_tenant_order", "tenant_id", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(40))  # out_of_stock | fulfilment_failed | ...
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | resolved
    resolution: Mapped[str | None] = mapped_column(String(20))  # retried | delivered | refunded
    actions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
