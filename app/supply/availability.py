"""How much of a card product its sources (货源) can supply, as the last
stock sync saw it: what checkout may sell beyond the shop's own cards, and
what the storefront adds to the stock it shows.

A source counts when it is enabled and its supplier is active (routing's
``usable_sources``). Its ``stock`` is the last synced count; ``None`` (never
synced, or a supplier that does not count) is unknown and treated as
available: routing finds out at the purchase, and a source that cannot
deliver fails over or opens a ticket as usual.

Read-only, in the current shop's context (the tenant guard filters every
query here).
"""

from __future__ import annotations

import uuid

from sqlalchemy import case, func, select

from app.extensions import db
from app.supply.models import SUPPLIER_ACTIVE, ProductSource, Supplier


def _usable(product_id_column):
    return (
        ProductSource.product_id == product_id_column,
        ProductSource.enabled.is_(True),
        Supplier.status == SUPPLIER_ACTIVE,
    )


def sourced_stock_of(product_id_column):
    """A correlated scalar to select beside product rows: the sum of the
    product's usable sources' last synced stock; 0 without a usable source;
    NULL when one of them has not said (unknown: not counted, never shown
    as sold out). Lets a page read products and their stock in one query."""
    unknown = func.sum(case((ProductSource.stock.is_(None), 1), else_=0))
    return (
        select(case((unknown > 0, None), else_=func.coalesce(func.sum(ProductSource.stock), 0)))
        .select_from(ProductSource)
        .join(Supplier, Supplier.id == ProductSource.supplier_id)
        .where(*_usable(product_id_column))
        .correlate_except(ProductSource, Supplier)
        .scalar_subquery()
    )


def sources_can_cover(product_id: uuid.UUID, shortfall: int) -> bool:
    """Whether the product's usable sources, by their last synced stock,
    can supply ``shortfall`` items (a source of unknown stock can). One
    query; False without a usable source."""
    usable, counted, total = db.session.execute(
        select(
            func.count(ProductSource.id),
            func.count(ProductSource.stock),
            func.coalesce(func.sum(ProductSource.stock), 0),
        )
        .join(Supplier, Supplier.id == ProductSource.supplier_id)
        .where(*_usable(product_id))
    ).one()
    if not usable:
        return False
    return counted < usable or int(total) >= shortfall
