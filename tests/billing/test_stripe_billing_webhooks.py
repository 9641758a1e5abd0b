"""Stripe Billing's events drive a shop's subscription: signed (a bad
signature records nothing), handled once by event id, and out of order
safe (an older event never overwrites a newer state). The events carry
localstripe's own subscription and invoice objects; Checkout's event is
Stripe's recorded payload (``fixtures/``). All go through the real endpoint
on the platform host."""

from __future__ import annotations

import time

import pytest

from tests.billing.stripe_support import (
    as_dict,
    event,
    post_event,
    recorded_event,
    stored,
    subscribed,
)
from tests.billing.support import free_pro_business, put_on_plan
from tests.console.support import audit_trail
from tests.payments.support import stored_events

pytestmark = pytest.mark.critical


def stripe_sub(stripe_client, sub_id: str, **changes) -> dict:
    obj = as_dict(stripe_client.v1.subscriptions.retrieve(sub_id))
    obj.update(changes)
    return obj


def invoice_of(stripe_client, sub: dict) -> dict:
    """The subscription's first invoice as localstripe made it."""
    invoices = stripe_client.v1.invoices.list(params={"customer": sub["customer"]})
    found = [as_dict(i) for i in invoices.data if i.subscription == sub["subscription"]]
    assert found, "localstripe made no invoice"
    return found[0]


def test_subscription_events_set_the_state_once_however_often_they_come(
    app, shop, platform, stripe_on
):
    sub = subscribed(app, shop)
    body = event(
        "customer.subscription.updated",
        stripe_sub(stripe_on, sub["subscription"], status="past_due"),
        created=int(time.time()) + 5,
    )

    first = post_event(platform, body)
    replays = [post_event(platform, body) for _ in range(3)]

    assert first == (200, {"received": True, "duplicate": False, "outcome": "past_due"})
    assert all(
        r == (200, {"received": True, "duplicate": True, "outcome": "past_due"}) for r in replays
    )
    assert stored(app, shop)["status"] == "past_due"
    assert stored(app, shop)["past_due_since"] is not None
    events = stored_events(app, provider="stripe_billing")
    assert len(events) == 1 and events[0]["tenant_id"] == shop.id
    assert ("Stripe Billing", "billing.status_changed") in [
        (w, a) for w, a, _, _ in audit_trail(app, shop)
    ]


def test_an_older_event_never_overwrites_a_newer_state(app, shop, platform, stripe_on):
    sub = subscribed(app, shop)
    now = int(time.time())
    newer = event(
        "customer.subscription.updated",
        stripe_sub(stripe_on, sub["subscription"], status="past_due"),
        created=now + 20,
    )
    older = event(
        "customer.subscription.updated",
        stripe_sub(stripe_on, sub["subscription"], status="active"),
        created=now + 10,
    )
    older_paid = event("invoice.paid", invoice_of(stripe_on, sub), created=now + 15)

    assert post_event(platform, newer)[1]["outcome"] == "past_due"
    assert post_event(platform, older)[1]["outcome"] == "stale"
    assert post_event(platform, older_paid)[1]["outcome"] == "stale"

    assert stored(app, shop)["status"] == "past_due"


def test_a_failed_invoice_makes_it_past_due_and_a_paid_one_active_again(
    app, shop, platform, stripe_on
):
    sub = subscribed(app, shop)
    invoice = invoice_of(stripe_on, sub)
    now = int(time.time())

    failed = post_event(platform, event("invoice.payment_failed", invoice, created=now + 5))
    assert failed[1]["outcome"] == "past_due"
    assert stored(app, shop)["status"] == "past_due"

    paid = post_event(platform, event("invoice.paid", invoice, created=now + 10))
    assert paid[1]["outcome"] == "restored"
    found = stored(app, shop)
    assert found["status"] == "active" and found["past_due_since"] is None


def test_the_plan_follows_the_price_stripe_says(app, shop, platform, stripe_on):
    from app.billing import plans
    from app.extensions import db
    from tests.factories import end_outer_transaction

    sub = subscribed(app, shop)
    end_outer_transaction()
    with app.app_context():
        business = plans.get_plan("business")
        business.stripe_price_id = "plan_business_at_stripe"
        db.session.commit()
        db.session.remove()
    obj = stripe_sub(stripe_on, sub["subscription"])
    obj["items"]["data"][0]["plan"]["id"] = "plan_business_at_stripe"
    obj["current_period_end"] = int(time.time()) + 40 * 86400

    answer = post_event(
        platform, event("customer.subscription.updated", obj, created=int(time.time()) + 5)
    )

    assert answer[1]["outcome"] == "active"
    found = stored(app, shop)
    assert found["plan"] == "business"
    assert found["period_end"].timestamp() == obj["current_period_end"]


def test_a_deleted_subscription_moves_the_shop_to_the_default_plan(
    app, shop, platform, stripe_on, monkeypatch
):
    monkeypatch.setitem(app.config, "BILLING_DEFAULT_PLAN", "free")
    sub = subscribed(app, shop)
    obj = stripe_sub(stripe_on, sub["subscription"], status="canceled")

    answer = post_event(
        platform, event("customer.subscription.deleted", obj, created=int(time.time()) + 5)
    )

    assert answer[1]["outcome"] == "canceled"
    assert stored(app, shop)["plan"] == "free"
    assert stored(app, shop)["status"] == "canceled"


