"""Paying for a plan through Stripe Billing, against localstripe (the Stripe
double): the owner moves from Free to Pro with a card on the plan page, the
subscription is made at "Stripe" with the plan's price, and the shop's
limits change at once. A declined or unreadable card changes nothing and
keeps what was typed; the same form sent twice subscribes once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.billing.support import free_pro_business, put_on_plan
from tests.console.support import audit_trail, console, text_of
from tests.factories import end_outer_transaction, run_in_shop

CARD = {"number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123"}


@pytest.fixture
def card_on_page(app, stripe_on, monkeypatch):
    """Stripe on, Checkout off: the plan page takes a card."""
    monkeypatch.setitem(app.config, "BILLING_CHECKOUT", False)
    return stripe_on


def add_products(app, shop, n: int) -> None:
    from app.catalog import services

    for i in range(n):
        run_in_shop(app, shop, services.create_product, {"name": f"Card {i}", "price": 100})


def may_add_product(app, shop) -> bool:
    from app.billing.limits import PlanLimitReached
    from app.catalog import services

    try:
        run_in_shop(app, shop, services.create_product, {"name": "One more", "price": 100})
    except PlanLimitReached:
        return False
    return True


def subscription(app, shop) -> dict:
    from app.billing.models import Subscription

    end_outer_transaction()
    with app.app_context():
        row = db.session.scalar(select(Subscription).where(Subscription.tenant_id == shop.id))
        found = {
            "plan": row.plan.code,
            "status": row.status,
            "customer": row.stripe_customer_id,
            "subscription": row.stripe_subscription_id,
            "price": row.plan.stripe_price_id,
            "period_end": row.current_period_end,
        }
        db.session.remove()
    return found


def plan_form(owner, plan: str = "pro", **card) -> dict:
    return {"plan": plan, **CARD, **card}


def test_a_free_shop_upgrades_to_pro_with_a_card_and_its_limits_change_at_once(
    app, shop, browser_for, card_on_page
):
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    add_products(app, shop, 2)
    assert not may_add_product(app, shop)  # Free: 2 products
    owner = console(browser_for, shop.host, shop.owner_email)
    page = text_of(owner.get("/console/plan"))
    assert "Move to a paid plan" in page and "Card number" in page

    answer = owner.submit("/console/plan", plan_form(owner), action="/console/plan/subscribe")

    assert answer.status_code == 302, text_of(answer)
    page = text_of(owner.get(answer.headers["Location"]))
    assert "Your shop is on Pro. Its limits apply now." in page
    assert "2 of 5" in page
    found = subscription(app, shop)
    assert found["plan"] == "pro" and found["status"] == "active"
    assert found["period_end"] is not None
    assert may_add_product(app, shop)  # at once, no webhook needed

    at_stripe = card_on_page.v1.subscriptions.retrieve(found["subscription"])
    assert at_stripe.status == "active"
    assert at_stripe["items"].data[0].plan.id == found["price"]
    assert at_stripe.customer == found["customer"]
    customer = card_on_page.v1.customers.retrieve(found["customer"])
    assert customer.email == shop.owner_email
    assert customer.metadata["kameng_tenant_id"] == str(shop.id)
    plan = card_on_page.v1.plans.retrieve(found["price"])
    assert plan.amount == 9_900 and plan.currency == "cny" and plan.interval == "month"
    assert ("billing.subscribed", "plan:pro") in [(a, s) for _, a, s, _ in audit_trail(app, shop)]


def test_a_declined_card_changes_nothing_and_keeps_what_was_typed(
    app, shop, browser_for, card_on_page
):
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.submit(
        "/console/plan",
        plan_form(owner, number="4000 0000 0000 0002"),
        action="/console/plan/subscribe",
    )

    page = text_of(answer)
    assert answer.status_code in (402, 422)
    assert "declined" in page or "did not accept" in page
    assert 'value="4000 0000 0000 0002"' in page and 'value="12/34"' in page
    assert 'value="123"' not in page  # the security code is never sent back
    assert subscription(app, shop)["plan"] == "free"


def test_a_card_that_cannot_be_read_is_said_beside_its_field(app, shop, browser_for, card_on_page):
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.submit(
        "/console/plan",
        plan_form(owner, number="4242", expiry="13/20", cvc="x"),
        action="/console/plan/subscribe",
    )

    page = text_of(answer)
    assert answer.status_code == 422
    assert "12 to 19 digits" in page
    assert "like 12/30" in page
    assert "3 or 4 digits" in page
    assert 'value="4242"' in page and 'value="13/20"' in page
    assert subscription(app, shop)["plan"] == "free"


def test_the_same_form_sent_twice_subscribes_once(app, shop, card_on_page):
    from app.billing import subscriptions

    free_pro_business(app)
    put_on_plan(app, shop, "free")
    end_outer_transaction()
    made = []
    with app.app_context():
        for _ in range(2):
            row = subscriptions.subscribe_with_card(
                shop.id,
                "pro",
                email=shop.owner_email,
                payment_method="pm_card_visa",
                attempt="one-form",
                actor="test",
            )
            made.append(row.stripe_subscription_id)
        db.session.remove()
    assert made[0] == made[1]
    listed = card_on_page.v1.subscriptions.list(
        params={"customer": subscription(app, shop)["customer"]}
    )
    assert len(listed.data) == 1


def test_moving_to_business_changes_the_stripe_subscription_not_a_second_one(
    app, shop, card_on_page
):
    from app.billing import subscriptions

    free_pro_business(app)
    put_on_plan(app, shop, "free")
    end_outer_transaction()
    with app.app_context():
        for plan, attempt in (("pro", "a"), ("business", "b")):
            subscriptions.subscribe_with_card(
                shop.id,
                plan,
                email=shop.owner_email,
                payment_method="pm_card_visa",
                attempt=attempt,
                actor="test",
            )
        db.session.remove()
    found = subscription(app, shop)
    assert found["plan"] == "business" and found["status"] == "active"
    at_stripe = card_on_page.v1.subscriptions.retrieve(found["subscription"])
    assert at_stripe["items"].data[0].plan.id == found["price"]
    listed = card_on_page.v1.subscriptions.list(params={"customer": found["customer"]})
    assert len(listed.data) == 1


def test_a_plan_with_trial_days_starts_trialing_with_nothing_charged(app, shop, card_on_page):
    from app.billing import plans, subscriptions

    free_pro_business(app)
    end_outer_transaction()
    with app.app_context():
        plans.update_plan("pro", {"trial_days": 14})
        row = subscriptions.subscribe_with_card(
            shop.id,
            "pro",
            email=shop.owner_email,
            payment_method="pm_card_visa",
            attempt="trial",
            actor="test",
        )
        assert row.status == "trialing" and row.plan.code == "pro"
        db.session.remove()
    at_stripe = card_on_page.v1.subscriptions.retrieve(subscription(app, shop)["subscription"])
    assert at_stripe.trial_period_days == 14
    assert at_stripe.latest_invoice is None  # nothing charged during the trial


def test_cancelling_puts_the_shop_on_the_default_plan_after_a_confirmation(
    app, shop, browser_for, card_on_page, monkeypatch
):
    free_pro_business(app)
    monkeypatch.setitem(app.config, "BILLING_DEFAULT_PLAN", "free")
    owner = console(browser_for, shop.host, shop.owner_email)
    owner.submit("/console/plan", plan_form(owner), action="/console/plan/subscribe")
    stripe_id = subscription(app, shop)["subscription"]
    page = text_of(owner.get("/console/plan"))
    assert "Cancel the subscription" in page and "Cancel now?" in page

    answer = owner.submit("/console/plan", {}, action="/console/plan/cancel")

    assert answer.status_code == 302
    assert "Your shop is on Free" in text_of(owner.get("/console/plan"))
    found = subscription(app, shop)
    assert found["status"] == "canceled" and found["plan"] == "free"
    assert card_on_page.v1.subscriptions.retrieve(stripe_id).status == "canceled"


def test_checkout_where_stripe_has_none_is_said_on_the_page(
    app, shop, browser_for, stripe_on, monkeypatch
):
    monkeypatch.setitem(app.config, "BILLING_CHECKOUT", True)
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    owner = console(browser_for, shop.host, shop.owner_email)
    page = text_of(owner.get("/console/plan"))
    assert "Move to Pro" in page and "Card number" not in page

    answer = owner.submit("/console/plan", {"plan": "pro"}, action="/console/plan/checkout")

    assert answer.status_code == 422
    assert "did not accept this. Nothing was charged." in text_of(answer)
    assert subscription(app, shop)["plan"] == "free"


def test_without_stripe_the_page_says_to_contact_the_platform(app, shop, browser_for):
    free_pro_business(app)
    owner = console(browser_for, shop.host, shop.owner_email)
    page = text_of(owner.get("/console/plan"))
    assert "contact it" in page and "Card number" not in page


def test_staff_and_strangers_cannot_change_the_plan(app, shop, browser_for, card_on_page):
    from tests.factories import add_member

    free_pro_business(app)
    put_on_plan(app, shop, "free")
    add_member(app, shop, "staff@example.com")
    staff = console(browser_for, shop.host, "staff@example.com")
    stranger = browser_for(shop.host)
    for path in ("/console/plan/subscribe", "/console/plan/checkout", "/console/plan/cancel"):
        answer = staff.submit("/console/orders", plan_form(staff), action=path)
        assert answer.status_code == 403, path
        answer = stranger.post(path, data=plan_form(stranger))
        assert answer.status_code in (302, 400), path
    assert subscription(app, shop)["plan"] == "free"


def test_another_shops_session_cannot_change_this_shops_plan(app, shops, browser_for, card_on_page):
    a, b = shops["alpha"], shops["bravo"]
    free_pro_business(app)
    put_on_plan(app, a, "free")
    put_on_plan(app, b, "free")
    owner_a = console(browser_for, a.host, a.owner_email)
    token = owner_a.csrf_token("/console/plan")
    stolen = owner_a.client.get_cookie("kameng_session", domain=a.host)
    at_bravo = browser_for(b.host)
    at_bravo.client.set_cookie("kameng_session", stolen.value, domain=b.host)

    answer = at_bravo.post(
        "/console/plan/subscribe", data={"csrf_token": token, **plan_form(at_bravo)}
    )

    assert answer.status_code in (302, 400, 403, 404)
    assert answer.status_code != 302 or "/console/login" in answer.headers["Location"]
    assert subscription(app, a)["plan"] == "free"
    assert subscription(app, b)["plan"] == "free"


def test_a_declined_card_of_a_shop_with_no_subscription_leaves_none(app, shop, card_on_page):
    from app.billing import subscriptions
    from app.billing.models import Subscription

    free_pro_business(app)
    end_outer_transaction()
    with app.app_context():
        with pytest.raises(subscriptions.BillingProviderFailed):
            subscriptions.subscribe_with_card(
                shop.id,
                "pro",
                email=shop.owner_email,
                payment_method="pm_card_visa_chargeDeclined",
                attempt="declined",
                actor="test",
            )
        db.session.rollback()
        assert (
            db.session.scalar(select(Subscription).where(Subscription.tenant_id == shop.id)) is None
        )
        db.session.remove()
    listed = card_on_page.v1.subscriptions.list(params={"limit": 100, "status": "all"})
    made = [
        s
        for s in listed.auto_paging_iter()
        if (s.to_dict().get("metadata") or {}).get("kameng_tenant_id") == str(shop.id)
    ]
    assert all(s.status == "canceled" for s in made)  # none left waiting, unpaid


def test_back_from_checkout_the_page_says_stripe_is_confirming(app, shop, browser_for):
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    owner = console(browser_for, shop.host, shop.owner_email)

    page = text_of(owner.get("/console/plan?paid=1"))

    assert "Stripe is confirming the payment" in page
    assert subscription(app, shop)["plan"] == "free"  # the event changes it, not the address
