"""Daily reconciliation (财务对账): a day of real sales, refunds, recharges,
commission and withdrawals reconciles to no difference, with the right
totals per kind; each kind of difference, made by writing a bad row
directly, is reported by name; days follow the shop's time zone; the
command line exits 1 on a difference and 2 on bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from tests.agents.money_support import (
    ask_withdrawal,
    build_chain,
    buy,
    fill_wallet,
    refund_to_wallet,
    set_shop,
    settle_all,
)
from tests.factories import run_in_shop

pytestmark = pytest.mark.critical


def _today() -> date:
    return datetime.now(UTC).date()


def reconciled(app, shop, day: date | None = None, tz: str = "UTC"):
    from app.ledger.reconcile import reconcile

    return run_in_shop(app, shop, lambda: reconcile(day or _today(), tz))


def codes_of(rec) -> list[str]:
    return sorted(d.code for d in rec.differences)


def write(app, shop, *statements) -> None:
    """Run raw statements in the shop, around every service (a bad row)."""

    def run():
        for statement in statements:
            db.session.execute(statement.execution_options(synchronize_session=False))
        db.session.commit()

    run_in_shop(app, shop, run)


def entries_of(app, shop, key: str) -> list[tuple[uuid.UUID, str, int]]:
    def read():
        return [
            (entry_id, code, amount)
            for entry_id, code, amount in db.session.execute(
                select(LedgerEntry.id, LedgerAccount.code, LedgerEntry.amount)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .where(LedgerTransaction.idempotency_key == key)
            ).all()
        ]

    return run_in_shop(app, shop, read)


def shift_entries(app, shop, key: str, by: int) -> None:
    """Move both sides of a two-entry transaction by ``by`` (it stays
    balanced, but moves another amount)."""
    for entry_id, _code, amount in entries_of(app, shop, key):
        step = by if amount > 0 else -by
        write(
            app,
            shop,
            update(LedgerEntry).where(LedgerEntry.id == entry_id).values(amount=amount + step),
        )


def order_id(app, shop, number: str) -> uuid.UUID:
    from app.orders import lookups

    return run_in_shop(app, shop, lambda: lookups.get_order(number).id)


def guest_order(app, shop, product_id, *, pay: bool = True) -> str:
    """A guest's order, paid through the sandbox when ``pay``; its number."""
    from app.orders import checkout, payment

    def place() -> str:
        order, _ = checkout.create_order(
            product_id=product_id, quantity=1, email="guest@example.com"
        )
        number = order.number
        if pay:
            payment.pay_order(order, "sandbox", buyer_id=None, actor="guest")
        return number

    return run_in_shop(app, shop, place)


@pytest.fixture
def day_of_business(app, shop):
    """A busy day at alpha: recharges, agents' and a customer's purchases,
    a refund before settlement (reversed) and one after (clawed back),
    commission settled, withdrawals asked, paid and refused, a balance
    adjustment, a guest's sandbox order refunded to its payment."""
    from app.agents import withdrawals
    from app.ledger.adjustments import adjust_wallet
    from app.orders import remedies

    set_shop(app, shop, withdraw_min=100, withdraw_fee_bps=200)
    chain = build_chain(app, shop, stock=30)
    for who in (chain.buyer, chain.c, chain.b):
        fill_wallet(app, shop, who, 100_000)
    reversed_order = buy(app, shop, chain.buyer, chain.product)
    refund_to_wallet(app, shop, reversed_order)
    clawed = buy(app, shop, chain.buyer, chain.product)
    buy(app, shop, chain.c, chain.product, quantity=2)
    buy(app, shop, chain.b, chain.product)
    settle_all(app, shop)
    refund_to_wallet(app, shop, clawed)
    paid = ask_withdrawal(app, shop, chain.a, 1_000)
    refused = ask_withdrawal(app, shop, chain.b, 500)
    ask_withdrawal(app, shop, chain.a, 200)  # still waiting
    run_in_shop(app, shop, lambda: withdrawals.approve(paid, "TX-1", "owner"))
    run_in_shop(app, shop, lambda: withdrawals.reject(refused, "no", "owner"))
    run_in_shop(
        app,
        shop,
        lambda: adjust_wallet(
            chain.buyer, -2_500, "mistake", actor="owner", form_key="f1", currency="CNY"
        ),
    )
    guest = guest_order(app, shop, chain.product)
    run_in_shop(
        app,
        shop,
        lambda: remedies.refund(order_id(app, shop, guest), to="original", actor="owner"),
    )
    return chain


