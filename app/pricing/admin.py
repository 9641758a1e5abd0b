"""The operator's pricing tools: agent tiers (代理等级) and price rules
(价格规则). Coupons are ``app.pricing.coupon_admin``.

The API and the console call these same functions. Each works in the
current shop (the tenant guard filters every query, so another shop's ids
are simply not found), checks every field and names each bad one in a
``ValidationFailed`` (nothing is written then), commits its change together
with its audit row, and bounds what a shop may hold (``MAX_TIERS``,
``MAX_PRICE_RULES``). Field errors are English sentences for the API; pages
say them in the reader's language with ``app.pricing.messages``.

What a rule does to a price is ``app.pricing.quote``'s business; here a
rule is only stored, and ``stage`` says which of quote's stages it falls in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import ShopAccount
from app.audit import services as audit
from app.catalog.models import Category, Product
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import offset_of
from app.extensions import db
from app.pricing import checks
from app.pricing.checks import INVALID, Refused
from app.pricing.models import (
    MAX_PRICE_RULES,
    MAX_TIERS,
    UPGRADE_KINDS,
    UPGRADE_MANUAL,
    AgentTier,
    PriceRule,
)
from app.pricing.quote import Rule, stage_of

MAX_TIER_NAME = 40
MAX_RANK = 1_000


# --- agent tiers --------------------------------------------------------------------


@dataclass(frozen=True)
class TierView:
    """A tier as shown: its row, how many accounts are on it and how many
    price rules are its own."""

    tier: AgentTier
    accounts: int = 0
    price_rules: int = 0

    @property
    def id(self) -> uuid.UUID:
        return self.tier.id

    @property
    def name(self) -> str:
        return self.tier.name

    @property
    def rank(self) -> int:
        return self.tier.rank

    @property
    def upgrade(self) -> dict:
        return {"kind": self.tier.upgrade_kind, "amount": self.tier.upgrade_amount}

    @property
    def created_at(self) -> datetime:
        return self.tier.created_at


def _counts_by(column, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(column, func.count()).where(column.in_(ids)).group_by(column)
    ).all()
    return {key: int(n) for key, n in rows}


def _tier_views(tiers: list[AgentTier]) -> list[TierView]:
    ids = [t.id for t in tiers]
    accounts = _counts_by(ShopAccount.tier_id, ids)
    rules = _counts_by(PriceRule.tier_id, ids)
    return [TierView(t, accounts.get(t.id, 0), rules.get(t.id, 0)) for t in tiers]


def list_tiers() -> list[TierView]:
    """Every tier of the shop (at most ``MAX_TIERS``), best first (highest
    rank, then name), with its accounts and rules counted (three queries)."""
    tiers = db.session.scalars(
        select(AgentTier).order_by(AgentTier.rank.desc(), AgentTier.name, AgentTier.id)
    ).all()
    return _tier_views(list(tiers))


def _find_tier(tier_id: uuid.UUID) -> AgentTier:
    tier = db.session.scalar(select(AgentTier).where(AgentTier.id == tier_id))
    if tier is None:
        raise NotFound("No such agent tier.")
    return tier


def get_tier(tier_id: uuid.UUID) -> TierView:
    """One tier of the current shop; ``NotFound`` for any other id."""
    return _tier_views([_find_tier(tier_id)])[0]


def _clean_upgrade(value: Any, tier: AgentTier | None) -> tuple[dict, dict]:
    """The upgrade's kind and amount (the tier's own where not given), or
    its field errors."""
    errors: dict[str, list[str]] = {}
    if not isinstance(value, Mapping):
        return {}, {"_schema": ["Must be an object: {kind, amount}."]}
    errors.update(checks.unknown_fields(value, ("kind", "amount")))
    kind = value.get("kind", tier.upgrade_kind if tier else UPGRADE_MANUAL)
    if kind not in UPGRADE_KINDS:
        errors["kind"] = [f"One of {', '.join(UPGRADE_KINDS)}."]
    amount = tier.upgrade_amount if tier is not None else 0
    if "amount" in value:
        try:
            amount = checks.money(value["amount"])
        except Refused as why:
            errors["amount"] = [str(why)]
    if not errors:
        if kind == UPGRADE_MANUAL:
            amount = 0  # reached by hand: no amount applies
        elif amount <= 0:
            errors["amount"] = ["Give an amount above zero for a fee or a recharge total."]
    return {"upgrade_kind": kind, "upgrade_amount": amount}, errors


def _clean_tier(data: Mapping[str, Any], tier: AgentTier | None) -> dict:
    errors: dict[str, Any] = checks.unknown_fields(data, ("name", "rank", "upgrade"))
    values: dict[str, Any] = {}
    if tier is None and "name" not in data:
        errors["name"] = ["Missing data for required field."]
    for key, check in (
        ("name", lambda v: checks.text(v, limit=MAX_TIER_NAME, empty="Give the tier a name.")),
        ("rank", lambda v: checks.whole(v, 0, MAX_RANK)),
    ):
        if key in data:
            try:
                values[key] = check(data[key])
            except Refused as why:
                errors[key] = [str(why)]
    if "upgrade" in data or tier is None:
        upgrade, problems = _clean_upgrade(data.get("upgrade", {}), tier)
        if problems:
            errors["upgrade"] = problems
        values.update(upgrade)
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


def _name_taken() -> Conflict:
    return Conflict(
        "Another agent tier has this name.",
        errors={"name": ["Another tier has this name."]},
        message=_l("Another tier has this name: choose another."),
    )


def _check_name_free(name: str, tier_id: uuid.UUID | None) -> None:
    query = select(AgentTier.id).where(AgentTier.name == name)
    if tier_id is not None:
        query = query.where(AgentTier.id != tier_id)
    if db.session.scalar(query) is not None:
        raise _name_taken()


def _tier_detail(tier: AgentTier) -> dict:
    return {
        "name": tier.name,
        "rank": tier.rank,
        "upgrade_kind": tier.upgrade_kind,
        "upgrade_amount": tier.upgrade_amount,
    }


def _commit_or_conflict(conflict) -> None:
    """Commit; a uniqueness clash with a concurrent writer becomes ``conflict()``."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise conflict() from None


