"""Command-line entry points: ``flask --app wsgi <group> <command>``.

Bad input prints one line on stderr and exits non-zero (click's
``ClickException``); nothing is half-written.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.core.errors import KamengError

admin_cli = AppGroup("admin", help="The platform owner's accounts.")
demo_cli = AppGroup("demo", help="The demo shop of the development set-up.")

DEMO_ADMIN = ("admin@example.com", "admin-password")
DEMO_OWNER = ("owner@example.com", "demo-password")
DEMO_BUYER = ("buyer@example.com", "buyer-password")
DEMO_AGENT = ("agent@example.com", "agent-password")
DEMO_CARD = ("Steam 钱包充值卡 ¥100", 10000)  # name, price in 分
DEMO_CARD_STOCK = 200
#: The platform's plans of the demo (prices in 分 a month); the demo shop is
#: on Business, so none of its features is limited.
DEMO_PLANS = (
    {
        "code": "free",
        "name": "Free",
        "price": 0,
        "commission_bps": 300,
        "max_products": 50,
        "max_staff": 0,
        "max_domains": 0,
        "max_orders_month": 1000,
        "api_access": False,
        "sub_shops": False,
    },
    {
        "code": "pro",
        "name": "Pro",
        "price": 9_900,
        "commission_bps": 100,
        "trial_days": 14,
        "max_products": 2_000,
        "max_staff": 2,
        "max_domains": 1,
        "api_access": False,
        "sub_shops": False,
    },
    {"code": "business", "name": "Business", "price": 49_900, "commission_bps": 50},
)
DEMO_SHOP_PLAN = "business"


@admin_cli.command("create")
@click.argument("email")
@click.option("--password", help="Asked for when not given.")
def admin_create(email: str, password: str | None) -> None:
    """Make EMAIL a platform owner (creating the user when needed)."""
    from app.accounts import services
    from app.core.commands import fail
    from app.extensions import db

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.set_platform_admin(email, password)
    except KamengError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"platform owner {user.email}")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the platform owner, the demo shop and a buyer, and the second
    shop ``supply`` the demo shop docks a card and a top-up from
    (``app.supply.demo``). Idempotent. Refused with ``ENV=production``: its
    accounts have published passwords."""
    from sqlalchemy import select

    from app.accounts import services
    from app.accounts.models import PlatformUser, ShopAccount
    from app.accounts.shops import open_shop
    from app.extensions import db
    from app.supply.demo import seed_docking
    from tenants.context import tenant_context
    from tenants.models import Tenant

    if current_app.config["ENV"] == "production":
        raise click.ClickException(
            "demo seed is refused with ENV=production: the demo accounts' passwords are public"
        )
    services.set_platform_admin(*DEMO_ADMIN)
    owner = db.session.scalar(select(PlatformUser).where(PlatformUser.email == DEMO_OWNER[0]))
    if owner is None:
        owner = services.create_platform_user(*DEMO_OWNER, display_name="Demo owner")
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == "demo"))
    if tenant is None:
        tenant = open_shop("demo", "Kameng Demo 卡盟", owner)
    _seed_demo_plans(tenant)
    with tenant_context(tenant):
        if not db.session.scalar(select(ShopAccount.id).where(ShopAccount.email == DEMO_BUYER[0])):
            services.create_shop_account(*DEMO_BUYER)
        _seed_demo_cards()
        _seed_demo_agents()
    seed_docking(tenant)
    click.echo("demo shop ready")


def _seed_demo_plans(tenant) -> None:
    """The demo's plans (each made once, never overwritten: the platform
    owner may have edited them) and the demo shop on Business, unless it is
    on a plan already."""
    from app.billing import plans

    existing = {plan.code for plan in plans.list_plans()}
    for data in DEMO_PLANS:
        if data["code"] not in existing:
            plans.create_plan(data)
    if plans.plan_of(tenant.id).subscription is None:
        plans.assign_plan(tenant.slug, DEMO_SHOP_PLAN, actor="demo seed")


