"""The operator's price rules (价格规则): a fixed unit price or a percent
off, for a product, a category or the whole shop, for a tier or everyone,
from a quantity, within a window, at a priority.

As ``app.pricing.admin`` for tiers: the API and the console call these
functions; each works in the current shop, names each bad field, commits
with its audit row and keeps the shop within ``MAX_PRICE_RULES``. What a
rule does to a price is ``app.pricing.quote``'s business; here a rule is
only stored, and ``stage_of_rule`` says which of quote's stages it falls in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.audit import services as audit
from app.catalog.models import Category, Product
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.ids import parse_uuid
from app.core.pagination import offset_of
from app.extensions import db
from app.pricing import checks
from app.pricing.checks import INVALID, Refused
from app.pricing.models import MAX_PRICE_RULES, AgentTier, PriceRule
from app.pricing.quote import Rule, stage_of

RULE_FIELDS = (
    "product_id",
    "category_id",
    "tier_id",
    "price",
    "percent_off",
    "min_quantity",
    "starts_at",
    "ends_at",
    "priority",
    "allow_below_cost",
)

_RULE_CHECKS = {
    "product_id": lambda v: checks.row_id(v, Product, "product"),
    "category_id": lambda v: checks.row_id(v, Category, "category"),
    "tier_id": lambda v: checks.row_id(v, AgentTier, "agent tier"),
    "price": lambda v: None if v is None else checks.money(v),
    "percent_off": lambda v: None if v is None else checks.whole(v, 1, 100),
    "min_quantity": lambda v: checks.whole(v, 1, checks.MAX_QUANTITY),
    "starts_at": checks.moment,
    "ends_at": checks.moment,
    "priority": lambda v: checks.whole(v, -checks.MAX_PRIORITY, checks.MAX_PRIORITY),
    "allow_below_cost": checks.flag,
}


def _clean_rule(data: Mapping[str, Any], rule: PriceRule | None) -> dict:
    errors: dict[str, Any] = checks.unknown_fields(data, RULE_FIELDS)
    values: dict[str, Any] = {}
    for key, check in _RULE_CHECKS.items():
        if key in data:
            try:
                values[key] = check(data[key])
            except Refused as why:
                errors[key] = [str(why)]
    if not {"product_id", "category_id"} & errors.keys():
        product, category = checks.either_of(values, rule, "product_id", "category_id")
        if product is not None and category is not None:
            errors["category_id"] = ["Choose a product or a category, not both."]
        values["product_id"], values["category_id"] = product, category
    if not {"price", "percent_off"} & errors.keys():
        price, percent = checks.either_of(values, rule, "price", "percent_off")
        if price is not None and percent is not None:
            errors["percent_off"] = ["Give a price or a percent off, not both."]
        elif price is None and percent is None:
            errors["price"] = ["Give a price or a percent off."]
        values["price"], values["percent_off"] = price, percent
    if not {"starts_at", "ends_at"} & errors.keys():
        starts = values["starts_at"] if "starts_at" in values else getattr(rule, "starts_at", None)
        ends = values["ends_at"] if "ends_at" in values else getattr(rule, "ends_at", None)
        problem = checks.window_problem(starts, ends)
        if problem:
            errors["ends_at"] = [problem]
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


def stage_of_rule(rule: PriceRule) -> str:
    """Which stage of ``quote`` the rule belongs to: ``audience``,
    ``quantity`` or ``sale`` (see ``app.pricing.quote``)."""
    return stage_of(
        Rule(min_quantity=rule.min_quantity, starts_at=rule.starts_at, ends_at=rule.ends_at)
    )


def _rule_detail(rule: PriceRule) -> dict:
    detail = {key: getattr(rule, key) for key in RULE_FIELDS}
    for key, value in detail.items():
        if isinstance(value, uuid.UUID):
            detail[key] = str(value)
        elif isinstance(value, datetime):
            detail[key] = value.isoformat()
    return detail


def _find_rule(rule_id: uuid.UUID) -> PriceRule:
    rule = db.session.scalar(select(PriceRule).where(PriceRule.id == rule_id))
    if rule is None:
        raise NotFound("No such price rule.")
    return rule


def get_rule(rule_id: uuid.UUID) -> PriceRule:
    """One price rule of the current shop; ``NotFound`` for any other id."""
    return _find_rule(rule_id)


def check_rule(data: Mapping[str, Any], rule_id: uuid.UUID | None = None) -> None:
    """Judge ``data`` as ``create_rule`` (or, with ``rule_id``,
    ``update_rule``) would, writing nothing: a form that could not read
    some fields asks this about the rest, to show every problem at once."""
    _clean_rule(data, _find_rule(rule_id) if rule_id is not None else None)


def list_rules(
    *,
    product_id: uuid.UUID | None = None,
    category_id: uuid.UUID | None = None,
    tier_id: uuid.UUID | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[PriceRule], int]:
    """A page of the shop's price rules, newest first, and how many match:
    those for exactly this product, category or tier when given (an id of
    another shop matches nothing). Two queries."""
    conditions = []
    for column, value in (
        (PriceRule.product_id, product_id),
        (PriceRule.category_id, category_id),
        (PriceRule.tier_id, tier_id),
    ):
        if value is not None:
            conditions.append(column == value)
    total = db.session.scalar(select(func.count(PriceRule.id)).where(*conditions)) or 0
    rows = db.session.scalars(
        select(PriceRule)
        .where(*conditions)
        .order_by(PriceRule.created_at.desc(), PriceRule.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return list(rows), int(total)


@dataclass(frozen=True)
class RuleNames:
    """The names a page shows for a page of rules' (or coupons') products,
    categories and tiers (ids the shop no longer has are missing)."""

    products: dict
    categories: dict
    tiers: dict


def names_for(rules: list[PriceRule]) -> RuleNames:
    """Names of the products, categories and tiers ``rules`` (or coupons)
    point at: one query each, for those ids only."""

    def names(model, ids):
        ids = {i for i in ids if i is not None}
        if not ids:
            return {}
        return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())

    return RuleNames(
        names(Product, (r.product_id for r in rules)),
        names(Category, (r.category_id for r in rules)),
        names(AgentTier, (getattr(r, "tier_id", None) for r in rules)),
    )


MAX_FOUND = 20


def product_choices(*, search: str | None, chosen: Any = None) -> list[tuple[uuid.UUID, str]]:
    """What a form offers to pick a product from, never the whole catalogue:
    the ``chosen`` product (when it is this shop's) and up to ``MAX_FOUND``
    whose name holds ``search`` (any case), by name. Two queries at most."""
    found: list[tuple[uuid.UUID, str]] = []
    ident = parse_uuid(chosen) if isinstance(chosen, (str, uuid.UUID)) and chosen else None
    if ident is not None:
        row = db.session.execute(
            select(Product.id, Product.name).where(Product.id == ident)
        ).first()
        if row is not None:
            found.append((row.id, row.name))
    needle = (search or "").strip()[:100]
    if needle:
        rows = db.session.execute(
            select(Product.id, Product.name)
            .where(Product.name.ilike(f"%{_escaped(needle)}%", escape="\\"))
            .order_by(Product.name, Product.id)
            .limit(MAX_FOUND)
        ).all()
        found.extend((i, name) for i, name in rows if i != ident)
    return found


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def create_rule(data: Mapping[str, Any], *, actor: str) -> PriceRule:
    """Add a price rule: ``product_id`` or ``category_id`` (at most one;
    neither: the whole shop), ``tier_id`` (None: everyone), ``price`` (a
    unit price in minor units) or ``percent_off`` (1..100), exactly one;
    ``min_quantity`` (default 1), ``starts_at``/``ends_at`` (aware; ends
    after starts), ``priority``, ``allow_below_cost``. The product,
    category and tier must be this shop's. ``Conflict`` once the shop holds
    ``MAX_PRICE_RULES``. Audited; commits."""
    values = _clean_rule(data, None)
    if db.session.scalar(select(func.count(PriceRule.id))) >= MAX_PRICE_RULES:
        raise Conflict(
            f"A shop holds at most {MAX_PRICE_RULES} price rules.",
            errors={"price_rules": [f"At most {MAX_PRICE_RULES}."]},
            message=_l("A shop holds at most %(n)s price rules.", n=MAX_PRICE_RULES),
        )
    rule = PriceRule(**values)
    db.session.add(rule)
    db.session.flush()
    audit.record(actor, "price_rule.created", f"price_rule:{rule.id}", **_rule_detail(rule))
    db.session.commit()
    return rule


def update_rule(rule_id: uuid.UUID, data: Mapping[str, Any], *, actor: str) -> PriceRule:
    """Change the given fields of a rule (a price given clears a percent
    and the other way round, a product given clears a category and the
    other way round, unless both are given). Audited; commits."""
    rule = _find_rule(rule_id)
    values = _clean_rule(data, rule)
    before = _rule_detail(rule)
    for key, value in values.items():
        setattr(rule, key, value)
    after = _rule_detail(rule)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changed:
        db.session.rollback()
        return _find_rule(rule_id)
    audit.record(actor, "price_rule.updated", f"price_rule:{rule.id}", changed=changed)
    db.session.commit()
    return rule


def delete_rule(rule_id: uuid.UUID, *, actor: str) -> None:
    """Delete a price rule; prices follow at once. Audited; commits."""
    rule = _find_rule(rule_id)
    audit.record(actor, "price_rule.deleted", f"price_rule:{rule.id}", **_rule_detail(rule))
    db.session.delete(rule)
    db.session.commit()
