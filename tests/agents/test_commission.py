"""Multi-level commission through the real services: a chain of agents
A ← B ← C with tier prices, orders paid from wallets and delivered in the
request, commission pending then settled after the window, reversed by a
refund before it, clawed back by one after it, sub-shop markups, the
shop's depth, and the books summing to zero throughout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.models import ShopAccount
from app.agents import commission
from app.agents.models import Commission, SubShop
from app.extensions import db
from app.ledger import services as ledger
from app.orders import checkout, payment, remedies
from app.pricing.models import AgentTier, PriceRule
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.factories import codes

pytestmark = pytest.mark.critical

RETAIL, COST = 10_000, 5_000
GOLD, SILVER, BRONZE = 7_000, 8_000, 9_000


@pytest.fixture
def chain(app, shop, make_account, make_product):
    """Product at 100.00 (cost 50.00); tiers gold 70, silver 80, bronze 90;
    agents A (gold) ← B (silver) ← C (bronze); a customer D under C; each
    wallet holds 1000.00."""
    product_id = make_product(shop, price=RETAIL, cost=COST, stock=codes("K", 20))
    people = {
        name: make_account(
            shop, f"{name.lower()}@example.com", "agent" if name != "D" else "customer"
        )
        for name in "ABCD"
    }
    with app.app_context(), tenant_context(shop):
        tiers = {}
        for name, rank, price in (("Gold", 3, GOLD), ("Silver", 2, SILVER), ("Bronze", 1, BRONZE)):
            tier = AgentTier(name=name, rank=rank)
            db.session.add(tier)
            db.session.flush()
            db.session.add(PriceRule(product_id=product_id, tier_id=tier.id, price=price))
            tiers[name] = tier.id
        links = {"A": ("Gold", None), "B": ("Silver", "A"), "C": ("Bronze", "B"), "D": (None, "C")}
        for name, (tier, upline) in links.items():
            db.session.execute(
                update(ShopAccount)
                .where(ShopAccount.id == people[name].id)
                .values(
                    tier_id=tiers[tier] if tier else None,
                    upline_id=people[upline].id if upline else None,
                )
            )
            ledger.post(
                f"recharge:{name}",
                "recharge",
                [
                    ledger.Line(ledger.clearing_code("sandbox"), -100_000),
                    ledger.Line(ledger.wallet_code(people[name].id), 100_000),
                ],
                "CNY",
            )
        db.session.commit()
        db.session.remove()
    ids = {name: account.id for name, account in people.items()}
    return {"shop": shop.id, "product": product_id, "ids": ids, "tiers": tiers}


@pytest.fixture
def ctx(app, chain):
    with app.app_context(), tenant_context(chain["shop"]):
        yield chain
        db.session.remove()


def buy(chain, who: str, quantity: int = 1, **extra):
    buyer = chain["ids"][who]
    order, _ = checkout.create_order(
        product_id=chain["product"],
        quantity=quantity,
        email=f"{who.lower()}@example.com",
        buyer_id=buyer,
        caller=checkout.Caller("shop_account", buyer),
        **extra,
    )
    payment.pay_order(order, "wallet", buyer_id=buyer, actor="buyer")
    db.session.expire_all()
    return db.session.get(type(order), order.id)


def earned(chain, order) -> dict[str, tuple[int, str]]:
    names = {v: k for k, v in chain["ids"].items()}
    rows = db.session.scalars(select(Commission).where(Commission.order_id == order.id))
    return {names[r.account_id]: (r.amount, r.status) for r in rows}


def books_balance():
    assert sum(ledger.trial_balance().values()) == 0
    assert ledger.cached_balances_match()


def test_an_agent_two_levels_down_pays_its_tier_price_and_both_uplines_earn_the_spread(ctx):
    order = buy(ctx, "C", quantity=2)

    assert order.status == "delivered"
    assert order.total == 2 * BRONZE
    assert earned(ctx, order) == {
        "B": (2 * (BRONZE - SILVER), "pending"),
        "A": (2 * (SILVER - GOLD), "pending"),
    }
    assert ledger.trial_balance()[ledger.COMMISSION_PENDING] == 4_000
    assert ledger.wallet_balance(ctx["ids"]["C"]) == 100_000 - 2 * BRONZE
    books_balance()


def test_a_customer_three_levels_down_pays_retail_and_three_uplines_earn(ctx):
    order = buy(ctx, "D")

    assert order.total == RETAIL
    assert earned(ctx, order) == {
        "C": (RETAIL - BRONZE, "pending"),
        "B": (BRONZE - SILVER, "pending"),
        "A": (SILVER - GOLD, "pending"),
    }
    books_balance()


def test_the_shops_depth_limits_the_levels_that_earn(ctx):
    db.session.execute(update(Tenant).where(Tenant.id == ctx["shop"]).values(agent_depth=1))
    db.session.commit()

    order = buy(ctx, "D")

    assert earned(ctx, order) == {"C": (RETAIL - BRONZE, "pending")}


def test_commission_settles_into_wallets_after_the_window_and_not_before(ctx):
    order = buy(ctx, "C")
    b_before = ledger.wallet_balance(ctx["ids"]["B"])

    assert commission.settle_due(now=datetime.now(UTC) + timedelta(days=6)) == 0
    assert commission.settle_due(now=datetime.now(UTC) + timedelta(days=8)) == 2

    assert earned(ctx, order) == {"B": (1_000, "settled"), "A": (1_000, "settled")}
    assert ledger.wallet_balance(ctx["ids"]["B"]) == b_before + 1_000
    assert ledger.trial_balance()[ledger.COMMISSION_PENDING] == 0
    books_balance()
    # settling again moves nothing
    assert commission.settle_due(now=datetime.now(UTC) + timedelta(days=30)) == 0
    assert ledger.wallet_balance(ctx["ids"]["B"]) == b_before + 1_000


def test_a_refund_before_settlement_reverses_the_commission(ctx):
    order = buy(ctx, "C")

    remedies.refund(order.id, to="wallet", actor="owner")

    assert earned(ctx, order) == {"B": (1_000, "reversed"), "A": (1_000, "reversed")}
    assert ledger.trial_balance()[ledger.COMMISSION_PENDING] == 0
    assert ledger.wallet_balance(ctx["ids"]["C"]) == 100_000
    assert commission.settle_due(now=datetime.now(UTC) + timedelta(days=30)) == 0
    books_balance()


def test_a_refund_after_settlement_claws_back_even_into_debt(ctx):
    order = buy(ctx, "C")
    commission.settle_due(now=datetime.now(UTC) + timedelta(days=8))
    # B spends everything it has, so the clawback leaves a debt
    b = ctx["ids"]["B"]
    ledger.post(
        "spend:B",
        "order_payment",
        [
            ledger.Line(ledger.wallet_code(b), -ledger.wallet_balance(b)),
            ledger.Line(ledger.SALES, 101_000),
        ],
        "CNY",
    )
    db.session.commit()
    assert ledger.wallet_balance(b) == 0

    remedies.refund(order.id, to="wallet", actor="owner")

    assert earned(ctx, order) == {"B": (1_000, "clawed_back"), "A": (1_000, "clawed_back")}
    assert ledger.wallet_balance(b) == -1_000
    books_balance()
    # a debt does not pay for anything
    with pytest.raises(ledger.InsufficientFunds):
        buy(ctx, "B")


def test_a_sub_shop_sale_pays_the_owner_its_markup_and_its_uplines_the_spread(ctx):
    sub = SubShop(account_id=ctx["ids"]["B"], code="bee", title="Bee's", markups={"*": 10})
    db.session.add(sub)
    db.session.commit()

    order = buy(ctx, "D", sub_shop_id=sub.id)

    assert order.total == SILVER + SILVER // 10  # B's price plus 10 %
    assert order.sub_shop_id == sub.id
    assert earned(ctx, order) == {"B": (800, "pending"), "A": (SILVER - GOLD, "pending")}
    books_balance()


def test_no_commission_on_an_owners_own_purchase_through_its_sub_shop(ctx):
    sub = SubShop(account_id=ctx["ids"]["B"], code="bee", title="Bee's", markups={"*": 50})
    db.session.add(sub)
    db.session.commit()

    order = buy(ctx, "B", sub_shop_id=sub.id)

    assert order.total == SILVER
    assert earned(ctx, order) == {"A": (SILVER - GOLD, "pending")}


def test_accruing_twice_records_the_commission_once(ctx):
    order = buy(ctx, "C")

    assert commission.accrue(order.id) == 0
    db.session.commit()
    assert len(earned(ctx, order)) == 2
    books_balance()
