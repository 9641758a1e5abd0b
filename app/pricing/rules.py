"""Gathering the facts ``quote`` needs, from the current shop's tables, and
asking it: for one product (a product page, checkout) or many (a list).

Everything a person or a program is shown as a price goes through
``price_of`` / ``prices_of`` / ``quote_purchase`` here, so the page, the
API, the order's snapshot and the ledger agree.

Costs: one query for the rules that could touch the products (none match in
a shop without rules), one for the categories when a category rule exists,
one for the buyer's tier when a buyer is signed in (``Audience.of``). A
list page may read the rules inside its own statement (``rules_touching``,
read back with ``rules_from_rows``) and pass them, and the categories it
read, to ``prices_of``: then no query at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select

from app.core.money import share_of
from app.core.sqljson import json_rows
from app.extensions import db
from app.pricing.models import PriceRule
from app.pricing.quote import CouponTerms, Quote, Rule, audience_price, quote


@dataclass(frozen=True)
class Audience:
    """Whose price: the buyer's tier (None: retail), the buyer's account, and
    in a sub-shop the owner's tier and the sub-shop (``app.agents.subshops``)."""

    tier_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    sub_shop_id: uuid.UUID | None = None
    sub_shop_owner_id: uuid.UUID | None = None
    sub_shop_tier_id: uuid.UUID | None = None
    #: whole percent per category id (``"*"`` for the rest)
    sub_shop_markups: tuple = ()

    @classmethod
    def of(cls, account_id: uuid.UUID | None) -> Audience:
        """The audience of a shop account (retail for None or an unknown id)."""
        if account_id is None:
            return RETAIL
        from app.accounts.models import ShopAccount

        tier_id = db.session.scalar(
            select(ShopAccount.tier_id).where(
                ShopAccount.id == account_id, ShopAccount.is_active.is_(True)
            )
        )
        return cls(tier_id=tier_id, account_id=account_id)

    @property
    def in_sub_shop(self) -> bool:
        """Prices come from the sub-shop (the buyer is not its owner)."""
        return self.sub_shop_id is not None and self.sub_shop_owner_id != self.account_id

    def markup_for(self, category_ids: tuple) -> int:
        markups = dict(self.sub_shop_markups)
        for category_id in category_ids:
            if str(category_id) in markups:
                return int(markups[str(category_id)])
        return int(markups.get("*", 0))


RETAIL = Audience()


def _facts(row: PriceRule) -> Rule:
    return Rule(
        id=row.id,
        product_id=row.product_id,
        category_id=row.category_id,
        tier_id=row.tier_id,
        price=row.price,
        percent_off=row.percent_off,
        min_quantity=row.min_quantity,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        priority=row.priority,
        allow_below_cost=row.allow_below_cost,
    )


def rules_for(product_ids: list[uuid.UUID]) -> list[Rule]:
    """The shop's rules that may touch these products: theirs, every
    category rule and every shop-wide rule (one query; a shop holds at most
    ``MAX_PRICE_RULES``)."""
    rows = db.session.scalars(
        select(PriceRule).where(
            or_(PriceRule.product_id.in_(product_ids), PriceRule.product_id.is_(None))
        )
    )
    return [_facts(row) for row in rows]


#: A rule's facts in ``Rule``'s order, as ``rules_touching`` reads them.
_RULE_COLUMNS = (
    PriceRule.id,
    PriceRule.product_id,
    PriceRule.category_id,
    PriceRule.tier_id,
    PriceRule.price,
    PriceRule.percent_off,
    PriceRule.min_quantity,
    PriceRule.starts_at,
    PriceRule.ends_at,
    PriceRule.priority,
    PriceRule.allow_below_cost,
)


def rules_touching(product_ids):
    """A scalar subquery to select beside a page's rows: the rules that may
    touch the products whose ids ``product_ids`` (a select) gives, with every
    category and shop-wide rule, as ``json_rows`` (NULL when there are none).
    The same rules as ``rules_for``, read inside the page's own statement."""
    return (
        select(json_rows(*_RULE_COLUMNS))
        .where(or_(PriceRule.product_id.is_(None), PriceRule.product_id.in_(product_ids)))
        .scalar_subquery()
    )


