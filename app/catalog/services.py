"""Products: the rules of the catalogue (categories are in ``categories``,
the buyer's inputs in ``inputs``, pictures in ``images``).

Every function works in the current shop's context (the tenant guard filters
and checks every query) and commits its own transaction when it changes
something. Errors are ``KamengError``s with field ``errors`` where a field
is to blame.

- Kinds: ``card`` (codes from stock), ``topup`` (the buyer's account is
  credited; on sale only with at least one input field), ``manual``.
- Prices and costs are integers of the shop currency's minor units (分).
- What the public sees: only products ``on_sale``, and never ``cost``; the
  API chooses its schema, these functions choose the rows (``public=True``).
- ``stock`` of a card product is what a buyer can have now: available
  cards plus expired holds (``stock.sellable_stock``), plus what its
  sources (货源) last said they had (``app.supply.availability``; ``None``,
  not counted, when a source has not said); top-ups and manual items are
  not counted (``None``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from app.billing import limits
from app.catalog import images as image_store
from app.catalog import stock
from app.catalog.categories import list_categories
from app.catalog.inputs import clean_input_fields
from app.catalog.inputs import validate_inputs as validate_inputs  # checkout calls it here
from app.catalog.models import (
    KIND_CARD,
    KIND_TOPUP,
    PRODUCT_KINDS,
    PRODUCT_STATUSES,
    STATUS_DRAFT,
    STATUS_ON_SALE,
    Card,
    Category,
    Product,
    ProductImage,
)
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.ids import parse_uuid
from app.core.pagination import offset_of
from app.extensions import db
from app.supply.availability import sourced_stock_of

MAX_MONEY = 10**12  # minor units: far above any price, far below BIGINT
MAX_QUANTITY = 100_000
MAX_SORT = 1_000_000
STOREFRONT_LIMIT = 1_000
INVALID = "The request has invalid fields; see 'errors'."


# --- products ---------------------------------------------------------------


@dataclass(frozen=True)
class ProductView:
    """A product as shown: the row, the stock a buyer can have now (``None``
    when not counted) and its images. Reads through to the row's columns."""

    product: Product
    stock: int | None
    images: list[ProductImage] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        if name == "product":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.product, name)

    @property
    def sold_out(self) -> bool:
        return self.stock is not None and self.stock <= 0


def _views(
    products: list[Product],
    stocks: list[tuple] | None = None,
    pictures: dict[uuid.UUID, list[ProductImage]] | None = None,
) -> list[ProductView]:
    """Views of many products in a fixed number of queries. ``stocks``, when
    the products were read with ``_with_stock`` (one pair per product),
    saves the stock query: the products' counters are already loaded;
    ``pictures``, when read with them, saves the images query."""
    if stocks is None:
        shown = stock.sellable_stock([p.id for p in products if p.kind == KIND_CARD])
    else:
        shown = {
            p.id: shown_stock(p.stock_available, expired, sourced)
            for p, (expired, sourced) in zip(products, stocks, strict=True)
        }
    if pictures is None:
        pictures = image_store.images_of([p.id for p in products])
    return [
        ProductView(
            p,
            shown.get(p.id, 0) if p.kind == KIND_CARD else None,
            pictures.get(p.id, []),
        )
        for p in products
    ]


def shown_stock(available: int, expired: int | None, sourced: int | None) -> int | None:
    """Own sellable cards plus what the sources last said they had; None
    (not counted, never sold out) when a source has not said."""
    if sourced is None:
        return None
    return available + int(expired or 0) + int(sourced)


def _with_stock(query) -> tuple[list[Product], list[tuple]]:
    """Run a ``select(Product)`` with each product's expired holds and its
    sources' stock beside it (one query for rows and stock)."""
    rows = db.session.execute(
        query.add_columns(stock.expired_holds_of(Product.id), sourced_stock_of(Product.id)),
        execution_options={"populate_existing": True},
    ).all()
    return [row[0] for row in rows], [(row[1], row[2]) for row in rows]


def _product_query(product_id: uuid.UUID, *, public: bool = False):
    query = select(Product).where(Product.id == product_id)
    if public:
        query = query.where(Product.status == STATUS_ON_SALE)
    return query


def _find_product(product_id: uuid.UUID, *, public: bool = False) -> Product:
    product = db.session.scalar(_product_query(product_id, public=public))
    if product is None:
        raise NotFound("No such product.")
    return product


def get_product(product_id: uuid.UUID, *, public: bool = False) -> ProductView:
    """One product of the current shop; with ``public`` only if on sale
    (``NotFound`` otherwise, as for another shop's id). One query: the
    product, its stock and its images (a row per image) together."""
    rows = db.session.execute(
        _product_query(product_id, public=public)
        .add_columns(stock.expired_holds_of(Product.id), sourced_stock_of(Product.id), ProductImage)
        .outerjoin(ProductImage, ProductImage.product_id == Product.id)
        .order_by(ProductImage.sort, ProductImage.id),
        execution_options={"populate_existing": True},
    ).all()
    product, expired, sourced, images = product_rows(rows)
    return _views([product], [(expired, sourced)], {product.id: images})[0]


