"""What a buyer browses (the storefront's reads): the category tree that
every theme's navigation shows, the home page, a category's page and the
search over product names.

Only products on sale are shown, never their cost; the rows are those of
``services`` (``ProductView``: the product, its stock a buyer can have now,
its images), each with the price of the viewer's ``audience``
(``app.pricing.shown.Priced``: a guest's, an agent's tier price, a
sub-shop's). Every function works in the current shop's context, reads
only, and takes a fixed number of queries whatever the shop's size: lists
are paged in the database (``app.catalog.shelf``: a page of products, their
stock, images, total and price rules in one statement), and a page with
the navigation reads the category tree, with its counts, once: two
statements a list page, one a product page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from app.catalog import services
from app.catalog.categories import categories_with_counts
from app.catalog.models import Category
from app.catalog.shelf import product_on_sale, shelf
from app.core.errors import NotFound
from app.core.pagination import Pager
from app.pricing.rules import RETAIL, Audience
from app.pricing.shown import Priced, priced

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


def category_tree(counted: list[tuple[Category, int]] | None = None) -> list[CategoryNode]:
    """The shop's categories that have a product on sale (directly or in a
    child), as a two-level tree in display order. One query, none when the
    caller passes what ``categories_with_counts`` read."""
    tops: list[CategoryNode] = []
    for category, own in categories_with_counts() if counted is None else counted:
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
    products on sale grouped by category, each ``Priced``) and the
    navigation tree."""

    sections: list[services.Section]
    categories: list[CategoryNode]


def _parents(counted: list[tuple[Category, int]]) -> dict:
    """Category id → parent id, for category price rules (saves their query)."""
    return {category.id: category.parent_id for category, _ in counted}


def home_page(audience: Audience = RETAIL) -> HomePage:
    """What the shop's home page shows, at ``audience``'s prices. Two
    statements: the category tree, and the products (at most
    ``services.STOREFRONT_LIMIT``) with their stock, images and rules."""
    counted = categories_with_counts()
    found = shelf(page=1, per_page=services.STOREFRONT_LIMIT)
    sections = services.storefront_sections([category for category, _ in counted], found.items)
    shown = iter(
        priced(
            [p for s in sections for p in s.products],
            audience,
            rules=found.rules,
            parents=_parents(counted),
        )
    )
    sections = [
        services.Section(s.category, s.level, [next(shown) for _ in s.products]) for s in sections
    ]
    return HomePage(sections, category_tree(counted))


def product_page(product_id: uuid.UUID, audience: Audience = RETAIL) -> Priced:
    """A product on sale at ``audience``'s price; ``NotFound`` unless it is
    this shop's and on sale. One statement (the product, its stock, images
    and price rules); one more only when a category rule needs the tree."""
    view, rules = product_on_sale(product_id)
    return priced([view], audience, rules=rules)[0]


@dataclass(frozen=True)
class ProductList:
    """One page of products on sale, with what the page around it needs:
    the navigation ``categories``; for a category's page the ``category``,
    its ``parent`` (a child's top category) and its ``children`` that have
    products; for a search, ``query`` (``problem`` when it was refused)."""

    items: list[Priced]
    pager: Pager
    categories: list[CategoryNode]
    category: Category | None = None
    parent: CategoryNode | None = None
    children: list[CategoryNode] = field(default_factory=list)
    query: str = ""
    #: why a search found nothing without looking: ``too-long``
    problem: str | None = None


def category_page(
    category_id: uuid.UUID, *, page: int, per_page: int, audience: Audience = RETAIL
) -> ProductList:
    """A page of the category's products on sale (a top category's include
    its children's), in display order. ``NotFound`` for an id that is not
    one of this shop's categories; an empty category is shown empty (a link
    to it may be older than its last product). Two statements: the tree
    (which holds the category itself) and the page."""
    counted = categories_with_counts()
    category = next((c for c, _ in counted if c.id == category_id), None)
    if category is None:
        raise NotFound("No such category.")
    tree = category_tree(counted)
    found = shelf(page=page, per_page=per_page, category_id=category.id)
    items = priced(found.items, audience, rules=found.rules, parents=_parents(counted))
    parent = None
    children: list[CategoryNode] = []
    for node in tree:
        if node.id == category.id:
            children = node.children
        elif node.id == category.parent_id:
            parent = node
    return ProductList(items, Pager(page, per_page, found.total), tree, category, parent, children)


def search_products(
    query: str | None, *, page: int, per_page: int, audience: Audience = RETAIL
) -> ProductList:
    """A page of the products on sale whose name contains ``query`` (any
    case, Chinese or English), in display order. A blank query finds
    nothing; one longer than ``MAX_SEARCH`` characters is refused
    (``problem`` says so) rather than cut."""
    text = (query or "").strip()
    counted = categories_with_counts()
    tree = category_tree(counted)
    if not text or len(text) > MAX_SEARCH:
        problem = "too-long" if len(text) > MAX_SEARCH else None
        return ProductList([], Pager(1, per_page, 0), tree, query=text, problem=problem)
    found = shelf(page=page, per_page=per_page, q=text)
    items = priced(found.items, audience, rules=found.rules, parents=_parents(counted))
    return ProductList(items, Pager(page, per_page, found.total), tree, query=text)


def public_products(
    *,
    page: int,
    per_page: int,
    category_id: uuid.UUID | None = None,
    q: str | None = None,
    audience: Audience = RETAIL,
) -> tuple[list[Priced], int]:
    """A page of the products on sale (the public product list of the API)
    at ``audience``'s prices, and the total that match: ``category_id`` of a
    top category includes its children's, ``q`` searches the name. One
    statement (one more only when a category price rule needs the tree)."""
    found = shelf(page=page, per_page=per_page, category_id=category_id, q=q)
    return priced(found.items, audience, rules=found.rules), found.total