def _uuid(value) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def _instant(value) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:  # SQLite keeps UTC without a zone
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def rules_from_rows(rows: list | None) -> list[Rule]:
    """The rules ``rules_touching`` read, as ``quote`` reads them."""
    return [
        Rule(
            id=_uuid(row[0]),
            product_id=_uuid(row[1]),
            category_id=_uuid(row[2]),
            tier_id=_uuid(row[3]),
            price=None if row[4] is None else int(row[4]),
            percent_off=None if row[5] is None else int(row[5]),
            min_quantity=int(row[6]),
            starts_at=_instant(row[7]),
            ends_at=_instant(row[8]),
            priority=int(row[9]),
            allow_below_cost=bool(row[10]),
        )
        for row in rows or ()
    ]


def category_chains(rules: list[Rule], category_ids: set, parents: dict | None = None) -> dict:
    """Each category id → itself and its ancestors, read only when a category
    rule (or markup) may need it (no query when the caller passes every
    category's ``parents``: id → parent id)."""
    from app.catalog.models import Category

    if parents is None:
        parents = dict(db.session.execute(select(Category.id, Category.parent_id)).all())
    chains = {}
    for start in category_ids:
        chain, seen, node = [], set(), start
        while node is not None and node not in seen and len(chain) < 16:
            chain.append(node)
            seen.add(node)
            node = parents.get(node)
        chains[start] = tuple(chain)
    return chains


def _needs_chains(rules: list[Rule], audience: Audience) -> bool:
    return any(r.category_id is not None for r in rules) or (
        audience.in_sub_shop and len(audience.sub_shop_markups) > 0
    )


def _chain(product, chains: dict | None) -> tuple:
    if product.category_id is None:
        return ()
    if chains is None:
        return (product.category_id,)
    return chains.get(product.category_id, (product.category_id,))


def _unit(product, quantity: int, audience: Audience, rules, chain: tuple, now) -> int:
    """The audience's unit price: its tier's (in a sub-shop the owner's tier
    plus the markup for the product's category)."""
    in_sub_shop = audience.in_sub_shop
    unit, _ = audience_price(
        unit_price=product.price,
        quantity=quantity,
        cost=product.cost,
        product_id=product.id,
        category_ids=chain,
        tier_id=audience.sub_shop_tier_id if in_sub_shop else audience.tier_id,
        rules=rules,
        now=now,
    )
    if in_sub_shop:
        unit += share_of(unit, audience.markup_for(chain) * 100)
    return unit


def prices_of(
    products: list,
    audience: Audience = RETAIL,
    *,
    now: datetime | None = None,
    rules: list[Rule] | None = None,
    parents: dict | None = None,
) -> dict:
    """Product id → the unit price ``audience`` pays for one unit (or the
    product's minimum quantity), for a list page or an API answer. A caller
    that read the ``rules`` (``rules_touching``) and the categories'
    ``parents`` (id → parent id) passes them and saves their queries."""
    if not products:
        return {}
    now = now or datetime.now(UTC)
    if rules is None:
        rules = rules_for([p.id for p in products])
    if not rules and not audience.in_sub_shop:
        return {p.id: p.price for p in products}
    chains = None
    if _needs_chains(rules, audience):
        category_ids = {p.category_id for p in products if p.category_id}
        chains = category_chains(rules, category_ids, parents)
    return {
        p.id: _unit(p, max(1, p.min_quantity), audience, rules, _chain(p, chains), now)
        for p in products
    }


def price_of(product, audience: Audience = RETAIL, *, now: datetime | None = None) -> int:
    """The unit price ``audience`` pays for ``product`` (see ``prices_of``)."""
    return prices_of([product], audience, now=now)[product.id]


