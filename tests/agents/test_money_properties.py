"""Every cent reconciles: a stateful property test (hypothesis) of a shop's
money across a three-level agent chain.

The machine drives the real services the API and the pages use: wallet
recharges (the sandbox provider), orders with tier prices, a quantity
break, coupons, the first-order discount and a sub-shop's markup, paid from
the wallet or by card and delivered from card stock; refunds to the wallet
or the original payment; commission settled after the refund window;
withdrawals asked, paid out and refused. After every step:

- every ledger transaction sums to zero, and so does the whole ledger;
- every wallet's cached balance equals its entries;
- ``reconcile()`` finds no difference, for today and for all time;
- no wallet is below zero unless a commission clawback made it so;
- an order's commission never exceeds what its buyer paid, and each level
  earns exactly the spread it is owed.

Each example opens a shop of its own (the tables are emptied after the
whole test), so examples never see each other's rows.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from app.extensions import db
from tests.agents.money_support import add_tier, place_in_chain, set_shop
from tests.factories import add_product, codes, open_shop
from tests.factories import run_in_shop as in_shop

pytestmark = pytest.mark.critical

PEOPLE = ("a", "b", "c", "x", "y")  # a ← b ← c ← x (a customer); y recruited by nobody
AGENTS = ("a", "b", "c")
SHOPS = itertools.count()


def machine_for(app):
    """The state machine, bound to the session's app."""

    class ShopMoney(RuleBasedStateMachine):
        @initialize()
        def open(self):
            from app.agents.models import SubShop
            from app.pricing.models import Coupon, PriceRule

            shop = open_shop(app, f"prop{next(SHOPS)}")
            self.shop = shop
            set_shop(
                app,
                shop,
                agent_depth=3,
                commission_hold_days=7,
                first_order_percent=10,
                withdraw_min=100,
                withdraw_fee_bps=250,
                timezone="UTC",
            )
            self.products = [
                add_product(app, shop, price=10_000, cost=4_000, stock=codes("P1", 40)),
                add_product(app, shop, price=2_599, cost=1_000, stock=codes("P2", 40)),
            ]
            tiers = {
                "gold": add_tier(app, shop, "gold", 3),
                "silver": add_tier(app, shop, "silver", 2),
                "bronze": add_tier(app, shop, "bronze", 1),
            }
            self.people = {}
            self.people["a"] = place_in_chain(app, shop, "a@p.cn", "agent", tier_id=tiers["gold"])
            self.people["b"] = place_in_chain(
                app, shop, "b@p.cn", "agent", tier_id=tiers["silver"], upline_id=self.people["a"]
            )
            self.people["c"] = place_in_chain(
                app, shop, "c@p.cn", "agent", tier_id=tiers["bronze"], upline_id=self.people["b"]
            )
            self.people["x"] = place_in_chain(
                app, shop, "x@p.cn", "customer", upline_id=self.people["c"]
            )
            self.people["y"] = place_in_chain(app, shop, "y@p.cn", "customer")

            def pricing():
                for tier, percent, unit in (
                    ("gold", 30, 6_999),
                    ("silver", 20, 8_001),
                    ("bronze", 10, 9_000),
                ):
                    db.session.add(
                        PriceRule(product_id=self.products[0], tier_id=tiers[tier], price=unit)
                    )
                    # the cheap product: a percent off for the whole shop, per tier
                    db.session.add(PriceRule(tier_id=tiers[tier], percent_off=percent))
                db.session.add(PriceRule(min_quantity=3, percent_off=5, priority=1))
                db.session.add(
                    Coupon(code="SAVE5", kind="fixed", amount=500, min_spend=5_000, max_uses=6)
                )
                db.session.add(Coupon(code="P15", kind="percent", amount=15, max_uses_per_buyer=2))
                sub = SubShop(
                    account_id=self.people["c"], code="c-shop", title="C", markups={"*": 12}
                )
                db.session.add(sub)
                db.session.commit()
                return sub.id

            self.sub_shop = in_shop(app, shop, pricing)
            self.delivered: list[uuid.UUID] = []
            self.requested: list[uuid.UUID] = []

        # --- money in ----------------------------------------------------------

        @rule(who=st.sampled_from(PEOPLE), amount=st.integers(1, 40_000))
        def recharge(self, who, amount):
            from app.payments import recharges

            in_shop(
                app,
                self.shop,
                lambda: recharges.start_recharge(self.people[who], amount, "sandbox", actor="t"),
            )

        @rule(
            who=st.sampled_from(PEOPLE),
            product=st.integers(0, 1),
            quantity=st.integers(1, 4),
            coupon=st.sampled_from([None, None, "SAVE5", "p15", "NOPE"]),
            through_sub_shop=st.booleans(),
            pay_by=st.sampled_from(["wallet", "wallet", "sandbox"]),
        )
        def buy(self, who, product, quantity, coupon, through_sub_shop, pay_by):
            from app.core.errors import KamengError
            from app.ledger import services as ledger
            from app.orders import checkout, fulfilment, payment
            from app.payments import recharges

            buyer = self.people[who]

            def place():
                try:
                    order, _ = checkout.create_order(
                        product_id=self.products[product],
                        quantity=quantity,
                        email=f"{who}@p.cn",
                        buyer_id=buyer,
                        coupon=coupon,
                        sub_shop_id=self.sub_shop if through_sub_shop else None,
                    )
                except KamengError:  # a coupon that does not apply, no stock left
                    db.session.rollback()
                    return None
                order_id, total = order.id, order.total
                if pay_by == "wallet":
                    short = total - ledger.wallet_balance(buyer)
                    if short > 0:  # the buyer tops up what is missing, then pays
                        recharges.start_recharge(buyer, short, "sandbox", actor="t")
                payment.pay_order(order, pay_by, buyer_id=buyer, actor="t")
                if pay_by == "sandbox":  # the fulfilment job, run here
                    fulfilment.fulfil(order_id, actor="fulfilment")
                return order_id

            placed = in_shop(app, self.shop, place)
            if placed is not None:
                self.delivered.append(placed)

        # --- money back ----------------------------------------------------------

        @precondition(lambda self: self.delivered)
        @rule(pick=st.integers(0, 10_000), to=st.sampled_from(["wallet", "original"]))
        def refund(self, pick, to):
            from app.orders import remedies

            order_id = self.delivered.pop(pick % len(self.delivered))
            in_shop(app, self.shop, lambda: remedies.refund(order_id, to=to, actor="owner"))

        @rule()
        def settle(self):
            from app.agents import commission

            later = datetime.now(UTC) + timedelta(days=8)
            in_shop(app, self.shop, lambda: commission.settle_due(now=later))

        # --- money out ----------------------------------------------------------

        @rule(
            who=st.sampled_from(AGENTS),
            amount=st.one_of(st.integers(50, 6_000), st.sampled_from(["all", "half"])),
        )
        def ask_withdrawal(self, who, amount):
            from app.agents import withdrawals
            from app.core.errors import KamengError
            from app.ledger import services as ledger

            def ask():
                nonlocal amount
                if isinstance(amount, str):  # what the wallet holds, or half of it
                    held = ledger.wallet_balance(self.people[who])
                    amount = held if amount == "all" else held // 2
                try:
                    return withdrawals.request_withdrawal(
                        self.people[who], amount, f"alipay {who}"
                    ).withdrawal.id
                except KamengError:  # below the minimum, too little money, 3 waiting
                    db.session.rollback()
                    return None

            asked = in_shop(app, self.shop, ask)
            if asked is not None:
                self.requested.append(asked)

        @precondition(lambda self: self.requested)
        @rule(pick=st.integers(0, 10_000), pay=st.booleans(), twice=st.booleans())
        def decide(self, pick, pay, twice):
            from app.agents import withdrawals

            withdrawal_id = self.requested.pop(pick % len(self.requested))
            decide = withdrawals.approve if pay else withdrawals.reject
            in_shop(app, self.shop, lambda: decide(withdrawal_id, "ref", "owner"))
            if twice:
                with pytest.raises(withdrawals.WithdrawalDecided):
                    in_shop(app, self.shop, lambda: decide(withdrawal_id, "again", "owner"))

        # --- what always holds ------------------------------------------------------

        @invariant()
        def books_balance(self):
            if not hasattr(self, "shop"):
                return
            from app.ledger import services as ledger

            totals = in_shop(app, self.shop, ledger.trial_balance)
            assert sum(totals.values()) == 0, totals
            assert in_shop(app, self.shop, ledger.cached_balances_match)

        @invariant()
        def reconciles(self):
            if not hasattr(self, "shop"):
                return
            from app.ledger import reconcile

            def check():
                return (
                    list(reconcile.find_differences()),
                    reconcile.reconcile(datetime.now(UTC).date(), "UTC").differences,
                )

            assert in_shop(app, self.shop, check) == ([], [])

        @invariant()
        def only_a_clawback_leaves_a_debt(self):
            if not hasattr(self, "shop"):
                return
            from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

            def debts():
                negative = db.session.execute(
                    select(LedgerAccount.code, LedgerAccount.may_owe).where(
                        LedgerAccount.kind == "wallet", LedgerAccount.balance < 0
                    )
                ).all()
                clawed = set(
                    db.session.scalars(
                        select(LedgerAccount.code)
                        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
                        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                        .where(LedgerTransaction.kind == "commission_clawback")
                    )
                )
                return [(code, may_owe, code in clawed) for code, may_owe in negative]

            for code, may_owe, clawed in in_shop(app, self.shop, debts):
                assert may_owe and clawed, code

        @invariant()
        def commission_is_the_spread(self):
            if not hasattr(self, "shop"):
                return
            from app.agents.models import Commission
            from app.orders.models import Order

            def rows():
                return db.session.execute(
                    select(Commission, Order.total).join(Order, Order.id == Commission.order_id)
                ).all()

            by_order: dict = {}
            for commission, total in in_shop(app, self.shop, rows):
                by_order.setdefault(commission.order_id, (total, []))[1].append(commission)
            for total, earned in by_order.values():
                earned.sort(key=lambda c: c.level)
                assert sum(c.amount for c in earned) <= total
                for c in earned:
                    assert c.amount == c.downline_paid - c.own_price > 0
                    assert c.downline_paid == total if c.level == 1 else c.downline_paid <= total

    return ShopMoney


def test_every_sequence_of_money_movements_reconciles(app):
    run_state_machine_as_test(
        machine_for(app),
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