def product_rows(rows) -> tuple[Product, int | None, int | None, list[ProductImage]]:
    """A product read with its stock and images, a row per image (product,
    expired holds, sourced stock, image): the product, its two stock
    figures and its images. ``NotFound`` for no rows."""
    if not rows:
        raise NotFound("No such product.")
    product, expired, sourced = rows[0][0], rows[0][1], rows[0][2]
    return product, expired, sourced, [row[3] for row in rows if row[3] is not None]


def list_products(
    *,
    page: int = 1,
    per_page: int = 20,
    category_id: uuid.UUID | None = None,
    q: str | None = None,
    status: str | None = None,
    public: bool = False,
) -> tuple[list[ProductView], int]:
    """A page of products and the total that match, ordered by ``sort`` then
    age. ``category_id`` of a top category includes its children; ``q`` is a
    case-insensitive substring of the name (Chinese or English); ``public``
    keeps to products on sale and ignores ``status``. Constant query count."""
    conditions = []
    if public:
        conditions.append(Product.status == STATUS_ON_SALE)
    elif status:
        conditions.append(Product.status == status)
    if category_id is not None:
        family = select(Category.id).where(
            or_(Category.id == category_id, Category.parent_id == category_id)
        )
        conditions.append(Product.category_id.in_(db.session.scalars(family).all()))
    if q and q.strip():
        needle = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Product.name.ilike(f"%{needle}%", escape="\\"))
    total = db.session.scalar(select(func.count()).select_from(Product).where(*conditions)) or 0
    # The page's ids first, then their rows and stock: the stock count
    # beside each row is worked out for the page's rows only, where an
    # OFFSET over the rows themselves had it worked out for every row
    # skipped too (page 150 of a 10,000-product shop: 7,500 counts).
    on_page = (
        select(Product.id)
        .where(*conditions)
        .order_by(Product.sort, Product.id)
        .limit(per_page)
        .offset(offset_of(page, per_page))
    )
    products, expired = _with_stock(
        select(Product).where(Product.id.in_(on_page)).order_by(Product.sort, Product.id)
    )
    return _views(products, expired), total


@dataclass
class Section:
    """A block of the storefront: a category (``None``: uncategorised) and
    its products on sale. ``level`` 1 is a top category, 2 a child."""

    category: Category | None
    level: int
    products: list[ProductView]


def storefront_sections(
    categories: list[Category] | None = None, products: list[ProductView] | None = None
) -> list[Section]:
    """The shop's products on sale grouped by category in display order,
    empty categories left out, uncategorised products last. At most
    ``STOREFRONT_LIMIT`` products; a constant number of queries (none when
    the caller passes the categories, in display order, and the products on
    sale, in display order, that it read)."""
    if products is None:
        rows, expired = _with_stock(
            select(Product)
            .where(Product.status == STATUS_ON_SALE)
            .order_by(Product.sort, Product.id)
            .limit(STOREFRONT_LIMIT)
        )
        products = _views(rows, expired)
    by_category: dict[uuid.UUID | None, list[ProductView]] = {}
    for view in products:
        by_category.setdefault(view.category_id, []).append(view)
    blocks: list[list[Section]] = []  # a top category and its children
    for category in list_categories() if categories is None else categories:
        items = by_category.pop(category.id, [])
        if category.parent_id is None:
            blocks.append([Section(category, 1, items)])
        elif items:
            blocks[-1].append(Section(category, 2, items))
    sections = [s for block in blocks if len(block) > 1 or block[0].products for s in block]
    uncategorised = by_category.pop(None, [])
    if uncategorised:
        sections.append(Section(None, 1, uncategorised))
    return sections


_PRODUCT_FIELDS = (
    "name",
    "kind",
    "category_id",
    "description",
    "price",
    "cost",
    "min_quantity",
    "max_quantity",
    "status",
    "input_fields",
    "delivery_note",
    "low_stock_threshold",
    "sort",
)


_TEXT_LIMITS = {"name": 120, "description": 10_000, "delivery_note": 2_000}