def quote_purchase(
    product,
    quantity: int,
    audience: Audience = RETAIL,
    *,
    currency: str,
    coupon: CouponTerms | None = None,
    first_order_percent: int = 0,
    now: datetime | None = None,
) -> Quote:
    """The full quote of a purchase (``CouponNotApplicable`` from ``quote``
    when the coupon does not apply)."""
    now = now or datetime.now(UTC)
    rules = rules_for([product.id])
    chains = None
    if _needs_chains(rules, audience) or coupon is not None and coupon.category_id is not None:
        chains = category_chains(rules, {product.category_id} if product.category_id else set())
    chain = _chain(product, chains)
    in_sub_shop = audience.in_sub_shop
    return quote(
        unit_price=product.price,
        quantity=quantity,
        currency=currency,
        product_name=product.name,
        cost=product.cost,
        product_id=product.id,
        category_ids=chain,
        tier_id=audience.sub_shop_tier_id if in_sub_shop else audience.tier_id,
        rules=rules,
        markup_percent=audience.markup_for(chain) if in_sub_shop else None,
        coupon=coupon,
        first_order_percent=first_order_percent,
        now=now,
    )


def total_for_tier(
    product, quantity: int, tier_id: uuid.UUID | None, *, now: datetime | None = None
) -> int:
    """What an account of ``tier_id`` would pay for ``quantity`` of
    ``product`` on the main shop, before coupons and discounts: the price an
    upline's commission is measured against."""
    now = now or datetime.now(UTC)
    rules = rules_for([product.id])
    chains = None
    if _needs_chains(rules, RETAIL):
        chains = category_chains(rules, {product.category_id} if product.category_id else set())
    unit, _ = audience_price(
        unit_price=product.price,
        quantity=quantity,
        cost=product.cost,
        product_id=product.id,
        category_ids=_chain(product, chains),
        tier_id=tier_id,
        rules=rules,
        now=now,
    )
    return unit * quantity


def audience_for(buyer_id: uuid.UUID | None, sub_shop_id: uuid.UUID | None = None) -> Audience:
    """The audience of a purchase: the buyer's tier, and when it goes through
    a sub-shop, the sub-shop, its owner's tier and markups (one query each)."""
    audience = Audience.of(buyer_id)
    if sub_shop_id is None:
        return audience
    from app.accounts.models import ShopAccount
    from app.agents.models import SubShop
    from app.core.errors import NotFound

    row = db.session.execute(
        select(SubShop.id, SubShop.account_id, SubShop.markups, ShopAccount.tier_id)
        .join(ShopAccount, ShopAccount.id == SubShop.account_id)
        .where(SubShop.id == sub_shop_id, ShopAccount.is_active.is_(True))
    ).first()
    if row is None:
        raise NotFound("No such sub-shop.")
    return Audience(
        tier_id=audience.tier_id,
        account_id=buyer_id,
        sub_shop_id=row.id,
        sub_shop_owner_id=row.account_id,
        sub_shop_tier_id=row.tier_id,
        sub_shop_markups=tuple(sorted((str(k), int(v)) for k, v in (row.markups or {}).items())),
    )


#: order states that make an order count as the buyer's earlier order
_COUNTED = ("paid", "fulfilling", "delivered", "partially_delivered", "failed", "refunding")


def first_order_percent(buyer_id: uuid.UUID | None) -> int:
    """The shop's first-order discount for this buyer: the shop's percent
    when the buyer is signed in and has no paid order here yet, else 0.
    (Guests get none: a new email is free to make.)"""
    if buyer_id is None:
        return 0
    from app.orders.models import Order
    from tenants.context import current_tenant_id
    from tenants.models import Tenant

    percent = db.session.scalar(
        select(Tenant.first_order_percent).where(Tenant.id == current_tenant_id())
    )
    if not percent:
        return 0
    earlier = db.session.scalar(
        select(Order.id).where(Order.buyer_id == buyer_id, Order.status.in_(_COUNTED)).limit(1)
    )
    return 0 if earlier is not None else int(percent)
