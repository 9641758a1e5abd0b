"""What a buyer browses (the storefront's reads): the category tree that
every theme's navigation shows, the home page, a category's page and the
search over product names.

Only products on sale are shown, never their cost; the rows are those of
``services`` (``ProductView``: the product, its stock a buyer can have now,
its images). Every function works in the current shop's context, reads
only, and takes a fixed number of queries whatever the shop's size: lists
are paged in the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.catalog import services
from app.catalog.categories import get_category, list_categories
from app.catalog.models import STATUS_ON_SALE, Category, Product
from app.core.pagination import Pager
from app.extensions import db

#: Longest search a buyer may type; a longer one is refused, not cut.
MAX_SEARCH = 100


@dataclass(frozen=True)
class CategoryNode:
    """A category in the navigation: ``count`` is its products on sale (a
    top category's includes its children's); ``children`` are in display
    order."""

    category: Category
    count: int
    children: list[CategoryNode] = field(default_factory=list)

    @property
    def id(self) -> uuid.UUID:
        return self.category.id

    @property
    def name(self) -> str:
        return self.category.name


def category_tree() -> list[CategoryNode]:
    """The shop's categories that have a product on sale (directly or in a
    child), as a two-level tree in display order. Two queries."""
    counts = dict(
        db.session.execute(
            select(Product.category_id, func.count(Product.id))
            .where(Product.status == STATUS_ON_SALE, Product.category_id.is_not(None))
            .group_by(Product.category_id)
        ).all()
    )
    tops: list[CategoryNode] = []
    for category in list_categories():
        own = int(counts.get(category.id, 0))
        if category.parent_id is None:
            tops.append(CategoryNode(category, own))
        elif own and tops and tops[-1].category.id == category.parent_id:
            parent = tops[-1]
            parent.children.append(CategoryNode(category, own))
            tops[-1] = CategoryNode(parent.category, parent.count + own, parent.children)
    return [node for node in tops if node.count]


@dataclass(frozen=True)
class HomePage:
    """The home page: ``sections`` (``services.storefront_sections``: the
    products on sale grouped by category) and the navigation tree."""

    sections: list[services.Section]
    categories: list[CategoryNode]


def home_page() -> HomePage:
    """What the shop's home page shows. A fixed number of queries."""
    return HomePage(services.storefront_sections(), category_tree())


@dataclass(frozen=True)
class ProductList:
    """One page of products on sale, with what the page around it needs:
    the navigation ``categories``; for a category's page the ``category``,
    its ``parent`` (a child's top category) and its ``children`` that have
    products; for a search, ``query`` (``problem`` when it was refused)."""

    items: list[services.ProductView]
    pager: Pager
    categories: list[CategoryNode]
    category: Category | None = None
    parent: CategoryNode | None = None
    children: list[CategoryNode] = field(default_factory=list)
    query: str = ""
    #: why a search found nothing without looking: ``too-long``
    problem: str | None = None


def category_page(category_id: uuid.UUID, *, page: int, per_page: int) -> ProductList:
    """A page of the category's products on sale (a top category's include
    its children's), in display order. ``NotFound`` for an id that is not
    one of this shop's categories; an empty category is shown empty (a link
    to it may be older than its last product)."""
    category = get_category(category_id)
    tree = category_tree()
    items, total = services.list_products(
        page=page, per_page=per_page, category_id=category.id, public=True
    )
    parent = None
    children: list[CategoryNode] = []
    for node in tree:
        if node.id == category.id:
            children = node.children
        elif node.id == category.parent_id:
            parent = node
    return ProductList(items, Pager(page, per_page, total), tree, category, parent, children)


def search_products(query: str | None, *, page: int, per_page: int) -> ProductList:
    """A page of the products on sale whose name contains ``query`` (any
    case, Chinese or English), in display order. A blank query finds
    nothing; one longer than ``MAX_SEARCH`` characters is refused
    (``problem`` says so) rather than cut."""
    text = (query or "").strip()
    tree = category_tree()
    if not text or len(text) > MAX_SEARCH:
        problem = "too-long" if len(text) > MAX_SEARCH else None
        return ProductList([], Pager(1, per_page, 0), tree, query=text, problem=problem)
    items, total = services.list_products(page=page, per_page=per_page, q=text, public=True)
    return ProductList(items, Pager(page, per_page, total), tree, query=text)
