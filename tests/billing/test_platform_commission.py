"""The platform's commission on sales not paid through Stripe: accrued in
the shop's ledger by the periodic job, reversed on refund, once per order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.extensions import db
from tests.agents.money_support import buy, fill_wallet, refund_to_wallet
from tests.billing.support import (
    accrue,
    commission_rows,
    launch_offer_ends,
    make_plan,
    on_plan_past_offer,
    put_on_plan,
)
from tests.factories import (
    add_account,
    add_product,
    codes,
    end_outer_transaction,
    open_shop,
    run_in_shop,
)
from tests.payments.support import assert_ledgers_balanced


def _balances(app, shop) -> dict[str, int]:
    from app.ledger import services as ledger

    return run_in_shop(app, shop, ledger.trial_balance)


def _wallet_sale(app, shop, price: int = 1999, email: str = "buyer@example.com") -> str:
    buyer = add_account(app, shop, email).id
    fill_wallet(app, shop, buyer, price * 3)
    product = add_product(app, shop, price=price, stock=codes("PC", 5))
    return buy(app, shop, buyer, product)


def test_a_wallet_sale_accrues_the_plans_commission_once(app):
    shop = open_shop(app, "accrue-wallet")
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 1999)

    assert accrue(app, shop)["accrued"] == 1
    assert accrue(app, shop)["accrued"] == 0  # the second run finds nothing new

    assert commission_rows(app, shop) == [("accrued", "wallet", 1999, 60)]
    balances = _balances(app, shop)
    assert balances["platform:commission"] == 60
    assert balances["sales"] == 1999  # the gross sale stays; the fee is a cost
    assert balances["costs:platform"] == -60
    assert_ledgers_balanced(app)


def test_a_refund_reverses_the_accrued_commission(app):
    shop = open_shop(app, "accrue-refund")
    on_plan_past_offer(app, shop, "free", 300)
    number = _wallet_sale(app, shop, 2500)
    accrue(app, shop)

    refund_to_wallet(app, shop, number)
    assert accrue(app, shop)["reversed"] == 1
    assert accrue(app, shop)["reversed"] == 0

    assert commission_rows(app, shop) == [
        ("accrued", "wallet", 2500, 75),
        ("reversed", "wallet", -2500, -75),
    ]
    assert _balances(app, shop)["platform:commission"] == 0
    assert_ledgers_balanced(app)


def test_a_sale_refunded_before_the_job_ran_is_accrued_and_reversed_in_one_run(app):
    shop = open_shop(app, "accrue-both")
    on_plan_past_offer(app, shop, "free", 300)
    refund_to_wallet(app, shop, _wallet_sale(app, shop, 1000))

    added = accrue(app, shop)

    assert (added["accrued"], added["reversed"]) == (1, 1)
    assert _balances(app, shop)["platform:commission"] == 0


def test_a_sale_during_the_launch_offer_is_counted_with_no_commission(app):
    shop = open_shop(app, "accrue-offer")
    make_plan(app, "free", commission_bps=300)
    put_on_plan(app, shop, "free")
    launch_offer_ends(app, shop, datetime.now(UTC) + timedelta(days=3))
    _wallet_sale(app, shop, 1999)

    accrue(app, shop)

    assert commission_rows(app, shop) == [("accrued", "wallet", 1999, 0)]
    assert "platform:commission" not in _balances(app, shop)


def test_a_card_sale_on_the_connected_account_is_recorded_as_collected_not_accrued(app):
    from app.orders.models import Order

    shop = open_shop(app, "accrue-stripe", stripe_account="acct_1KamengCollected")
    on_plan_past_offer(app, shop, "pro", 100)
    number = _wallet_sale(app, shop, 2000)
    # This order was paid by card on the connected account (Stripe's own
    # path is tested in test_commission_fee.py); only its provider matters here.
    run_in_shop(
        app,
        shop,
        lambda: (
            db.session.execute(
                update(Order).where(Order.number == number).values(payment_provider="stripe")
            ),
            db.session.commit(),
        ),
    )

    accrue(app, shop)
    refund_to_wallet(app, shop, number)
    accrue(app, shop)

    assert commission_rows(app, shop) == [
        ("collected", "stripe", 2000, 20),
        ("collected_refunded", "stripe", -2000, -20),
    ]
    assert "platform:commission" not in _balances(app, shop)


def test_the_job_goes_through_every_shop_in_batches(app):
    from app.billing.jobs import accrue_platform_commission
    from app.billing.models import PlatformCommission

    first, second = open_shop(app, "accrue-one"), open_shop(app, "accrue-two")
    for shop in (first, second):
        on_plan_past_offer(app, shop, f"plan-{shop.slug}", 200)
    for n in range(3):
        _wallet_sale(app, first, 1000, email=f"b{n}@example.com")
    _wallet_sale(app, second, 1000)

    assert accrue(app, first, batch=2)["accrued"] == 2
    end_outer_transaction()
    with app.app_context():
        # the third of the first shop, the second's one (and other tests' shops)
        assert accrue_platform_commission() >= 2
        assert accrue_platform_commission() == 0

    counts = [
        run_in_shop(
            app,
            s,
            lambda: db.session.scalar(select(db.func.count()).select_from(PlatformCommission)),
        )
        for s in (first, second)
    ]
    assert counts == [3, 1]


def test_the_accrual_job_runs_on_the_sync_queue(app):
    from app.billing import jobs  # noqa: F401 - registers the job
    from app.core.queues import _PERIODIC

    [job] = [j for j in _PERIODIC.values() if j.path.endswith("accrue_platform_commission")]
    assert (job.queue, job.interval_setting) == ("sync", "PLATFORM_COMMISSION_INTERVAL_SECONDS")
    assert app.config["PLATFORM_COMMISSION_INTERVAL_SECONDS"] == 60


def test_sales_made_before_a_shops_first_run_are_not_charged_after_the_fact(app):
    shop = open_shop(app, "accrue-history")
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 1999)

    added = accrue(app, shop, now=datetime.now(UTC) + timedelta(hours=2))

    assert added["accrued"] == 0 and commission_rows(app, shop) == []