def test_a_day_of_business_reconciles_with_the_right_totals(app, shop, day_of_business):
    rec = reconciled(app, shop)

    assert rec.differences == [] and rec.balanced
    totals = {t.code: (t.count, t.amount) for t in rec.totals}
    # the buyer's two, c's two units, b's one, the guest's
    assert totals["order_payment"] == (5, 10_000 * 2 + 18_000 + 8_000 + 10_000)
    assert totals["refund"] == (3, 30_000)
    assert totals["recharge"] == (3, 300_000)
    # accrued: the buyer's two orders 3 × 10 each, c's 2 units 2 × 20, b's 1 × 10
    assert totals["commission"] == (4, 3_000 + 3_000 + 4_000 + 1_000)
    assert totals["commission_reversed"] == (3, 3_000)
    assert totals["commission_settled"] == (6, 3_000 + 4_000 + 1_000)
    assert totals["commission_clawback"] == (3, 3_000)
    assert totals["withdrawal"] == (3, 1_700)
    assert totals["withdrawal_paid"] == (1, 1_000)
    assert totals["withdrawal_returned"] == (1, 500)
    assert totals["adjustment"] == (1, 2_500)
    assert totals["tier_fee"] == (0, 0)
    assert totals["withdrawal_fees"] == (1, 20)
    assert [t.code for t in rec.totals][:3] == ["order_payment", "refund", "recharge"]


def test_a_day_without_business_reconciles_to_zeros(app, shop):
    rec = reconciled(app, shop, _today() - timedelta(days=30))

    assert rec.balanced and all(t.count == t.amount == 0 for t in rec.totals)


def test_a_transaction_that_does_not_sum_to_zero_is_named(app, shop, day_of_business):
    def spoil():
        tx = LedgerTransaction(idempotency_key="hand:1", kind="adjustment", memo="by hand")
        db.session.add(tx)
        db.session.flush()
        sales = db.session.scalar(select(LedgerAccount.id).where(LedgerAccount.code == "sales"))
        db.session.add(LedgerEntry(transaction_id=tx.id, account_id=sales, amount=500))
        db.session.commit()

    run_in_shop(app, shop, spoil)

    rec = reconciled(app, shop)
    assert [(d.code, d.subject, d.expected, d.actual) for d in rec.differences] == [
        ("unbalanced_transaction", "hand:1", 0, 500)
    ]


def test_a_cached_balance_that_differs_from_its_entries_is_named(app, shop, day_of_business):
    chain = day_of_business
    write(
        app,
        shop,
        update(LedgerAccount)
        .where(LedgerAccount.code == f"wallet:{chain.c}")
        .values(balance=LedgerAccount.balance + 7),
    )

    rec = reconciled(app, shop)
    assert codes_of(rec) == ["wallet_balance"]
    diff = rec.differences[0]
    assert diff.subject == chain.emails["c"] and diff.account_id == chain.c
    assert diff.actual - diff.expected == 7


def test_a_wallet_below_zero_without_a_clawback_is_named(app, shop, day_of_business):
    chain = day_of_business

    def overdraw():
        # Entries written around the ledger service: the buyer's wallet falls below
        # zero by them, though nothing allowed it a debt.
        tx = LedgerTransaction(idempotency_key="hand:overdraw", kind="order_payment")
        db.session.add(tx)
        db.session.flush()
        ids = dict(
            db.session.execute(
                select(LedgerAccount.code, LedgerAccount.id).where(
                    LedgerAccount.code.in_((f"wallet:{chain.buyer}", "sales"))
                )
            ).all()
        )
        db.session.add_all(
            [
                LedgerEntry(
                    transaction_id=tx.id, account_id=ids[f"wallet:{chain.buyer}"], amount=-500_000
                ),
                LedgerEntry(transaction_id=tx.id, account_id=ids["sales"], amount=500_000),
            ]
        )
        db.session.commit()

    run_in_shop(app, shop, overdraw)

    rec = reconciled(app, shop)
    assert codes_of(rec) == ["negative_wallet", "wallet_balance"]
    negative = next(d for d in rec.differences if d.code == "negative_wallet")
    assert negative.actual < 0 and negative.subject == chain.emails["buyer"]


def test_a_clawback_debt_is_not_a_difference(app, shop):
    chain = build_chain(app, shop)
    fill_wallet(app, shop, chain.buyer, 50_000)
    number = buy(app, shop, chain.buyer, chain.product)
    settle_all(app, shop)
    ask_withdrawal(app, shop, chain.c, 1_000)  # c takes out what it earned
    refund_to_wallet(app, shop, number)  # … and the clawback leaves it owing

    from tests.agents.money_support import balance

    assert balance(app, shop, chain.c) == -1_000
    assert reconciled(app, shop).differences == []


