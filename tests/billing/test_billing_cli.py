"""``flask --app wsgi billing …`` through Flask's CLI runner: plans made and
listed, a shop assigned a plan on its audit record; bad input is one line,
exit status 2, and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.billing.models import Plan, Subscription
from app.extensions import db
from tests.console.support import audit_trail


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args: str):
        result = runner.invoke(args=list(args))
        with app.app_context():
            db.session.remove()
        return result

    return run


def plan_rows(app) -> dict[str, dict]:
    with app.app_context():
        rows = {
            p.code: {
                "name": p.name,
                "price": p.price,
                "interval": p.interval,
                "commission_bps": p.commission_bps,
                "trial_days": p.trial_days,
                "max_products": p.max_products,
                "max_staff": p.max_staff,
                "max_orders_month": p.max_orders_month,
                "api_access": p.api_access,
                "sub_shops": p.sub_shops,
            }
            for p in db.session.scalars(select(Plan))
        }
        db.session.remove()
    return rows


def assert_bad_input(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_plans_create_writes_the_plan_with_its_limits(app, cli):
    result = cli(
        "billing", "plans", "create", "Free",
        "--price", "0", "--interval", "month", "--commission-bps", "300",
        "--limit", "products=50", "--limit", "api=no", "--limit", "orders-month=1000",
        "--trial-days", "14",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "plan free created" in result.output
    assert plan_rows(app)["free"] == {
        "name": "Free",
        "price": 0,
        "interval": "month",
        "commission_bps": 300,
        "trial_days": 14,
        "max_products": 50,
        "max_staff": None,
        "max_orders_month": 1000,
        "api_access": False,
        "sub_shops": True,
    }


def test_plans_list_shows_every_plan_cheapest_first(app, cli, shop):
    cli("billing", "plans", "create", "Business", "--price", "49900", "--code", "biz")
    cli("billing", "plans", "create", "Pro", "--price", "9900", "--limit", "staff=3")
    cli("billing", "assign", shop.slug, "pro")

    result = cli("billing", "plans", "list")

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["pro", "biz"]
    assert "¥99.00/month" in lines[0] and "staff=3" in lines[0] and "1 shops" in lines[0]
    assert "products=unlimited" in lines[1] and "0 shops" in lines[1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--limit", "widgets=3"], "widgets"),
        (["--limit", "products=-1"], "whole number"),
        (["--limit", "products"], "NAME=VALUE"),
        (["--limit", "api=maybe"], "yes or no"),
        (["--commission-bps", "-5"], "commission-bps"),
        (["--code", "Not A Code!"], "code"),
    ],
)
def test_plans_create_refuses_bad_input_and_writes_nothing(app, cli, args, needle):
    result = cli("billing", "plans", "create", "Free", "--price", "0", *args)

    assert_bad_input(result, needle)
    assert plan_rows(app) == {}


def test_a_negative_price_is_refused(app, cli):
    result = cli("billing", "plans", "create", "Free", "--price", "-100")

    assert_bad_input(result, "price")
    assert plan_rows(app) == {}


def test_a_taken_code_is_refused(app, cli):
    cli("billing", "plans", "create", "Free", "--price", "0")

    result = cli("billing", "plans", "create", "Free", "--price", "100")

    assert_bad_input(result, "code")
    assert plan_rows(app)["free"]["price"] == 0


def test_assign_puts_a_shop_on_a_plan_on_its_audit_record(app, cli, shop):
    cli("billing", "plans", "create", "Free", "--price", "0")
    cli("billing", "plans", "create", "Pro", "--price", "9900")

    first = cli("billing", "assign", shop.slug, "free")
    second = cli("billing", "assign", shop.slug, "pro")

    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert f"{shop.slug} is on plan pro" in second.output
    with app.app_context():
        subscription = db.session.scalar(select(Subscription))
        assert subscription.plan.code == "pro" and subscription.status == "active"
        assert subscription.launch_offer_ends_at is not None
        db.session.remove()
    trail = [(a, action, detail) for a, action, _s, detail in audit_trail(app, shop)]
    assert trail[-2:] == [
        ("platform command line", "billing.plan_assigned", {"plan": "free", "before": None}),
        ("platform command line", "billing.plan_assigned", {"plan": "pro", "before": "free"}),
    ]


@pytest.mark.parametrize(("slug", "plan", "needle"), [("nowhere", "free", "nowhere"),
                                                       ("alpha", "gold", "gold")])  # fmt: skip
def test_assign_refuses_an_unknown_shop_or_plan(app, cli, shop, slug, plan, needle):
    cli("billing", "plans", "create", "Free", "--price", "0")

    result = cli("billing", "assign", slug, plan)

    assert_bad_input(result, needle)
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscription.id))) == 0
        db.session.remove()


def test_the_demo_seed_makes_the_plans_and_puts_the_demo_shop_on_business(app, cli, browser_for):
    first = cli("demo", "seed")
    second = cli("demo", "seed")

    assert first.exit_code == 0 and second.exit_code == 0, second.output
    rows = plan_rows(app)
    assert sorted(rows) == ["business", "free", "pro"]
    assert rows["free"]["price"] == 0 and rows["free"]["commission_bps"] == 300
    assert rows["free"]["max_products"] == 50
    with app.app_context():
        subscriptions = db.session.scalars(select(Subscription)).all()
        assert [s.plan.code for s in subscriptions] == ["business"]
        db.session.remove()
    owner = browser_for("demo.localhost")
    owner.submit("/console/login", {"email": "owner@example.com", "password": "demo-password"})
    assert "Business" in owner.get("/console/plan").get_data(as_text=True)
