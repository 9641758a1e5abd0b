"""Helpers of the storefront tests: a shop's theme and its settings, a
catalogue with categories, card stock and a top-up, a signed-in buyer with
a recharged wallet and a delivered order. Everything goes in through the
real services (the shared factories, the card import, checkout, the
wallet), in the shop's context."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from app.extensions import db
from tests.factories import PASSWORD, Shop, add_account, end_outer_transaction, run_in_shop

STEAM = "Steam Wallet ¥100"
QQ = "QQ 币直充"
SOLD_OUT = "王者荣耀 60点券"


def use_theme(app, shop: Shop, theme: str, **settings) -> None:
    """Switch ``shop`` to ``theme`` with these setting values, as the shop's
    settings page stores them, and let every cache know.

    The values are stored both flat and under the theme's name, so the test
    holds whichever of the two layouts the shop row keeps them in (flat
    today; per theme once switching themes keeps each theme's values)."""
    from tenants.models import Tenant
    from tenants.resolve import invalidate_resolution

    end_outer_transaction()
    with app.app_context():
        tenant = db.session.get(Tenant, shop.id)
        tenant.theme = theme
        tenant.theme_settings = {**settings, theme: dict(settings)} if settings else {}
        db.session.commit()
        invalidate_resolution()
        db.session.remove()


def set_look(app, shop: Shop, **columns) -> None:
    """Set the shop row's look (``brand_color``, ``announcement``) directly."""
    from tenants.models import Tenant
    from tenants.resolve import invalidate_resolution

    end_outer_transaction()
    with app.app_context():
        tenant = db.session.get(Tenant, shop.id)
        for name, value in columns.items():
            setattr(tenant, name, value)
        db.session.commit()
        invalidate_resolution()
        db.session.remove()


@dataclass(frozen=True)
class Catalogue:
    games: uuid.UUID  # a top category
    steam_category: uuid.UUID  # its child
    phone: uuid.UUID  # another top category
    steam: uuid.UUID  # a card product with stock, in the child
    qq: uuid.UUID  # a top-up asking for a QQ number
    sold_out: uuid.UUID  # a card product with no stock


def build_catalogue(app, shop: Shop, *, steam_codes: int = 5) -> Catalogue:
    """Two top categories (one with a child), a card product with stock, a
    sold-out card product and a top-up, all on sale."""
    from app.catalog import categories, imports, services

    def build() -> Catalogue:
        games = categories.create_category({"name": "游戏点卡", "sort": 1}).id
        steam_category = categories.create_category({"name": "Steam", "parent_id": str(games)}).id
        phone = categories.create_category({"name": "话费充值", "sort": 2}).id
        steam = services.create_product(
            {"name": STEAM, "price": 1250, "cost": 999, "status": "on_sale",
             "category_id": str(steam_category), "max_quantity": 5}
        ).id  # fmt: skip
        codes = "\n".join(f"STEAM-{i:04d}-{uuid.uuid4().hex[:6]}" for i in range(steam_codes))
        if steam_codes:
            imports.import_now(steam, codes.encode(), "codes.txt", "test")
        qq = services.create_product(
            {"name": QQ, "price": 1000, "kind": "topup", "status": "on_sale",
             "category_id": str(phone),
             "input_fields": [{"name": "qq", "label": "QQ number", "pattern": "[1-9][0-9]{4,11}"}]}
        ).id  # fmt: skip
        sold_out = services.create_product(
            {"name": SOLD_OUT, "price": 600, "status": "on_sale", "category_id": str(games)}
        ).id
        return Catalogue(games, steam_category, phone, steam, qq, sold_out)

    return run_in_shop(app, shop, build)


def recharge(app, shop: Shop, account_id: uuid.UUID, amount: int) -> None:
    """Fill the account's wallet through the sandbox, as the recharge page does."""
    from app.payments import recharges

    run_in_shop(
        app, shop, lambda: recharges.start_recharge(account_id, amount, "sandbox", actor="test")
    )


def paid_from_wallet(app, shop: Shop, account, product_id: uuid.UUID, quantity: int = 1) -> str:
    """An order the account placed and paid from its wallet (a card order is
    delivered at once); its number."""
    from app.orders import checkout, payment

    def place() -> str:
        order, _ = checkout.create_order(
            product_id=product_id, quantity=quantity, email=account.email, buyer_id=account.id
        )
        payment.pay_order(order, "wallet", buyer_id=account.id, actor="test")
        return order.number

    return run_in_shop(app, shop, place)


def unpaid(app, shop: Shop, account, product_id: uuid.UUID, quantity: int = 1) -> str:
    """An unpaid order of the account; its number."""
    from app.orders import checkout

    def place() -> str:
        order, _ = checkout.create_order(
            product_id=product_id, quantity=quantity, email=account.email, buyer_id=account.id
        )
        return order.number

    return run_in_shop(app, shop, place)


def signed_in_buyer(app, browser_for, shop: Shop, email: str):
    """A new buyer account of ``shop`` and an English browser signed in as it."""
    account = add_account(app, shop, email)
    browser = english(browser_for(shop.host), shop)
    response = browser.submit("/account/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return account, browser


def english(browser, shop: Shop):
    browser.client.set_cookie("lang", "en", domain=shop.host)
    return browser


def text(response) -> str:
    """The page's text with whitespace runs made one space."""
    return re.sub(r"\s+", " ", response.get_data(as_text=True))
