"""The platform's fee on a card payment comes from the shop's plan.

localstripe (1.15) has no Connect: it refuses ``application_fee_amount``
and the ``Stripe-Account`` header's accounts, so these tests read what the
real ``stripe`` library sends through the request recorder of
``tests/payments/test_stripe_connect.py`` (a real HTTP server).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.extensions import db
from tests.billing.support import launch_offer_ends, make_plan, put_on_plan
from tests.factories import add_product, codes, open_shop
from tests.payments.conftest import live_server  # noqa: F401 - a fixture
from tests.payments.support import pay, place_order
from tests.payments.test_stripe_connect import ACCOUNT, recorder  # noqa: F401 - a fixture


def _fee_sent(app, recorder, shop, price: int) -> str | None:  # noqa: F811
    order = place_order(app, shop, add_product(app, shop, price=price, stock=codes("FEE", 3)))
    pay(app, shop, order.id, "stripe")
    sent = [r for r in recorder.requests if r.path == "/v1/payment_intents"][-1]
    assert sent.headers["Stripe-Account"] == ACCOUNT
    return sent.form.get("application_fee_amount")


def test_a_card_payment_on_a_connected_account_carries_the_plans_fee(app, recorder):  # noqa: F811
    shop = open_shop(app, "fee-plan", stripe_account=ACCOUNT)
    make_plan(app, "pro", commission_bps=100)
    put_on_plan(app, shop, "pro")
    launch_offer_ends(app, shop, datetime.now(UTC) - timedelta(days=1))

    assert _fee_sent(app, recorder, shop, 1999) == "20"  # 1 % of 19.99, rounded once


def test_no_fee_during_the_launch_offer(app, recorder):  # noqa: F811
    shop = open_shop(app, "fee-offer", stripe_account=ACCOUNT)
    make_plan(app, "pro", commission_bps=100)
    put_on_plan(app, shop, "pro")
    launch_offer_ends(app, shop, datetime.now(UTC) + timedelta(days=10))

    assert _fee_sent(app, recorder, shop, 1999) == "0"


def test_a_shop_with_no_plan_pays_the_platform_fee(app, recorder):  # noqa: F811
    shop = open_shop(app, "fee-none", stripe_account=ACCOUNT)

    assert _fee_sent(app, recorder, shop, 1999) == "60"  # PLATFORM_FEE_BPS 300


def test_rate_for_follows_the_plan_and_the_launch_offer(app):
    from app.billing.commission import rate_for

    shop = open_shop(app, "rate-for")
    make_plan(app, "free", commission_bps=300)
    put_on_plan(app, shop, "free")
    ends = datetime.now(UTC) + timedelta(days=5)
    launch_offer_ends(app, shop, ends)
    with app.app_context():
        assert rate_for(shop.id, ends - timedelta(seconds=1)) == 0
        assert rate_for(shop.id, ends) == 300
        db.session.remove()


def test_a_payment_started_in_the_launch_offer_is_confirmed_after_it_ended(
    app,
    recorder,  # noqa: F811
    live_server,  # noqa: F811
):
    from tests.payments.support import order_status, post_webhook, sign, stripe_event

    shop = open_shop(app, "fee-offer-ends", stripe_account=ACCOUNT)
    make_plan(app, "pro", commission_bps=100)
    put_on_plan(app, shop, "pro")
    launch_offer_ends(app, shop, datetime.now(UTC) + timedelta(days=1))
    order = place_order(app, shop, add_product(app, shop, price=2500, stock=codes("END", 3)))
    started = pay(app, shop, order.id, "stripe")
    sent = [r for r in recorder.requests if r.path == "/v1/payment_intents"][-1]
    assert sent.form["application_fee_amount"] == "0"
    launch_offer_ends(app, shop, datetime.now(UTC) - timedelta(seconds=1))

    intent = {
        "id": started.details["payment_intent"],
        "object": "payment_intent",
        "amount": 2500,
        "amount_received": 2500,
        "currency": "cny",
        "status": "succeeded",
        "application_fee_amount": 0,
        "metadata": {
            "kameng_tenant_id": str(shop.id),
            "kameng_purpose": "order",
            "kameng_order_id": str(order.id),
            "kameng_payment_id": sent.form["metadata[kameng_payment_id]"],
        },
    }
    event = stripe_event("payment_intent.succeeded", intent, account=ACCOUNT)

    assert post_webhook(live_server, event, sign(event))[1]["outcome"] == "order_paid"
    assert order_status(app, shop, order.id) in ("paid", "delivered")