def _seed_demo_cards() -> None:
    """A card product on sale with DEMO_CARD_STOCK generated codes, so the demo
    shop sells at once (current shop; skipped when the product exists)."""
    import secrets

    from sqlalchemy import select

    from app.catalog.imports import start_import
    from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Product
    from app.extensions import db

    name, price = DEMO_CARD
    if db.session.scalar(select(Product.id).where(Product.name == name)) is not None:
        return
    product = Product(
        name=name,
        kind=KIND_CARD,
        price=price,
        status=STATUS_ON_SALE,
        min_quantity=1,
        max_quantity=10,
        description="Steam 钱包充值码，付款后立即发货。A Steam wallet code, delivered on payment.",
    )
    db.session.add(product)
    db.session.commit()
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
    codes = [
        "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(3))
        for _ in range(DEMO_CARD_STOCK)
    ]
    start_import(product.id, "\n".join(codes).encode(), "demo-codes.txt", "demo seed")


def _seed_demo_agents() -> None:
    """Two agent tiers with their prices for the demo card, an agent of the
    higher one with a sub-shop (/s/star, 10 % markup) and a coupon, so the
    demo shows what a 卡盟 adds (current shop; skipped once tiers exist)."""
    from sqlalchemy import select

    from app.accounts import services
    from app.accounts.models import ROLE_AGENT, ShopAccount
    from app.agents.models import SubShop
    from app.catalog.models import Product
    from app.extensions import db
    from app.pricing.models import (
        UPGRADE_FEE,
        UPGRADE_RECHARGE_TOTAL,
        AgentTier,
        Coupon,
        PriceRule,
    )

    if db.session.scalar(select(AgentTier.id).limit(1)) is not None:
        return
    agent = db.session.scalar(select(ShopAccount).where(ShopAccount.email == DEMO_AGENT[0]))
    if agent is None:
        agent = services.create_shop_account(*DEMO_AGENT, role=ROLE_AGENT)
    product_id = db.session.scalar(select(Product.id).where(Product.name == DEMO_CARD[0]))
    bronze = AgentTier(name="铜牌代理", rank=1, upgrade_kind=UPGRADE_FEE, upgrade_amount=5_000)
    gold = AgentTier(
        name="金牌代理", rank=2, upgrade_kind=UPGRADE_RECHARGE_TOTAL, upgrade_amount=50_000
    )
    db.session.add_all([bronze, gold])
    db.session.flush()
    db.session.add_all(
        [
            PriceRule(product_id=product_id, tier_id=bronze.id, price=9_500),
            PriceRule(product_id=product_id, tier_id=gold.id, price=9_000),
            Coupon(code="WELCOME5", kind="fixed", amount=500, min_spend=5_000),
        ]
    )
    agent.role, agent.tier_id = ROLE_AGENT, gold.id
    db.session.add(
        SubShop(account_id=agent.id, code="star", title="星星卡铺 Star Cards", markups={"*": 10})
    )
    db.session.commit()


@click.command("worker")
@click.option("--queues", default=None, help="Comma-separated; default: all, by priority.")
@click.option("--cron", "with_cron", is_flag=True, help="Also run the periodic-job scheduler.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker_command(queues: str | None, with_cron: bool, burst: bool) -> None:
    """Run an RQ worker with the app's context (jobs run in-process)."""
    from app.core.queues import QUEUE_NAMES, run_worker

    names = [q.strip() for q in queues.split(",")] if queues else list(QUEUE_NAMES)
    unknown = [q for q in names if q not in QUEUE_NAMES]
    if unknown:
        raise click.ClickException(
            f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(QUEUE_NAMES)}"
        )
    run_worker(current_app._get_current_object(), names, with_cron=with_cron, burst=burst)


@click.command("cron")
def cron_command() -> None:
    """Run the periodic-job scheduler (one per deployment)."""
    from app.core.queues import run_cron

    run_cron(current_app._get_current_object())