def test_a_bad_signature_is_refused_and_nothing_is_recorded(app, shop, platform, stripe_on):
    sub = subscribed(app, shop)
    body = event(
        "customer.subscription.updated",
        stripe_sub(stripe_on, sub["subscription"], status="past_due"),
    )

    status, problem = post_event(platform, body, signature="t=1,v1=forged")
    assert status == 400 and problem["type"].endswith("/webhook-signature-invalid")
    status, _ = post_event(platform, body, signature="")
    assert status == 400

    assert stored_events(app, provider="stripe_billing") == []
    assert stored(app, shop)["status"] == "active"


def test_metadata_naming_another_shop_reaches_nothing(app, shops, platform, stripe_on):
    a, b = shops["alpha"], shops["bravo"]
    sub_a = subscribed(app, a)
    # A subscription at Stripe that is not B's, whose metadata names B.
    obj = stripe_sub(stripe_on, sub_a["subscription"], id="sub_not_ours", status="canceled")
    obj["metadata"] = {"kameng_tenant_id": str(b.id)}
    put_on_plan(app, b, "free")

    answer = post_event(platform, event("customer.subscription.deleted", obj))

    assert answer[1]["outcome"] == "unknown_subscription"
    assert stored(app, b)["plan"] == "free" and stored(app, b)["status"] == "active"
    assert stored(app, a)["status"] == "active"


def test_the_endpoint_is_on_the_platform_host_only(app, shop, browser_for, stripe_on):
    body = event("customer.subscription.updated", {"id": "sub_x", "object": "subscription"})
    status, _ = post_event(browser_for(shop.host), body)
    assert status == 404


def test_checkout_completed_puts_the_shop_on_the_plan_it_paid_for(app, shop, platform, stripe_on):
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    customer = stripe_on.v1.customers.create(params={"email": shop.owner_email})
    body = recorded_event(
        "checkout.session.completed",
        tenant_id=shop.id,
        customer_id=customer.id,
        subscription_id="sub_from_checkout",
        email=shop.owner_email,
        plan="pro",
    )

    first = post_event(platform, body)
    again = post_event(platform, body)

    assert first == (200, {"received": True, "duplicate": False, "outcome": "checkout_completed"})
    assert again[1]["duplicate"] is True
    found = stored(app, shop)
    assert found["plan"] == "pro" and found["status"] == "active"
    assert found["customer"] == customer.id and found["subscription"] == "sub_from_checkout"
    assert ("Stripe Billing", "billing.subscribed", "plan:pro") in [
        (w, a, s) for w, a, s, _ in audit_trail(app, shop)
    ]


def test_checkout_of_another_customer_does_not_take_over_a_shop(app, shop, platform, stripe_on):
    sub = subscribed(app, shop)
    body = recorded_event(
        "checkout.session.completed",
        tenant_id=shop.id,
        customer_id="cus_someone_else",
        subscription_id="sub_someone_else",
        email="someone@example.com",
        plan="business",
    )

    assert post_event(platform, body)[1]["outcome"] == "other_customer"
    found = stored(app, shop)
    assert found["plan"] == "pro" and found["subscription"] == sub["subscription"]


def test_an_older_checkout_event_does_not_undo_a_newer_state(app, shop, platform, stripe_on):
    sub = subscribed(app, shop)
    now = int(time.time())
    post_event(
        platform,
        event(
            "customer.subscription.updated",
            stripe_sub(stripe_on, sub["subscription"], status="past_due"),
            created=now + 20,
        ),
    )
    body = recorded_event(
        "checkout.session.completed",
        created=now + 10,
        tenant_id=shop.id,
        customer_id=sub["customer"],
        subscription_id=sub["subscription"],
        email=shop.owner_email,
        plan="pro",
    )

    assert post_event(platform, body)[1]["outcome"] == "stale"
    assert stored(app, shop)["status"] == "past_due"


def test_late_news_of_an_old_subscription_leaves_the_new_one_alone(app, shop, platform, stripe_on):
    from app.billing import subscriptions
    from app.extensions import db
    from tests.factories import end_outer_transaction

    old = subscribed(app, shop)
    end_outer_transaction()
    with app.app_context():
        subscriptions.cancel(shop.id, actor="test")
        subscriptions.subscribe_with_card(
            shop.id,
            "pro",
            email=shop.owner_email,
            payment_method="pm_card_visa",
            attempt="second",
            actor="test",
        )
        db.session.remove()
    new = stored(app, shop)
    assert new["subscription"] != old["subscription"] and new["status"] == "active"
    obj = stripe_sub(stripe_on, old["subscription"])

    answer = post_event(
        platform, event("customer.subscription.deleted", obj, created=int(time.time()) + 60)
    )

    assert answer[1]["outcome"] == "unknown_subscription"
    assert stored(app, shop)["status"] == "active"
    assert stored(app, shop)["subscription"] == new["subscription"]
