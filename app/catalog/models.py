"""Categories, products, card stock, imports and stock alerts.

Prices are integer minor units of the shop's currency. A product's
``stock_available`` counts its cards in status ``available``; it moves only
in ``catalog/stock.py``, in the same transaction as the cards it counts.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
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

KIND_CARD = "card"
KIND_TOPUP = "topup"
KIND_MANUAL = "manual"
PRODUCT_KINDS = (KIND_CARD, KIND_TOPUP, KIND_MANUAL)

STATUS_DRAFT = "draft"
STATUS_ON_SALE = "on_sale"
STATUS_OFF_SALE = "off_sale"
PRODUCT_STATUSES = (STATUS_DRAFT, STATUS_ON_SALE, STATUS_OFF_SALE)

CARD_AVAILABLE = "available"
CARD_RESERVED = "reserved"
CARD_SOLD = "sold"
CARD_VOID = "void"
CARD_STATUSES = (CARD_AVAILABLE, CARD_RESERVED, CARD_SOLD, CARD_VOID)


def _now_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), server_default=func.now())


class Category(TenantOwned, db.Model):
    """Two levels: a top category (``parent_id`` null) and its children."""

    __tablename__ = "categories"
    __table_args__ = (Index("ix_categories_tenant_parent_sort", "tenant_id", "parent_id", "sort"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("categories.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(80))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now_column()


class Product(TenantOwned, db.Model):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_tenant_status_category", "tenant_id", "status", "category_id"),
        # The storefront's listing order: a page of a big shop is read from
        # the index instead of sorting every product on sale.
        Index("ix_products_tenant_status_sort", "tenant_id", "status", "sort", "id"),
        # The console lists every status in the same order.
        Index("ix_products_tenant_sort", "tenant_id", "sort", "id"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("cost >= 0", name="cost_not_negative"),
        CheckConstraint("stock_available >= 0", name="stock_not_negative"),
        CheckConstraint(
            "min_quantity >= 1 AND max_quantity >= min_quantity", name="quantity_range"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("categories.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(8), default=KIND_CARD)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[int] = mapped_column(BigInteger, default=0)
    min_quantity: Mapped[int] = mapped_column(Integer, default=1)
    max_quantity: Mapped[int] = mapped_column(Integer, default=100)
    status: Mapped[str] = mapped_column(String(8), default=STATUS_DRAFT)
    input_fields: Mapped[list] = mapped_column(JSON, default=list)
    delivery_note: Mapped[str] = mapped_column(Text, default="")
    low_stock_threshold: Mapped[int] = mapped_column(Integer, default=0)
    stock_available: Mapped[int] = mapped_column(Integer, default=0)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )


class ProductImage(TenantOwned, db.Model):
    """An uploaded picture; the file lives under ``instance/uploads/``."""

    __tablename__ = "product_images"
    __table_args__ = (Index("ix_product_images_tenant_product", "tenant_id", "product_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE")
    )
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now_column()


class Card(TenantOwned, db.Model):
    """One code of stock. ``secret`` is AES-GCM ciphertext (see core.crypto);
    ``fingerprint`` is its keyed hash, unique per shop."""

    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("tenant_id", "fingerprint"),
        Index("ix_cards_tenant_product_status", "tenant_id", "product_id", "status"),
        # A product's codes, newest first (the console's stock page), read
        # from the product's own entries instead of walking every code.
        Index("ix_cards_tenant_product_id", "tenant_id", "product_id", "id"),
        Index("ix_cards_tenant_order", "tenant_id", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="RESTRICT")
    )
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(10), default=CARD_AVAILABLE)
    key_id: Mapped[str] = mapped_column(String(8))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32))
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reserved_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _now_column()


class CardImport(TenantOwned, db.Model):
    """One upload of codes, with its report. Large uploads run as a job;
    the raw bytes are kept here only until the job has read them."""

    __tablename__ = "card_imports"
    __table_args__ = (Index("ix_card_imports_tenant_product", "tenant_id", "product_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued|running|done|failed
    filename: Mapped[str | None] = mapped_column(String(255))
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = _now_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StockAlert(TenantOwned, db.Model):
    """A product crossed its low-stock threshold or sold out."""

    __tablename__ = "stock_alerts"
    __table_args__ = (Index("ix_stock_alerts_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    product_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(10))  # low | sold_out
    stock: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
