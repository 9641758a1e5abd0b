"""Helpers of the agents' money tests (withdrawals, commission pages,
reconciliation): a three-level chain of agents with tier prices, wallets
filled and orders bought through the real services, and the shop's books
read back. Shops, accounts and products come from ``tests/factories.py``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.extensions import db
from tests.factories import Shop, add_account, add_product, codes, run_in_shop

#: retail and tier unit prices of the chain's product (minor units)
RETAIL = 10_000
PRICES = {"gold": 7_000, "silver": 8_000, "bronze": 9_000}
RANKS = {"gold": 3, "silver": 2, "bronze": 1}


@dataclass(frozen=True)
class Chain:
    """Agent ``a`` (gold) ← ``b`` (silver) ← ``c`` (bronze) ← ``buyer`` (a
    customer recruited by c); their tier ids; a card product with stock."""

    a: uuid.UUID
    b: uuid.UUID
    c: uuid.UUID
    buyer: uuid.UUID
    emails: dict
    tiers: dict
    product: uuid.UUID


def set_shop(app, shop: Shop, **columns) -> None:
    """Change the shop's own settings (agent depth, hold days, withdrawal
    minimum and fee …) as the settings page would."""
    from tenants.models import Tenant
    from tenants.resolve import invalidate_resolution

    def change():
        tenant = db.session.get(Tenant, shop.id)
        for name, value in columns.items():
            setattr(tenant, name, value)
        db.session.commit()

    run_in_shop(app, shop, change)
    with app.app_context():
        invalidate_resolution()


def add_tier(app, shop: Shop, name: str, rank: int, *, product_id=None, price=None) -> uuid.UUID:
    """An agent tier and, with ``price``, its fixed unit price for the product."""
    from app.pricing.models import AgentTier, PriceRule

    def make():
        tier = AgentTier(name=name, rank=rank)
        db.session.add(tier)
        db.session.flush()
        if price is not None:
            db.session.add(PriceRule(product_id=product_id, tier_id=tier.id, price=price))
        db.session.commit()
        return tier.id

    return run_in_shop(app, shop, make)


def place_in_chain(app, shop: Shop, email: str, role: str, *, tier_id=None, upline_id=None):
    """A shop account of ``role`` with its tier and upline set; its id."""
    from app.accounts.models import ShopAccount

    account = add_account(app, shop, email, role)

    def link():
        row = db.session.get(ShopAccount, account.id)
        row.tier_id = tier_id
        row.upline_id = upline_id
        db.session.commit()

    run_in_shop(app, shop, link)
    return account.id


def build_chain(app, shop: Shop, *, stock: int = 20, cost: int = 5_000) -> Chain:
    """The three-level chain of ``Chain`` in ``shop``."""
    product = add_product(app, shop, price=RETAIL, cost=cost, stock=codes("CHAIN", stock))
    tiers = {
        name: add_tier(app, shop, name, RANKS[name], product_id=product, price=price)
        for name, price in PRICES.items()
    }
    slug = shop.slug
    emails = {k: f"{k}@{slug}.example.com" for k in ("a", "b", "c", "buyer")}
    a = place_in_chain(app, shop, emails["a"], "agent", tier_id=tiers["gold"])
    b = place_in_chain(app, shop, emails["b"], "agent", tier_id=tiers["silver"], upline_id=a)
    c = place_in_chain(app, shop, emails["c"], "agent", tier_id=tiers["bronze"], upline_id=b)
    buyer = place_in_chain(app, shop, emails["buyer"], "customer", upline_id=c)
    return Chain(a, b, c, buyer, emails, tiers, product)


def fill_wallet(app, shop: Shop, account_id: uuid.UUID, amount: int) -> None:
    """A recharge through the sandbox provider, as the recharge page does."""
    from app.payments import recharges

    run_in_shop(
        app, shop, lambda: recharges.start_recharge(account_id, amount, "sandbox", actor="test")
    )


def buy(app, shop: Shop, account_id: uuid.UUID, product_id, quantity: int = 1) -> str:
    """An order the account places and pays from its wallet (a card order is
    delivered at once, and its commission accrues); its number."""
    from app.accounts.models import ShopAccount
    from app.orders import checkout, payment

    def place() -> str:
        email = db.session.get(ShopAccount, account_id).email
        order, _ = checkout.create_order(
            product_id=product_id, quantity=quantity, email=email, buyer_id=account_id
        )
        number = order.number
        payment.pay_order(order, "wallet", buyer_id=account_id, actor="test")
        return number

    return run_in_shop(app, shop, place)


def refund_to_wallet(app, shop: Shop, number: str) -> None:
    from app.orders import lookups, remedies

    run_in_shop(
        app,
        shop,
        lambda: remedies.refund(lookups.get_order(number).id, to="wallet", actor="test"),
    )


def settle_all(app, shop: Shop) -> int:
    """Settle every pending commission, as the job does once the window passed."""
    from app.agents import commission

    return run_in_shop(
        app, shop, lambda: commission.settle_due(now=datetime.now(UTC) + timedelta(days=400))
    )


def balance(app, shop: Shop, account_id: uuid.UUID) -> int:
    from app.ledger import services as ledger

    return run_in_shop(app, shop, ledger.wallet_balance, account_id)


def account_total(app, shop: Shop, code: str) -> int:
    """The sum of a ledger account's entries (its balance)."""
    return run_in_shop(app, shop, lambda: ledger_totals().get(code, 0))


def ledger_totals() -> dict[str, int]:
    from app.ledger import services as ledger

    return ledger.trial_balance()


def differences(app, shop: Shop, day: date | None = None) -> list:
    """The shop's differences: of ``day`` (UTC) or, without one, of all time."""
    from app.ledger import reconcile

    def find():
        if day is None:
            return list(reconcile.find_differences())
        return reconcile.reconcile(day, "UTC").differences

    return run_in_shop(app, shop, find)


def commissions_of(app, shop: Shop, number: str) -> list[tuple[uuid.UUID, int, int, str]]:
    """The order's commissions: (agent, level, amount, status), by level."""
    from sqlalchemy import select

    from app.agents.models import Commission
    from app.orders import lookups

    def read():
        order_id = lookups.get_order(number).id
        return [
            (c.account_id, c.level, c.amount, c.status)
            for c in db.session.scalars(
                select(Commission).where(Commission.order_id == order_id).order_by(Commission.level)
            )
        ]

    return run_in_shop(app, shop, read)


def ask_withdrawal(app, shop: Shop, account_id, amount: int, to: str = "alipay a@b.cn", key=None):
    """A withdrawal asked through the service; its id."""
    from app.agents import withdrawals

    return run_in_shop(
        app,
        shop,
        lambda: withdrawals.request_withdrawal(account_id, amount, to, key=key).withdrawal.id,
    )
