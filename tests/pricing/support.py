"""Helpers of the pricing tests.

- What a buyer sees and pays: agent tiers, price rules, coupons and
  sub-shops written as rows in the shop's context (``add_*``), agents
  signed in through the storefront, and prices read off pages and the
  ledger.
- The operator's tools: a shop's pricing rows made through the real
  services (``make_*``), and API calls with a shop's own key (``api``)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from app.extensions import db
from tests.factories import PASSWORD, Shop, add_account, bearer, run_in_shop

#: money on a page, e.g. ``¥12.50`` or ``-¥1.25``
MONEY = r"-?¥[\d,]+\.\d\d"


def add_tier(app, shop: Shop, name: str = "金牌代理", rank: int = 3) -> uuid.UUID:
    from app.pricing.models import AgentTier

    def write() -> uuid.UUID:
        tier = AgentTier(name=name, rank=rank)
        db.session.add(tier)
        db.session.commit()
        return tier.id

    return run_in_shop(app, shop, write)


def add_rule(app, shop: Shop, **fields) -> uuid.UUID:
    """A price rule (``product_id``/``category_id``, ``tier_id``, ``price``
    or ``percent_off``, ``min_quantity``, ``starts_at``/``ends_at`` …)."""
    from app.pricing.models import PriceRule

    def write() -> uuid.UUID:
        rule = PriceRule(**fields)
        db.session.add(rule)
        db.session.commit()
        return rule.id

    return run_in_shop(app, shop, write)


def on_sale_now(**fields) -> dict:
    """A rule's fields for a sale running from an hour ago to tomorrow."""
    now = datetime.now(UTC)
    return {"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(days=1), **fields}


def add_coupon(app, shop: Shop, code: str, **fields) -> uuid.UUID:
    """A coupon (``kind`` fixed by default; ``amount`` in minor units or
    whole percent; ``min_spend``, ``max_uses``, ``max_uses_per_buyer`` …)."""
    from app.pricing.models import Coupon

    def write() -> uuid.UUID:
        coupon = Coupon(code=code.upper(), **{"kind": "fixed", **fields})
        db.session.add(coupon)
        db.session.commit()
        return coupon.id

    return run_in_shop(app, shop, write)


def add_agent(app, shop: Shop, email: str, tier_id: uuid.UUID | None = None, role="agent"):
    """A shop account of ``role`` in ``tier_id`` that signs in with ``PASSWORD``."""
    from app.accounts.models import ShopAccount

    account = add_account(app, shop, email, role)
    if tier_id is not None:

        def place() -> None:
            db.session.get(ShopAccount, account.id).tier_id = tier_id
            db.session.commit()

        run_in_shop(app, shop, place)
    return account


def set_account(app, shop: Shop, account_id: uuid.UUID, **columns) -> None:
    from app.accounts.models import ShopAccount

    def write() -> None:
        row = db.session.get(ShopAccount, account_id)
        for name, value in columns.items():
            setattr(row, name, value)
        db.session.commit()

    run_in_shop(app, shop, write)


def add_sub_shop(
    app,
    shop: Shop,
    account_id: uuid.UUID,
    code: str,
    title: str = "小王的分站",
    notice: str = "",
    markups: dict | None = None,
) -> uuid.UUID:
    """The sub-shop (分站) ``code`` of the agent ``account_id``."""
    from app.agents.models import SubShop

    def write() -> uuid.UUID:
        row = SubShop(
            account_id=account_id, code=code, title=title, notice=notice, markups=markups or {}
        )
        db.session.add(row)
        db.session.commit()
        return row.id

    return run_in_shop(app, shop, write)


def sign_in(browser, email: str) -> None:
    """Sign ``browser`` in to the shop's storefront as the account ``email``."""
    response = browser.submit("/account/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def shown_price(html: str) -> str:
    """The viewer's price on a product page, in any theme (``¥72.00``)."""
    found = re.search(r'class="(?:price|big-price)">\s*(?:<strong>)?\s*(' + MONEY + ")", html)
    assert found, "no price on the page"
    return found.group(1)


def order_row(app, shop: Shop, number: str) -> dict:
    """The order's columns a price shows in (and its quote snapshot)."""
    from sqlalchemy import select

    from app.orders.models import Order

    def read() -> dict:
        order = db.session.scalar(select(Order).where(Order.number == number))
        return {
            "id": order.id,
            "unit_price": order.unit_price,
            "total": order.total,
            "quote": dict(order.quote or {}),
            "sub_shop_id": order.sub_shop_id,
            "buyer_id": order.buyer_id,
            "status": order.status,
        }

    return run_in_shop(app, shop, read)


def sales_posted(app, shop: Shop, order_id: uuid.UUID) -> int:
    """What the ledger's payment of the order credited to sales."""
    from sqlalchemy import select

    from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
    from app.ledger.services import SALES

    def read() -> int:
        return db.session.scalar(
            select(LedgerEntry.amount)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(
                LedgerTransaction.idempotency_key == f"pay:{order_id}",
                LedgerAccount.code == SALES,
            )
        )

    return run_in_shop(app, shop, read)


def api(browser_for, shop, key: str | None = None):
    """A client on ``shop``'s host whose calls carry ``key`` (the shop's own
    owner key by default)."""
    client = browser_for(shop.host)
    headers = bearer(key or shop.key)

    class Caller:
        def __getattr__(self, verb):
            def call(path, **kw):
                kw.setdefault("headers", {}).update(headers)
                return getattr(client, verb)(path, **kw)

            return call

    return Caller()


def make_tier(app, shop, name: str = "金牌代理", rank: int = 10, **upgrade) -> uuid.UUID:
    from app.pricing import admin

    def made():
        data = {"name": name, "rank": rank}
        if upgrade:
            data["upgrade"] = upgrade
        return admin.create_tier(data, actor="test").id

    return run_in_shop(app, shop, made)


def make_category(app, shop, name: str = "Games") -> uuid.UUID:
    from app.catalog import categories

    return run_in_shop(app, shop, lambda: categories.create_category({"name": name}).id)


def make_rule(app, shop, **fields) -> uuid.UUID:
    from app.pricing import rule_admin

    return run_in_shop(app, shop, lambda: rule_admin.create_rule(fields, actor="test").id)


def make_coupon(app, shop, code: str = "SPRING", **fields) -> uuid.UUID:
    from app.pricing import coupon_admin

    data = {"code": code, "amount": 100, **fields}
    return run_in_shop(app, shop, lambda: coupon_admin.create_coupon(data, actor="test").id)


def set_standing(app, shop, account_id, **fields) -> None:
    from app.accounts import standing

    run_in_shop(app, shop, lambda: standing.update_account(account_id, fields, actor="test"))


def agent_depth(app, shop, depth: int) -> None:
    from app.settings import agent_settings

    run_in_shop(
        app, shop, lambda: agent_settings.save_agent_settings({"agent_depth": depth}, actor="t")
    )


def rows_of(app, shop, model) -> list[dict]:
    """The shop's rows of ``model`` as plain dicts, oldest first."""
    from sqlalchemy import select

    def read():
        return [
            {c.key: getattr(row, c.key) for c in model.__table__.columns}
            for row in db.session.scalars(select(model).order_by(model.created_at, model.id))
        ]

    return run_in_shop(app, shop, read)
