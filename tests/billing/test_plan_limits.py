"""A plan's limits, enforced in the services every surface calls: one
below the limit is allowed, at the limit the write is refused with a
``plan-limit`` problem naming the limit, the shop's plan and the cheapest
plan on offer that lifts it; a downgrade keeps every row and blocks only
new ones."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from app.billing.limits import PlanLimitReached
from app.extensions import db
from tests.billing.support import free_pro_business, make_plan, put_on_plan
from tests.factories import assert_problem, bearer, run_in_shop


def _refusal(app, shop, fn, *args, **kwargs) -> PlanLimitReached:
    def attempt():
        with pytest.raises(PlanLimitReached) as caught:
            fn(*args, **kwargs)
        db.session.rollback()
        return caught.value

    return run_in_shop(app, shop, attempt)


def _product(n: int) -> dict:
    return {"name": f"Card {n}", "price": 100}


def test_a_shop_without_a_plan_is_unlimited(app, shop):
    from app.catalog import services
    from app.catalog.models import Product

    free_pro_business(app)  # plans exist, but the shop is on none of them
    for n in range(3):
        run_in_shop(app, shop, services.create_product, _product(n))

    count = run_in_shop(app, shop, lambda: db.session.scalar(select(func.count(Product.id))))
    assert count == 3


def test_products_one_below_the_limit_is_allowed_at_the_limit_refused(app, shop, browser_for):
    from app.catalog import services

    free_pro_business(app)
    put_on_plan(app, shop, "free")
    run_in_shop(app, shop, services.create_product, _product(1))

    api = browser_for(shop.host)
    second = api.post("/api/v1/products", json=_product(2), headers=bearer(shop.key))
    third = api.post("/api/v1/products", json=_product(3), headers=bearer(shop.key))

    assert second.status_code == 201, second.get_json()
    body = assert_problem(third, 403, "plan-limit")
    assert body["limit"] == "products"
    assert body["plan"] == "free"
    assert body["upgrade"] == "pro"
    assert body["allowed"] == 2 and body["used"] == 2
    assert "pro" in body["detail"]


def test_staff_seats_are_counted_and_the_next_one_refused(app, shop, make_member):
    from app.accounts import members
    from app.accounts.models import PlatformUser
    from tests.factories import password_hash

    free_pro_business(app)
    put_on_plan(app, shop, "free")
    make_member(shop, "one@example.com")
    make_member(shop, "two@example.com")

    def third():
        user = PlatformUser(email="three@example.com", password_hash=password_hash())
        db.session.add(user)
        db.session.flush()
        return members.add_staff(user, "test")

    refused = _refusal(app, shop, third)

    assert refused.extra["limit"] == "staff" and refused.extra["upgrade"] == "pro"
    assert "Pro" in refused.user_message()


def test_a_custom_domain_past_the_limit_is_refused(app, shop):
    from app.settings import domains

    free_pro_business(app)
    put_on_plan(app, shop, "free")
    run_in_shop(app, shop, domains.add_domain, "one.example.com", actor="test")
    run_in_shop(app, shop, domains.add_domain, "two.example.com", actor="test")

    refused = _refusal(app, shop, domains.add_domain, "three.example.com", actor="test")

    assert refused.extra["limit"] == "domains"
    assert [d.host for d in run_in_shop(app, shop, domains.list_domains)] == [
        "one.example.com",
        "two.example.com",
    ]


def test_a_plan_without_api_access_refuses_new_keys_and_keeps_the_old_ones(app, shop, browser_for):
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    api = browser_for(shop.host)

    made = api.post("/api/v1/api-keys", json={"name": "sync"}, headers=bearer(shop.key))
    listed = api.get("/api/v1/api-keys", headers=bearer(shop.key))

    body = assert_problem(made, 403, "plan-limit")
    assert body["limit"] == "api" and body["upgrade"] == "pro"
    assert listed.status_code == 200  # the key made before the downgrade still works


def test_a_plan_without_sub_shops_refuses_a_new_one_and_keeps_an_open_one(app, shop, make_account):
    from app.agents import sub_shop_settings

    agent = make_account(shop, "agent@alpha.example.com", "agent")
    other = make_account(shop, "agent2@alpha.example.com", "agent")
    run_in_shop(app, shop, sub_shop_settings.save_sub_shop, agent.id, code="star", title="Star")
    free_pro_business(app)
    put_on_plan(app, shop, "free")

    refused = _refusal(
        app, shop, sub_shop_settings.save_sub_shop, other.id, code="moon", title="Moon"
    )

    def rename():
        sub_shop, created = sub_shop_settings.save_sub_shop(agent.id, code="star", title="Star 2")
        return sub_shop.title, created

    changed, created = run_in_shop(app, shop, rename)

    assert refused.extra["limit"] == "sub_shops"
    assert refused.extra["upgrade"] == "business"  # Pro has no sub-shops either
    assert (changed, created) == ("Star 2", False)


def test_orders_a_month_are_counted_and_the_next_refused(app, shop, make_product, browser_for):
    product = make_product(shop, stock=[f"CODE-{n}" for n in range(5)])
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    api = browser_for(shop.host)

    def order(n: int):
        return api.post(
            "/api/v1/orders",
            json={"product_id": str(product), "quantity": 1, "email": f"b{n}@example.com"},
            headers=bearer(shop.key),
        )

    placed = [order(n).status_code for n in range(2)]
    refused = order(3)

    assert placed == [201, 201]
    body = assert_problem(refused, 403, "plan-limit")
    assert body["limit"] == "orders_month" and body["upgrade"] == "pro"


def test_a_downgrade_keeps_every_product_and_blocks_only_new_ones(app, shop):
    from app.catalog import services

    free_pro_business(app)
    put_on_plan(app, shop, "pro")
    made = [run_in_shop(app, shop, services.create_product, _product(n)).id for n in range(4)]
    put_on_plan(app, shop, "free")

    kept, total = run_in_shop(app, shop, services.list_products, per_page=50)
    renamed = run_in_shop(
        app, shop, lambda: services.update_product(made[0], {"name": "Renamed"}).name
    )
    refused = _refusal(app, shop, services.create_product, _product(9))

    assert total == 4 and len(kept) == 4
    assert renamed == "Renamed"
    assert refused.extra["plan"] == "free" and refused.extra["used"] == 4


def test_an_upgrade_lifts_the_limit_at_once(app, shop):
    from app.catalog import services

    free_pro_business(app)
    put_on_plan(app, shop, "free")
    for n in range(2):
        run_in_shop(app, shop, services.create_product, _product(n))
    _refusal(app, shop, services.create_product, _product(3))

    put_on_plan(app, shop, "pro")

    assert run_in_shop(app, shop, lambda: services.create_product(_product(3)).name) == "Card 3"


def test_the_cheapest_active_plan_that_lifts_the_limit_is_named(app, shop):
    from app.billing import plans
    from app.catalog import services

    make_plan(app, "free", max_products=1)
    make_plan(app, "big", price=50_000, max_products=100)
    make_plan(app, "mid", price=2_000, max_products=10)
    make_plan(app, "cheap-but-small", price=1_000, max_products=1)
    make_plan(app, "retired", price=500, max_products=1_000)
    with app.app_context():
        plans.set_plan_active("retired", False)
        db.session.remove()
    put_on_plan(app, shop, "free")
    run_in_shop(app, shop, services.create_product, _product(1))

    refused = _refusal(app, shop, services.create_product, _product(2))

    assert refused.extra["upgrade"] == "mid"


def test_no_plan_on_offer_lifts_it_says_so(app, shop):
    from app.catalog import services

    make_plan(app, "only", max_products=0)
    put_on_plan(app, shop, "only")

    refused = _refusal(app, shop, services.create_product, _product(1))

    assert refused.extra["upgrade"] is None
    assert "No plan on offer lifts this limit" in refused.user_message()


def test_the_default_plan_applies_to_a_shop_without_a_subscription(app, shop):
    from app.catalog import services

    make_plan(app, "starter", max_products=0)
    app.config["BILLING_DEFAULT_PLAN"] = "starter"
    try:
        refused = _refusal(app, shop, services.create_product, _product(1))
    finally:
        app.config["BILLING_DEFAULT_PLAN"] = None

    assert refused.extra["plan"] == "starter"


def test_a_limit_in_one_shop_leaves_another_shop_alone(app, shops):
    from app.catalog import services

    make_plan(app, "tiny", max_products=0)
    put_on_plan(app, shops["alpha"], "tiny")

    _refusal(app, shops["alpha"], services.create_product, _product(1))
    made = run_in_shop(app, shops["bravo"], lambda: services.create_product(_product(1)).name)

    assert made == "Card 1"


def test_the_month_begins_in_the_shops_time_zone():
    from datetime import UTC, datetime

    from app.billing.limits import month_start

    evening = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # already 1 December in Shanghai

    assert month_start("Asia/Shanghai", evening) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert month_start("UTC", evening) == datetime(2026, 11, 1, tzinfo=UTC)
    assert month_start("Nowhere/Else", evening) == datetime(2026, 11, 1, tzinfo=UTC)


def test_a_check_reads_the_plan_once_a_request_and_counts_only_a_capped_limit(app, shop):
    from sqlalchemy import event

    from app.billing import limits

    make_plan(app, "roomy", max_products=100)  # orders a month: unlimited
    put_on_plan(app, shop, "roomy")
    statements: list[str] = []

    me = threading.get_ident()

    def count(*args):
        # Not SQLite's BEGIN, and not another thread's work on the shared
        # engine (a live server or a flusher left by an earlier test).
        if args[2].startswith("SELECT") and threading.get_ident() == me:
            statements.append(args[2])

    def checks():
        with app.test_request_context("/"):
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                limits.check("orders_month")  # the plan: one query
                limits.check("orders_month")  # cached: none
                limits.check("products")  # capped: one count
            finally:
                event.remove(db.engine, "before_cursor_execute", count)

    run_in_shop(app, shop, checks)

    assert len(statements) == 2, [" ".join(s.split())[:300] for s in statements]


def test_no_commission_during_the_launch_offer_then_the_plans(app, shop):
    from datetime import UTC, datetime, timedelta

    from app.billing import plans

    make_plan(app, "free", commission_bps=300)
    put_on_plan(app, shop, "free")

    def rates():
        ends = plans.plan_of(shop.id).subscription.launch_offer_ends_at
        return (
            plans.commission_bps(shop.id, ends - timedelta(seconds=1)),
            plans.commission_bps(shop.id, ends),
            (ends - datetime.now(UTC)).days,
        )

    during, after, days_left = run_in_shop(app, shop, rates)

    assert (during, after) == (0, 300)
    assert 28 <= days_left <= 30  # counted from the day the shop opened


def test_outside_a_request_each_check_reads_the_plan_anew(app, shop):
    """A worker keeps one app context for its life: a plan kept there would
    outlive a change made by another process."""
    from sqlalchemy import update

    from app.billing import limits
    from app.billing.models import Plan, Subscription

    make_plan(app, "tiny", max_products=0)
    make_plan(app, "roomy")
    put_on_plan(app, shop, "roomy")

    def in_one_context():
        limits.check("products")  # roomy: allowed
        tiny = db.session.scalar(select(Plan.id).where(Plan.code == "tiny"))
        db.session.execute(update(Subscription).values(plan_id=tiny))  # as another process would
        db.session.commit()
        with pytest.raises(PlanLimitReached):
            limits.check("products")

    run_in_shop(app, shop, in_one_context)
