"""Categories: two levels, ordered, never deleted while they hold anything.

A top category (``parent_id`` null) may have children; a child's parent is
a top category and a category with children stays on top. Lists come in
display order: each top category by ``sort`` then name, followed by its
children. Every function works in the current shop's context and commits
its own change; errors are ``KamengError``s, with field ``errors`` where a
field is to blame.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.catalog.models import Category, Product
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.ids import parse_uuid
from app.extensions import db

MAX_SORT = 1_000_000
INVALID = "The request has invalid fields; see 'errors'."


def get_category(category_id: uuid.UUID) -> Category:
    """The current shop's category; ``NotFound`` for any other id."""
    category = db.session.scalar(select(Category).where(Category.id == category_id))
    if category is None:
        raise NotFound("No such category.")
    return category


def list_categories() -> list[Category]:
    """Every category of the shop, in display order: each top category
    (by ``sort``, then name) followed by its children (likewise)."""
    rows = db.session.scalars(
        select(Category).order_by(Category.sort, Category.name, Category.id)
    ).all()
    return _in_display_order(rows)


def categories_with_counts() -> list[tuple[Category, int]]:
    """Every category in display order with how many of its own products
    are on sale (children's not included): one query, for the storefront's
    navigation and sections."""
    from app.catalog.models import STATUS_ON_SALE

    on_sale = (
        select(func.count(Product.id))
        .where(Product.category_id == Category.id, Product.status == STATUS_ON_SALE)
        .correlate(Category)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Category, on_sale).order_by(Category.sort, Category.name, Category.id)
    ).all()
    counts = {category.id: int(count or 0) for category, count in rows}
    return [(c, counts[c.id]) for c in _in_display_order([row[0] for row in rows])]


def _in_display_order(rows) -> list[Category]:
    children: dict[uuid.UUID, list[Category]] = {}
    for row in rows:
        if row.parent_id is not None:
            children.setdefault(row.parent_id, []).append(row)
    ordered: list[Category] = []
    for row in rows:
        if row.parent_id is None:
            ordered.append(row)
            ordered.extend(children.get(row.id, []))
    return ordered


def _clean_category(data: Mapping[str, Any], category: Category | None) -> dict:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for key in data:
        if key not in ("name", "parent_id", "sort"):
            errors[str(key)] = ["Unknown field."]
    if "name" in data or category is None:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["Give the category a name."]
        elif len(name.strip()) > 80:
            errors["name"] = ["At most 80 characters."]
        else:
            values["name"] = name.strip()
    if "sort" in data:
        sort = data["sort"]
        if isinstance(sort, bool) or not isinstance(sort, int) or abs(sort) > MAX_SORT:
            errors["sort"] = [f"A whole number from -{MAX_SORT} to {MAX_SORT}."]
        else:
            values["sort"] = sort
    if data.get("parent_id") is not None:
        problem = _parent_problem(data["parent_id"], category)
        if problem:
            errors["parent_id"] = [problem]
        else:
            values["parent_id"] = parse_uuid(data["parent_id"])
    elif "parent_id" in data:
        values["parent_id"] = None
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


def _parent_problem(raw: Any, category: Category | None) -> str | None:
    parent_id = parse_uuid(raw) if isinstance(raw, (str, uuid.UUID)) else None
    if parent_id is None:
        return "Not a category id."
    if category is not None and parent_id == category.id:
        return "A category cannot be its own parent."
    parent = db.session.scalar(select(Category).where(Category.id == parent_id))
    if parent is None:
        return "No such category."
    if parent.parent_id is not None:
        return "Categories have two levels: choose a top category as the parent."
    if category is not None and db.session.scalar(
        select(Category.id).where(Category.parent_id == category.id).limit(1)
    ):
        return "This category has subcategories, so it stays a top category."
    return None


def create_category(data: Mapping[str, Any]) -> Category:
    """Add a category (``name``; optional ``parent_id`` of a top category,
    ``sort``). Commits."""
    category = Category(**{"sort": 0, **_clean_category(data, None)})
    db.session.add(category)
    db.session.commit()
    return category


def update_category(category_id: uuid.UUID, data: Mapping[str, Any]) -> Category:
    """Change the given fields of a category (``parent_id: null`` makes it a
    top category). Commits."""
    category = get_category(category_id)
    for key, value in _clean_category(data, category).items():
        setattr(category, key, value)
    db.session.commit()
    return category


def delete_category(category_id: uuid.UUID) -> None:
    """Delete an empty category; 409 while it has children or products. Commits."""
    category = get_category(category_id)
    if db.session.scalar(select(Category.id).where(Category.parent_id == category.id).limit(1)):
        raise Conflict(
            "This category has subcategories: move or delete them first.",
            message=_l("This category has subcategories: move or delete them first."),
        )
    count = db.session.scalar(
        select(func.count(Product.id)).where(Product.category_id == category.id)
    )
    if count:
        raise Conflict(
            f"This category holds {count} product(s): move them to another category first.",
            message=_l(
                "This category holds %(n)s products: move them to another category first.",
                n=count,
            ),
            products=count,
        )
    db.session.delete(category)
    db.session.commit()


def product_counts() -> dict[uuid.UUID | None, int]:
    """How many products each category holds directly (``None``: products
    with no category), in one grouped query."""
    return dict(
        db.session.execute(
            select(Product.category_id, func.count()).group_by(Product.category_id)
        ).all()
    )


def move_category(category_id: uuid.UUID, up: bool) -> Category:
    """Move a category one place up or down among its siblings (the top
    categories, or one parent's children). The siblings are renumbered
    10, 20, 30 … in their new order, so equal ``sort`` values (the default)
    order predictably from then on. At the first or last place it stays.
    Commits."""
    category = get_category(category_id)
    siblings = list(
        db.session.scalars(
            select(Category)
            .where(
                Category.parent_id.is_(None)
                if category.parent_id is None
                else Category.parent_id == category.parent_id
            )
            .order_by(Category.sort, Category.name, Category.id)
        ).all()
    )
    index = siblings.index(category)
    other = index - 1 if up else index + 1
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings, start=1):
        sibling.sort = position * 10
    db.session.commit()
    return category