def test_pending_commission_that_disagrees_with_the_ledger_is_named(app, shop):
    from app.agents.models import Commission

    chain = build_chain(app, shop)
    fill_wallet(app, shop, chain.buyer, 50_000)
    buy(app, shop, chain.buyer, chain.product)
    write(
        app,
        shop,
        update(Commission).where(Commission.account_id == chain.a).values(status="reversed"),
    )

    rec = reconciled(app, shop)
    assert "commission_pending_balance" in codes_of(rec)
    held = next(d for d in rec.differences if d.code == "commission_pending_balance")
    assert (held.expected, held.actual) == (2_000, 3_000)
    # … and the row says reversed without its posting
    assert "commission_posting" in codes_of(rec)


def test_a_commission_posting_of_another_amount_is_named(app, shop):
    chain = build_chain(app, shop)
    fill_wallet(app, shop, chain.buyer, 50_000)
    number = buy(app, shop, chain.buyer, chain.product)
    settle_all(app, shop)
    shift_entries(app, shop, f"commission:{order_id(app, shop, number)}", 1)

    rec = reconciled(app, shop)
    posting = [d for d in rec.differences if d.code == "commission_posting"]
    assert [(d.order_number, d.expected, d.actual) for d in posting] == [(number, 3_000, 3_001)]
    assert "commission_pending_balance" in codes_of(rec)  # the extra cent is still held


def test_waiting_withdrawals_that_disagree_with_the_ledger_are_named(app, shop, make_account):
    from app.agents.models import Withdrawal

    set_shop(app, shop, withdraw_min=100)
    agent = make_account(shop, "agent@alpha.example.com", "agent")
    fill_wallet(app, shop, agent.id, 5_000)
    withdrawal_id = ask_withdrawal(app, shop, agent.id, 1_000)
    write(
        app,
        shop,
        update(Withdrawal).where(Withdrawal.id == withdrawal_id).values(status="rejected"),
    )

    rec = reconciled(app, shop)
    assert codes_of(rec) == ["withdrawal_posting", "withdrawals_pending_balance"]
    posting = next(d for d in rec.differences if d.code == "withdrawal_posting")
    assert posting.subject == f"withdrawal-returned:{withdrawal_id}" and posting.actual is None
    assert posting.who == agent.email


def test_a_withdrawal_whose_amount_changed_is_named(app, shop, make_account):
    from app.agents import withdrawals
    from app.agents.models import Withdrawal

    set_shop(app, shop, withdraw_min=100)
    agent = make_account(shop, "agent@alpha.example.com", "agent")
    fill_wallet(app, shop, agent.id, 5_000)
    withdrawal_id = ask_withdrawal(app, shop, agent.id, 1_000)
    run_in_shop(app, shop, lambda: withdrawals.approve(withdrawal_id, "TX", "owner"))
    write(app, shop, update(Withdrawal).where(Withdrawal.id == withdrawal_id).values(amount=1_001))

    rec = reconciled(app, shop)
    assert sorted((d.subject, d.expected, d.actual) for d in rec.differences) == [
        (f"withdrawal-paid:{withdrawal_id}", 1_001, 1_000),
        (f"withdrawal:{withdrawal_id}", 1_001, 1_000),
    ]


def test_a_paid_order_without_its_payment_is_named(app, shop, make_product):
    from app.orders.models import Order

    product = make_product(shop, stock=["CODE-1", "CODE-2"])
    number = guest_order(app, shop, product, pay=False)
    write(
        app,
        shop,
        update(Order)
        .where(Order.number == number)
        .values(status="paid", paid_at=datetime.now(UTC)),
    )

    rec = reconciled(app, shop)
    assert [(d.code, d.order_number, d.expected, d.actual) for d in rec.differences] == [
        ("payment_missing", number, 10_000, None)
    ]


def test_a_payment_of_another_amount_is_named(app, shop, make_product):
    from app.orders.models import Order

    product = make_product(shop, stock=["CODE-1", "CODE-2"])
    number = guest_order(app, shop, product)
    write(app, shop, update(Order).where(Order.number == number).values(total=9_999))

    rec = reconciled(app, shop)
    assert [(d.code, d.order_number, d.expected, d.actual) for d in rec.differences] == [
        ("payment_amount", number, 9_999, 10_000)
    ]


def test_a_refunded_order_without_its_refund_is_named(app, shop, make_product):
    from app.orders import state
    from app.orders.models import Order

    product = make_product(shop, stock=["CODE-1", "CODE-2"])
    number = guest_order(app, shop, product)
    the_id = order_id(app, shop, number)

    def refund_without_money():
        # Through the state machine alone: the status moves, no ledger line does.
        db.session.execute(update(Order).where(Order.id == the_id).values(status="refunding"))
        state.transition(the_id, "refunding", "refunded", actor="by hand")
        db.session.commit()

    run_in_shop(app, shop, refund_without_money)

    rec = reconciled(app, shop)
    assert [(d.code, d.order_number) for d in rec.differences] == [("refund_missing", number)]


