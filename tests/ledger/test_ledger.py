"""The double-entry ledger: balanced transactions in integer minor units,
idempotent by key, wallets that never go below zero (also under concurrent
spending), and balances that agree with their entries."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from tests.factories import add_account, open_shop
from tests.payments.support import assert_ledgers_balanced

pytestmark = pytest.mark.critical


@pytest.fixture
def buyer(app, shop):
    return add_account(app, shop, "buyer@ledger.example.com").id


@pytest.fixture
def in_shop_session(app, shop):
    """An app context inside the shop (the test's own session)."""
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        yield
        db.session.remove()


def recharge(buyer, amount: int, key: str | None = None):
    from app.ledger import services as ledger

    tx = ledger.post(
        key or f"recharge:{uuid.uuid4()}",
        "recharge",
        [
            ledger.Line(ledger.clearing_code("sandbox"), -amount),
            ledger.Line(ledger.wallet_code(buyer), amount),
        ],
        "CNY",
    )
    db.session.commit()
    return tx


def spend(buyer, amount: int, key: str):
    from app.ledger import services as ledger

    tx = ledger.post(
        key,
        "order_payment",
        [ledger.Line(ledger.wallet_code(buyer), -amount), ledger.Line(ledger.SALES, amount)],
        "CNY",
    )
    db.session.commit()
    return tx


def entry_count() -> int:
    from app.ledger.models import LedgerEntry

    return db.session.scalar(select(func.count(LedgerEntry.id)))


def test_a_posting_again_with_the_same_key_changes_nothing(in_shop_session, buyer):
    from app.ledger import services as ledger

    first = recharge(buyer, 1000, key="recharge:once")
    again = recharge(buyer, 1000, key="recharge:once")

    assert again.id == first.id
    assert ledger.wallet_balance(buyer) == 1000
    assert entry_count() == 2


def test_the_same_key_with_other_lines_is_a_conflict(in_shop_session, buyer):
    from app.core.errors import Conflict
    from app.ledger import services as ledger

    recharge(buyer, 1000, key="recharge:once")
    with pytest.raises(Conflict):
        recharge(buyer, 999, key="recharge:once")
    db.session.rollback()
    assert ledger.wallet_balance(buyer) == 1000


def test_entries_that_do_not_sum_to_zero_or_are_not_integers_are_refused(in_shop_session, buyer):
    from app.ledger import services as ledger

    wallet = ledger.wallet_code(buyer)
    with pytest.raises(ledger.Unbalanced):
        ledger.post("bad:1", "recharge", [ledger.Line(wallet, 100)], "CNY")
    with pytest.raises(ledger.Unbalanced):
        ledger.post("bad:2", "recharge", [], "CNY")
    with pytest.raises(TypeError):
        ledger.post(
            "bad:3",
            "recharge",
            [ledger.Line(wallet, 1.5), ledger.Line(ledger.SALES, -1.5)],
            "CNY",
        )
    db.session.rollback()
    assert entry_count() == 0


def test_a_wallet_never_goes_below_zero(in_shop_session, buyer):
    from app.ledger import services as ledger

    recharge(buyer, 500)

    with pytest.raises(ledger.InsufficientFunds) as refused:
        spend(buyer, 501, "pay:too-much")
    db.session.rollback()

    assert refused.value.status == 402 and refused.value.slug == "insufficient-funds"
    assert ledger.wallet_balance(buyer) == 500
    assert entry_count() == 2
    spend(buyer, 500, "pay:all-of-it")
    assert ledger.wallet_balance(buyer) == 0


def test_the_database_itself_refuses_a_negative_wallet(in_shop_session, buyer):
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    from app.ledger.models import LedgerAccount

    recharge(buyer, 100)
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.kind == "wallet")
            .values(balance=-1)
            .execution_options(synchronize_session=False)
        )
        db.session.flush()
    db.session.rollback()


def test_concurrent_spending_never_overdraws(app, shop, buyer):
    """Eight buyers' tabs spend 300 each from a balance of 1000 at once:
    exactly three succeed, the rest are refused, nothing goes negative."""
    from app.ledger import services as ledger
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        recharge(buyer, 1000)
        db.session.remove()
    results: list[str] = []
    start = threading.Barrier(8)

    def tab(n: int) -> None:
        with app.app_context(), tenant_context(shop.id):
            start.wait()
            try:
                spend(buyer, 300, f"pay:tab-{n}")
                results.append("paid")
            except ledger.InsufficientFunds:
                db.session.rollback()
                results.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=tab, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == ["paid"] * 3 + ["refused"] * 5
    with app.app_context(), tenant_context(shop.id):
        assert ledger.wallet_balance(buyer) == 100
        assert ledger.cached_balances_match()
        db.session.remove()
    assert_ledgers_balanced(app)


def test_the_trial_balance_sums_to_zero_and_wallets_match_their_entries(in_shop_session, buyer):
    from app.ledger import services as ledger

    recharge(buyer, 2000)
    spend(buyer, 1500, "pay:a")
    ledger.post(
        "refund:a",
        "refund",
        [ledger.Line(ledger.SALES, -1500), ledger.Line(ledger.wallet_code(buyer), 1500)],
        "CNY",
    )
    db.session.commit()

    balance = ledger.trial_balance()
    assert sum(balance.values()) == 0
    assert balance[ledger.wallet_code(buyer)] == 2000
    assert balance[ledger.SALES] == 0
    assert balance[ledger.clearing_code("sandbox")] == -2000
    assert ledger.cached_balances_match()


def test_a_wallet_page_lists_entries_newest_first(in_shop_session, buyer):
    from app.ledger import services as ledger

    for amount in (100, 200, 300):
        recharge(buyer, amount)
    spend(buyer, 50, "pay:b")

    page = ledger.wallet_page(buyer, page=1, per_page=3)

    assert (page["balance"], page["currency"], page["total"]) == (550, "CNY", 4)
    assert [e["amount"] for e in page["entries"]] == [-50, 300, 200]
    assert [e["amount"] for e in ledger.wallet_page(buyer, page=2, per_page=3)["entries"]] == [100]


def test_one_shops_ledger_is_invisible_to_another(app, shop, buyer):
    from app.ledger import services as ledger
    from tenants.context import tenant_context

    other = open_shop(app, "ledger-other")
    with app.app_context():
        with tenant_context(shop.id):
            recharge(buyer, 700)
        with tenant_context(other.id):
            assert ledger.wallet_balance(buyer) == 0
            assert ledger.trial_balance() == {}
            assert ledger.wallet_page(buyer)["entries"] == []
        db.session.remove()