def _int_problem(value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "Must be a whole number."
    if value < low:
        return "Must not be negative." if low == 0 else f"Must be at least {low}."
    if value > high:
        return f"Must be at most {high}."
    return None


def _money_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "Must be a whole number of minor units (1250 for 12.50), not a decimal or text."
    return _int_problem(value, 0, MAX_MONEY)


def _text_problem(value: Any, *, required: bool, limit: int) -> str | None:
    if not isinstance(value, str) or (required and not value.strip()):
        return "Give the product a name." if required else "Must be text."
    if len(value.strip()) > limit:
        return f"At most {limit} characters."
    return None


def _clean_product(data: Mapping[str, Any], product: Product | None) -> dict:
    """Checked, normalised column values for the given fields (all of them
    when creating), or ``ValidationFailed`` naming every bad field."""
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for key in data:
        if key not in _PRODUCT_FIELDS:
            errors[str(key)] = ["Unknown field."]
    if product is None:
        for key in ("name", "price"):
            if key not in data:
                errors[key] = ["Missing data for required field."]
    given = {k: v for k, v in data.items() if k in _PRODUCT_FIELDS}
    for key, value in given.items():
        if key in _TEXT_LIMITS:
            problem = _text_problem(value, required=key == "name", limit=_TEXT_LIMITS[key])
            value = value.strip() if problem is None else value
        elif key in ("price", "cost"):
            problem = _money_problem(value)
        elif key in ("min_quantity", "max_quantity"):
            problem = _int_problem(value, 1, MAX_QUANTITY)
        elif key == "low_stock_threshold":
            problem = _int_problem(value, 0, 1_000_000)
        elif key == "sort":
            problem = _int_problem(value, -MAX_SORT, MAX_SORT)
        elif key == "kind":
            problem = None if value in PRODUCT_KINDS else f"One of {', '.join(PRODUCT_KINDS)}."
        elif key == "status":
            problem = (
                None if value in PRODUCT_STATUSES else f"One of {', '.join(PRODUCT_STATUSES)}."
            )
        elif key == "category_id":
            problem = _category_problem(value)
        else:  # input_fields
            value, problem = clean_input_fields(value)
        if problem:
            errors[key] = problem if isinstance(problem, (dict, list)) else [problem]
        else:
            values[key] = value
    if "category_id" in values:
        values["category_id"] = parse_uuid(values["category_id"]) if values["category_id"] else None

    def final(key: str, default: Any) -> Any:
        if key in values:
            return values[key]
        return getattr(product, key) if product is not None else default

    low, high = final("min_quantity", 1), final("max_quantity", 100)
    if "min_quantity" not in errors and "max_quantity" not in errors and low > high:
        errors["max_quantity"] = ["Must be at least min_quantity."]
    if (
        final("kind", KIND_CARD) == KIND_TOPUP
        and final("status", STATUS_DRAFT) == STATUS_ON_SALE
        and not final("input_fields", [])
        and "input_fields" not in errors
    ):
        errors["input_fields"] = ["A top-up on sale needs at least one input (the account)."]
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


def _category_problem(value: Any) -> str | None:
    if value is None:
        return None
    category_id = parse_uuid(value) if isinstance(value, (str, uuid.UUID)) else None
    if category_id is None:
        return "Not a category id."
    if not db.session.scalar(select(Category.id).where(Category.id == category_id)):
        return "No such category."
    return None


def _has_cards(product_id: uuid.UUID) -> bool:
    return bool(db.session.scalar(select(Card.id).where(Card.product_id == product_id).limit(1)))


def check_product(data: Mapping[str, Any], product_id: uuid.UUID | None = None) -> None:
    """Judge ``data`` as ``create_product`` (or, with ``product_id``,
    ``update_product``) would, and write nothing: ``ValidationFailed``
    naming every bad field, or nothing. A form that could not read some of
    its fields asks this about the rest, to show every problem at once."""
    _clean_product(data, _find_product(product_id) if product_id is not None else None)


def create_product(data: Mapping[str, Any]) -> ProductView:
    """Add a product from its fields (``name`` and ``price`` required; a new
    product is a ``card`` product in ``draft`` unless told). Commits.
    ``PlanLimitReached`` when the shop's plan allows no more products."""
    values = _clean_product(data, None)
    limits.check("products")
    product = Product(**values)
    db.session.add(product)
    db.session.commit()
    return _views([product])[0]


def update_product(product_id: uuid.UUID, data: Mapping[str, Any]) -> ProductView:
    """Change the given fields. A card product that holds cards keeps its
    kind (409). Commits."""
    product = _find_product(product_id)
    values = _clean_product(data, product)
    if values.get("kind", product.kind) != product.kind and _has_cards(product.id):
        raise Conflict(
            "This product holds card stock, so its kind cannot change.",
            message=_l("This product holds card stock, so its kind cannot change."),
        )
    for key, value in values.items():
        setattr(product, key, value)
    db.session.commit()
    return _views([product])[0]


_HAS_HISTORY = (
    "This product has card stock or sales history; set it off sale instead of deleting it."
)
_HAS_HISTORY_PAGE = _l(
    "This product has card stock or sales history; set it off sale instead of deleting it."
)


def delete_product(product_id: uuid.UUID) -> None:
    """Delete a product with its images; 409 once it has cards (sold or not:
    they are history), so set it off sale instead. Commits, then removes the
    image files."""
    product = _find_product(product_id)
    if _has_cards(product.id):
        raise Conflict(_HAS_HISTORY, message=_HAS_HISTORY_PAGE)
    pictures = image_store.images_of([product.id]).get(product.id, [])
    files = [image_store.image_path(picture) for picture in pictures]
    db.session.execute(delete(ProductImage).where(ProductImage.product_id == product.id))
    db.session.delete(product)
    try:
        db.session.commit()
    except IntegrityError as exc:  # cards imported since the check
        db.session.rollback()
        raise Conflict(_HAS_HISTORY, message=_HAS_HISTORY_PAGE) from exc
    image_store.remove_files(files)
