"""A shop's monthly statement of the platform's fees, which matches its
ledger to the cent, and the month's commission billed on its Stripe
customer (against localstripe, the customer made with the real library)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from tests.agents.money_support import refund_to_wallet, set_shop
from tests.billing.support import accrue, on_plan_past_offer
from tests.billing.test_platform_commission import _wallet_sale
from tests.factories import end_outer_transaction, open_shop, run_in_shop
from tests.payments.conftest import localstripe, stripe_on  # noqa: F401 - fixtures

NOVEMBER = date(2026, 11, 1)


def _statement(app, shop, month):
    from app.billing import statements

    return run_in_shop(app, shop, lambda: statements.statement(shop.id, month))


def _ledger_sum(app, shop, kind: str, start, end) -> int:
    """The entries of ``platform:commission`` of that kind, added up here."""
    from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

    return run_in_shop(
        app,
        shop,
        lambda: int(
            db.session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                .select_from(LedgerEntry)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .where(
                    LedgerAccount.code == "platform:commission",
                    LedgerTransaction.kind == kind,
                    LedgerTransaction.created_at >= start,
                    LedgerTransaction.created_at < end,
                )
            )
        ),
    )


def test_a_months_statement_matches_the_ledger_to_the_cent(app):
    shop = open_shop(app, "statement-ledger")
    set_shop(app, shop, timezone="Asia/Shanghai")
    on_plan_past_offer(app, shop, "free", 333)  # 3.33 %: odd cents on every sale
    in_nov = datetime(2026, 11, 10, 4, tzinfo=UTC)
    numbers = [_wallet_sale(app, shop, p, email=f"s{p}@example.com") for p in (1999, 1001, 777)]
    accrue(app, shop, now=in_nov)
    refund_to_wallet(app, shop, numbers[1])
    accrue(app, shop, now=in_nov + timedelta(days=1))
    # 00:30 on 1 December in Shanghai is still 30 November in UTC: December's.
    _wallet_sale(app, shop, 5000, email="december@example.com")
    accrue(app, shop, now=datetime(2026, 11, 30, 16, 30, tzinfo=UTC))

    nov = _statement(app, shop, NOVEMBER)

    start = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 1 November, 00:00 in Shanghai
    end = datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert nov.accrued == _ledger_sum(app, shop, "platform_commission", start, end) == 67 + 33 + 26
    assert nov.reversed == -_ledger_sum(app, shop, "platform_fee_reversed", start, end) == 33
    assert nov.matches_ledger
    [wallet] = nov.sales
    assert (wallet.provider, wallet.orders, wallet.sold) == ("wallet", 3, 1999 + 1001 + 777)
    assert (wallet.refunds, wallet.refunded) == (1, 1001)
    assert nov.subscription_fee == 0  # the free plan
    assert nov.total_due == 67 + 26

    dec = _statement(app, shop, date(2026, 12, 1))
    assert (dec.accrued, dec.sold) == (167, 5000)
    assert dec.matches_ledger


def test_a_month_is_given_as_yyyy_mm():
    from app.billing.statements import parse_month
    from app.core.errors import ValidationFailed

    assert parse_month("2026-02") == date(2026, 2, 1)
    for bad in ("2026-13", "26-01", "2026/01", "next month", ""):
        with pytest.raises(ValidationFailed):
            parse_month(bad)


# --- the monthly bill on the shop's Stripe customer ---------------------------


def _give_customer(app, shop, customer_id: str | None) -> None:
    from app.billing.models import Subscription

    end_outer_transaction()
    with app.app_context():
        db.session.execute(
            update(Subscription)
            .where(Subscription.tenant_id == shop.id)
            .values(stripe_customer_id=customer_id)
        )
        db.session.commit()
        db.session.remove()


def _bill(app, shop, month, now=None):
    from app.billing import invoicing

    return run_in_shop(app, shop, lambda: invoicing.bill_month(month, now=now))


def test_the_months_commission_is_billed_once_as_an_invoice_item(app, stripe_on):  # noqa: F811
    shop = open_shop(app, "statement-bill")
    on_plan_past_offer(app, shop, "free", 300)
    customer = stripe_on.v1.customers.create(params={"email": "owner@statement-bill.example"})
    _give_customer(app, shop, customer.id)
    _wallet_sale(app, shop, 2000)
    _wallet_sale(app, shop, 1000, email="second@example.com")
    accrue(app, shop, now=datetime(2026, 10, 20, tzinfo=UTC))

    bill = _bill(app, shop, date(2026, 10, 1))

    assert (bill.status, bill.amount) == ("billed", 90)
    items = stripe_on.v1.invoice_items.list(params={"customer": customer.id}).data
    assert [(i.id, i.amount, i.currency) for i in items] == [(bill.invoice_item, 90, "cny")]
    assert _bill(app, shop, date(2026, 10, 1)).status == "already_billed"
    assert len(stripe_on.v1.invoice_items.list(params={"customer": customer.id}).data) == 1
    # The bill empties what the shop owes; the statement says it was billed.
    october = _statement(app, shop, date(2026, 10, 1))
    assert (october.accrued, october.billed, october.matches_ledger) == (90, 90, True)
    december = datetime(2026, 12, 2, tzinfo=UTC)
    assert _bill(app, shop, date(2026, 11, 1), now=december).status == "nothing_due"


def test_a_shop_with_no_stripe_customer_is_skipped_and_flagged(app, stripe_on):  # noqa: F811
    shop = open_shop(app, "statement-nocustomer")
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 2000)
    accrue(app, shop, now=datetime(2026, 10, 20, tzinfo=UTC))

    bill = _bill(app, shop, date(2026, 10, 1))

    assert (bill.status, bill.amount) == ("no_customer", 60)
    assert _statement(app, shop, date(2026, 10, 1)).billed is None


def test_a_month_that_has_not_ended_is_not_billed(app, stripe_on):  # noqa: F811
    from app.billing.statements import this_month
    from app.core.errors import ValidationFailed

    shop = open_shop(app, "statement-early")
    with pytest.raises(ValidationFailed):
        _bill(app, shop, this_month("UTC"))
