"""Helpers of the agent tests: tiers and price rules as the operator's
settings hold them, agents under uplines, the shop's depth, signed-in
browsers, wallets filled through the sandbox and orders paid from them (so
commission accrues through the real delivery path). Shops, accounts and
products come from ``tests/factories.py``."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from app.extensions import db
from tests.factories import PASSWORD, Shop, add_account, end_outer_transaction, run_in_shop


def add_tier(app, shop: Shop, name: str, rank: int, kind: str = "manual", amount: int = 0):
    """An agent tier of ``shop``; its id."""
    from app.pricing.models import AgentTier

    def make():
        tier = AgentTier(name=name, rank=rank, upgrade_kind=kind, upgrade_amount=amount)
        db.session.add(tier)
        db.session.commit()
        return tier.id

    return run_in_shop(app, shop, make)


def add_rule(app, shop: Shop, *, tier_id, product_id, price: int):
    """A fixed unit price for one tier on one product."""
    from app.pricing.models import PriceRule

    def make():
        db.session.add(PriceRule(tier_id=tier_id, product_id=product_id, price=price))
        db.session.commit()

    run_in_shop(app, shop, make)


def add_agent(app, shop: Shop, email: str, *, upline=None, tier_id=None, role: str = "agent"):
    """An account of ``role`` under ``upline`` (an account or id) in
    ``tier_id``; its id."""
    from app.accounts.models import ShopAccount

    account = add_account(app, shop, email, role)
    upline_id = getattr(upline, "id", upline)

    def place():
        row = db.session.get(ShopAccount, account.id)
        row.upline_id = upline_id
        row.tier_id = tier_id
        db.session.commit()

    run_in_shop(app, shop, place)
    return account.id


def account_row(app, shop: Shop, account_id) -> dict:
    """The account's role, tier, upline and invite code as stored."""
    from app.accounts.models import ShopAccount

    def read():
        row = db.session.scalar(select(ShopAccount).where(ShopAccount.id == account_id))
        return {
            "role": row.role,
            "tier_id": row.tier_id,
            "upline_id": row.upline_id,
            "invite_code": row.invite_code,
            "email": row.email,
        }

    return run_in_shop(app, shop, read)


def set_shop(app, shop: Shop, **columns) -> None:
    """Set agent settings of the shop row (``agent_depth`` …)."""
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


def recharge(app, shop: Shop, account_id, amount: int) -> None:
    """Fill the account's wallet through the sandbox (the real recharge path)."""
    from app.payments import recharges

    run_in_shop(
        app, shop, lambda: recharges.start_recharge(account_id, amount, "sandbox", actor="test")
    )


def balance(app, shop: Shop, account_id) -> int:
    from app.ledger import services as ledger

    return run_in_shop(app, shop, ledger.wallet_balance, account_id)


def buy_from_wallet(app, shop: Shop, buyer_id, product_id, quantity: int = 1) -> str:
    """An order the buyer placed and paid from its wallet (a card order is
    delivered at once, which accrues commission); its number."""
    from app.accounts.models import ShopAccount
    from app.orders import checkout, payment

    def place() -> str:
        email = db.session.scalar(select(ShopAccount.email).where(ShopAccount.id == buyer_id))
        order, _ = checkout.create_order(
            product_id=product_id, quantity=quantity, email=email, buyer_id=buyer_id
        )
        payment.pay_order(order, "wallet", buyer_id=buyer_id, actor="test")
        return order.number

    return run_in_shop(app, shop, place)


def signed_in(browser_for, shop: Shop, email: str):
    """An English browser signed in to ``shop`` as ``email``, and the CSRF
    header its API writes carry."""
    browser = browser_for(shop.host)
    browser.client.set_cookie("lang", "en", domain=shop.host)
    response = browser.submit("/account/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser, {"X-CSRFToken": browser.csrf_token("/account/login")}


def page_text(response) -> str:
    """The page as a reader sees it: entities decoded, whitespace runs one space."""
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def visible_text(response) -> str:
    """The page's words without its markup (tags dropped, whitespace one space)."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))
