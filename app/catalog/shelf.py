"""A page of products on sale in one statement: what the storefront's list
pages and the public product list show; and a product page's product in
one statement too.

One SELECT gives the page's products, each with its stock (expired holds
and its sources' stock beside the row), its images (a row per image), the
total that match (a count subquery beside the page's ids, worked out once)
and, on one row, the price rules that may touch them
(``app.pricing.rules.rules_touching``); a page past the last one is a
single row with the total and no product. A product page's
statement is the same without the paging: the product on sale, its stock,
its images and its rules.

The statements are built once per process, one per filter (none, a
category and its children, a search of the name), with bind parameters for
every value, so a request compiles nothing: SQLAlchemy's compiled cache
holds each after its first use. They are ORM statements on tenant-owned
models, so the tenant guard binds the current shop into every table they
read. Reads only, in the current shop's context.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Integer, String, Uuid, bindparam, case, func, or_, select, true

from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Category, Product, ProductImage
from app.catalog.services import ProductView, product_rows, shown_stock
from app.catalog.stock import expired_holds_of
from app.core.dates import UTCDateTime
from app.core.pagination import offset_of
from app.extensions import db
from app.pricing.quote import Rule
from app.pricing.rules import rules_from_rows, rules_touching
from app.supply.availability import sourced_stock_of
from tenants.guard import built_once


@dataclass(frozen=True)
class Shelf:
    """A page of products on sale (``ProductView``s in display order), the
    ``total`` that match and the price ``rules`` that may touch them."""

    items: list[ProductView]
    total: int
    rules: list[Rule]


def _escaped(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, ``%`` and ``_`` as letters."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@functools.cache
def _statements(by_category: bool, by_name: bool):
    """The page statement for one filter."""
    conditions = [Product.status == STATUS_ON_SALE]
    if by_category:
        wanted = bindparam("category_id", type_=Uuid())
        family = select(Category.id).where(or_(Category.id == wanted, Category.parent_id == wanted))
        conditions.append(Product.category_id.in_(family))
    if by_name:
        conditions.append(Product.name.ilike(bindparam("needle", type_=String()), escape="\\"))
    count = select(func.count()).select_from(Product).where(*conditions)
    # The total as a subquery worked out once (an index-only count), not as
    # ``count(*) over ()``, which buffers every matching row to count them;
    # its one row is the statement's first table, so a page past the last
    # still answers it (one row with no product).
    totals = select(count.scalar_subquery().label("total")).cte("totals")
    page = (
        select(Product.id)
        .where(*conditions)
        .order_by(Product.sort, Product.id)
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("offset", type_=Integer()))
        .cte("page")
    )
    rules = case((func.row_number().over() == 1, rules_touching(select(page.c.id))))
    return built_once(
        select(
            Product,
            expired_holds_of(Product.id, bindparam("now", type_=UTCDateTime())),
            sourced_stock_of(Product.id),
            totals.c.total,
            ProductImage,
            rules,
        )
        .select_from(totals)
        .outerjoin(page, true())
        .outerjoin(Product, Product.id == page.c.id)
        .outerjoin(ProductImage, ProductImage.product_id == Product.id)
        .order_by(Product.sort, Product.id, ProductImage.sort, ProductImage.id)
    )


def shelf(
    *,
    page: int,
    per_page: int,
    category_id: uuid.UUID | None = None,
    q: str | None = None,
) -> Shelf:
    """A page of the current shop's products on sale in display order:
    ``category_id`` of a top category includes its children's; ``q`` is a
    case-insensitive substring of the name. One statement."""
    text = (q or "").strip()
    statement = _statements(category_id is not None, bool(text))
    params: dict = {"limit": per_page, "offset": offset_of(page, per_page)}
    if category_id is not None:
        params["category_id"] = category_id
    if text:
        params["needle"] = _escaped(text)
    rows = db.session.execute(
        statement,
        {**params, "now": datetime.now(UTC)},
        execution_options={"populate_existing": True},
    ).all()
    products: list[Product] = []
    stocks: dict[uuid.UUID, tuple] = {}
    pictures: dict[uuid.UUID, list[ProductImage]] = {}
    total = 0
    found_rules = None
    for product, expired, sourced, count, image, rules in rows:
        total = count
        if product is None:  # a page past the last: the total alone
            continue
        if product.id not in stocks:
            products.append(product)
            stocks[product.id] = (expired, sourced)
            pictures[product.id] = []
        if image is not None:
            pictures[product.id].append(image)
        if rules is not None:
            found_rules = rules
    items = [
        ProductView(
            p,
            shown_stock(p.stock_available, *stocks[p.id]) if p.kind == KIND_CARD else None,
            pictures[p.id],
        )
        for p in products
    ]
    return Shelf(items, int(total), rules_from_rows(found_rules))


@functools.cache
def _product_statement():
    wanted = bindparam("product_id", type_=Uuid())
    rules = case((func.row_number().over() == 1, rules_touching([wanted])))
    return built_once(
        select(
            Product,
            expired_holds_of(Product.id, bindparam("now", type_=UTCDateTime())),
            sourced_stock_of(Product.id),
            ProductImage,
            rules,
        )
        .where(Product.id == wanted, Product.status == STATUS_ON_SALE)
        .outerjoin(ProductImage, ProductImage.product_id == Product.id)
        .order_by(ProductImage.sort, ProductImage.id)
    )


def product_on_sale(product_id: uuid.UUID) -> tuple[ProductView, list[Rule]]:
    """The current shop's product ``product_id`` if it is on sale, with its
    stock and images, and the price rules that may touch it; ``NotFound``
    otherwise (another shop's id too). One statement."""
    rows = db.session.execute(
        _product_statement(),
        {"product_id": product_id, "now": datetime.now(UTC)},
        execution_options={"populate_existing": True},
    ).all()
    product, expired, sourced, images = product_rows(rows)
    found_rules = next((row[4] for row in rows if row[4] is not None), None)
    stock = shown_stock(product.stock_available, expired, sourced)
    view = ProductView(product, stock if product.kind == KIND_CARD else None, images)
    return view, rules_from_rows(found_rules)
