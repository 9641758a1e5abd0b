"""What an operator should restock now, and whether the shop can sell at all
(the dashboard's stock list and its getting-started checklist).

Read-only, in the current shop's context. Stock is what a buyer can have
now (``stock.sellable_stock``: available cards plus holds past their time,
plus what the product's sources last said they had: a docked product whose
sources have stock is not one to restock);
only card products on sale are counted (top-ups and hand-fulfilled items
have no stock to run out of).

- sold out: no stock at all;
- low: some stock, at or under the product's own ``low_stock_threshold``
  (a threshold of 0 means the operator asked for no warning).

Each list is a page read in the database (``LIMIT``) with its total: a shop
of 10,000 products loads at most ``limit`` of them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Product
from app.catalog.stock import expired_holds_of
from app.extensions import db
from app.supply.availability import sourced_stock_of


@dataclass(frozen=True)
class StockLine:
    product_id: uuid.UUID
    name: str
    stock: int
    threshold: int


@dataclass(frozen=True)
class StockWatch:
    """Products to restock: the first ``limit`` of each list and the totals."""

    low: list[StockLine] = field(default_factory=list)
    low_total: int = 0
    sold_out: list[StockLine] = field(default_factory=list)
    sold_out_total: int = 0


def _sellable():
    # What the storefront shows: own cards plus the sources' last synced
    # stock; NULL (a source that has not said) matches neither list.
    return Product.stock_available + expired_holds_of(Product.id) + sourced_stock_of(Product.id)


def stock_watch(limit: int = 10) -> StockWatch:
    """The current shop's card products on sale that are low or sold out,
    fewest first. Four queries (two lists, two counts)."""
    on_sale_cards = (Product.kind == KIND_CARD, Product.status == STATUS_ON_SALE)
    sellable = _sellable()
    # ``stock_available`` is never above what is sellable: testing it first
    # lets the database skip the correlated count for well-stocked products.
    sold_out = (*on_sale_cards, Product.stock_available == 0, sellable == 0)
    low = (
        *on_sale_cards,
        Product.low_stock_threshold > 0,
        Product.stock_available <= Product.low_stock_threshold,
        sellable > 0,
        sellable <= Product.low_stock_threshold,
    )

    def page(where) -> tuple[list[StockLine], int]:
        total = db.session.scalar(select(func.count(Product.id)).where(*where)) or 0
        rows = db.session.execute(
            select(Product.id, Product.name, sellable, Product.low_stock_threshold)
            .where(*where)
            .order_by(Product.stock_available, Product.name, Product.id)
            .limit(limit)
        ).all()
        return [StockLine(i, name, int(n or 0), t) for i, name, n, t in rows], int(total)

    low_rows, low_total = page(low)
    sold_rows, sold_total = page(sold_out)
    return StockWatch(low_rows, low_total, sold_rows, sold_total)


def selling_readiness() -> tuple[bool, bool]:
    """Whether the current shop has a product on sale, and whether one of
    them can be delivered now: a card product with stock, or a top-up or
    hand-fulfilled item (no stock to hold). Two one-row queries."""

    def any_product(*where) -> bool:
        return db.session.scalar(select(Product.id).where(*where).limit(1)) is not None

    on_sale = any_product(Product.status == STATUS_ON_SALE)
    deliverable = on_sale and any_product(
        Product.status == STATUS_ON_SALE,
        or_(Product.kind != KIND_CARD, Product.stock_available > 0),
    )
    return on_sale, deliverable
