"""Helpers of the pricing tests: a shop's pricing rows made through the real
services, and API calls with a shop's own key."""

from __future__ import annotations

import uuid

from app.extensions import db
from tests.factories import bearer, run_in_shop


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