def test_a_refund_of_another_amount_is_named(app, shop, make_product):
    from app.orders import remedies

    product = make_product(shop, stock=["CODE-1", "CODE-2"])
    number = guest_order(app, shop, product)
    the_id = order_id(app, shop, number)
    run_in_shop(app, shop, lambda: remedies.refund(the_id, to="original", actor="owner"))
    shift_entries(app, shop, f"refund:{the_id}", -1)

    rec = reconciled(app, shop)
    assert [(d.code, d.expected, d.actual) for d in rec.differences] == [
        ("refund_amount", 10_000, 9_999)
    ]


def test_rows_of_another_day_are_that_days_and_balances_are_always_checked(app, shop, make_product):
    from app.orders.models import Order

    product = make_product(shop, stock=["CODE-1", "CODE-2"])
    number = guest_order(app, shop, product, pay=False)
    yesterday = _today() - timedelta(days=1)
    noon = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    write(
        app,
        shop,
        update(Order).where(Order.number == number).values(status="paid", paid_at=noon),
    )

    assert codes_of(reconciled(app, shop, yesterday)) == ["payment_missing"]
    assert codes_of(reconciled(app, shop, _today())) == []


def test_the_day_is_the_shops_day(app, shop, make_product):
    product = make_product(shop, stock=["CODE-1", "CODE-2"])
    number = guest_order(app, shop, product)
    the_id = order_id(app, shop, number)
    # 23:30 UTC on the 1st is 07:30 on the 2nd in Shanghai.
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    write(
        app,
        shop,
        update(LedgerTransaction)
        .where(LedgerTransaction.order_id == the_id)
        .values(created_at=late),
    )

    in_shanghai = reconciled(app, shop, date(2026, 3, 2), "Asia/Shanghai")
    in_utc = reconciled(app, shop, date(2026, 3, 1), "UTC")
    day_before = reconciled(app, shop, date(2026, 3, 1), "Asia/Shanghai")

    sales = lambda rec: next(t for t in rec.totals if t.code == "order_payment")  # noqa: E731
    assert (sales(in_shanghai).count, sales(in_shanghai).amount) == (1, 10_000)
    assert sales(in_utc).count == 1
    assert sales(day_before).count == 0


# --- the command line -------------------------------------------------------------


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args: str):
        result = runner.invoke(args=list(args))
        with app.app_context():
            db.session.remove()
        return result

    return run


def test_the_command_reconciles_a_clean_day(app, shop, cli, day_of_business):
    set_shop(app, shop, timezone="UTC")

    result = cli("ledger", "reconcile", "alpha", "--date", _today().isoformat())

    assert result.exit_code == 0, result.output
    assert (
        f"Reconciliation of alpha for {_today().isoformat()} (UTC), amounts in CNY" in result.output
    )
    assert "Order payment" in result.output and "No differences" in result.output


def test_the_command_lists_differences_and_exits_1(app, shop, cli, day_of_business):
    chain = day_of_business
    set_shop(app, shop, timezone="UTC")
    write(
        app,
        shop,
        update(LedgerAccount)
        .where(LedgerAccount.code == f"wallet:{chain.c}")
        .values(balance=LedgerAccount.balance + 1),
    )

    result = cli("ledger", "reconcile", "alpha", "--date", _today().isoformat())

    assert result.exit_code == 1
    assert "Differences: 1" in result.output
    assert "wallet_balance: A balance that differs from its entries" in result.output
    assert chain.emails["c"] in result.output


def test_the_command_defaults_to_yesterday(app, shop, cli):
    result = cli("ledger", "reconcile", "alpha")

    assert result.exit_code == 0, result.output
    assert "for " in result.output and "No differences" in result.output


@pytest.mark.parametrize(
    "args, says",
    [
        (("nowhere", "--date", "2026-01-01"), "no shop is called 'nowhere'"),
        (("alpha", "--date", "01/02/2026"), "'01/02/2026' is not a date like 2024-05-01"),
    ],
)
def test_the_command_refuses_bad_input_with_exit_2(app, shop, cli, args, says):
    result = cli("ledger", "reconcile", *args)

    assert result.exit_code == 2
    assert says in result.stderr


def test_nothing_here_deletes(app, shop, day_of_business):
    """Reconciling reads: the books are the same before and after."""
    from tests.factories import shop_rows

    before = shop_rows(app, shop.id)
    reconciled(app, shop)
    assert shop_rows(app, shop.id) == before