def create_tier(data: Mapping[str, Any], *, actor: str) -> TierView:
    """Add a tier: ``name`` (unique in the shop, at most 40 characters),
    ``rank`` (0..1000, higher is better), ``upgrade`` ``{kind, amount}``
    (``manual`` by default; a ``fee`` or ``recharge_total`` needs an amount
    above zero). ``Conflict`` for a taken name or a shop holding
    ``MAX_TIERS`` already. Audited; commits."""
    values = _clean_tier(data, None)
    if db.session.scalar(select(func.count(AgentTier.id))) >= MAX_TIERS:
        raise Conflict(
            f"A shop holds at most {MAX_TIERS} agent tiers.",
            errors={"tiers": [f"At most {MAX_TIERS}."]},
            message=_l("A shop holds at most %(n)s agent tiers.", n=MAX_TIERS),
        )
    _check_name_free(values["name"], None)
    tier = AgentTier(**values)
    db.session.add(tier)
    db.session.flush()
    audit.record(actor, "tier.created", f"tier:{tier.id}", **_tier_detail(tier))
    _commit_or_conflict(_name_taken)
    return get_tier(tier.id)


def update_tier(tier_id: uuid.UUID, data: Mapping[str, Any], *, actor: str) -> TierView:
    """Change the given fields of a tier (``upgrade`` may give its kind or
    amount alone). A change that changes nothing writes nothing. Audited;
    commits."""
    tier = _find_tier(tier_id)
    values = _clean_tier(data, tier)
    if "name" in values:
        _check_name_free(values["name"], tier.id)
    before = _tier_detail(tier)
    for key, value in values.items():
        setattr(tier, key, value)
    after = _tier_detail(tier)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        audit.record(actor, "tier.updated", f"tier:{tier.id}", name=tier.name, changed=changed)
        _commit_or_conflict(_name_taken)
    else:
        db.session.rollback()
    return get_tier(tier_id)


@dataclass(frozen=True)
class TierDeleted:
    """What deleting a tier did: the accounts that fell back to retail
    prices and the tier's own price rules that went with it."""

    name: str
    accounts_to_retail: int
    price_rules_deleted: int


def delete_tier(tier_id: uuid.UUID, *, actor: str) -> TierDeleted:
    """Delete a tier. Its accounts fall back to retail prices (their tier
    is cleared) and the price rules for that tier are deleted with it; the
    answer says how many of each. Audited; commits."""
    tier = _find_tier(tier_id)
    moved = db.session.execute(
        update(ShopAccount)
        .where(ShopAccount.tier_id == tier.id)
        .values(tier_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    dropped = db.session.execute(
        delete(PriceRule)
        .where(PriceRule.tier_id == tier.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    done = TierDeleted(tier.name, int(moved or 0), int(dropped or 0))
    audit.record(
        actor,
        "tier.deleted",
        f"tier:{tier.id}",
        name=tier.name,
        accounts_to_retail=done.accounts_to_retail,
        price_rules_deleted=done.price_rules_deleted,
    )
    db.session.delete(tier)
    db.session.commit()
    return done


# --- price rules --------------------------------------------------------------------

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


def either_of(values: dict, row, first: str, second: str) -> tuple[Any, Any]:
    """The final pair of two fields of which at most one is set (a rule's
    scope, its price or percent): a field given a value clears the other
    unless that one is given too."""
    a = values[first] if first in values else getattr(row, first, None)
    b = values[second] if second in values else getattr(row, second, None)
    if values.get(first) is not None and second not in values:
        b = None
    if values.get(second) is not None and first not in values:
        a = None
    return a, b


def window_problem(starts: datetime | None, ends: datetime | None) -> str | None:
    if starts is not None and ends is not None and ends <= starts:
        return "Must end after it starts."
    return None


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
        product, category = either_of(values, rule, "product_id", "category_id")
        if product is not None and category is not None:
            errors["category_id"] = ["Choose a product or a category, not both."]
        values["product_id"], values["category_id"] = product, category
    if not {"price", "percent_off"} & errors.keys():
        price, percent = either_of(values, rule, "price", "percent_off")
        if price is not None and percent is not None:
            errors["percent_off"] = ["Give a price or a percent off, not both."]
        elif price is None and percent is None:
            errors["price"] = ["Give a price or a percent off."]
        values["price"], values["percent_off"] = price, percent
    if not {"starts_at", "ends_at"} & errors.keys():
        starts = values["starts_at"] if "starts_at" in values else getattr(rule, "starts_at", None)
        ends = values["ends_at"] if "ends_at" in values else getattr(rule, "ends_at", None)
        problem = window_problem(starts, ends)
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
    """The names a page shows for a page of rules' products, categories
    and tiers (ids the shop no longer has are missing)."""

    products: dict
    categories: dict
    tiers: dict


def names_for(rules: list[PriceRule]) -> RuleNames:
    """Names of the products, categories and tiers ``rules`` point at: one
    query each, for those ids only."""

    def names(model, ids):
        ids = {i for i in ids if i is not None}
        if not ids:
            return {}
        return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())

    return RuleNames(
        names(Product, (r.product_id for r in rules)),
        names(Category, (r.category_id for r in rules)),
        names(AgentTier, (r.tier_id for r in rules)),
    )


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
