"""Plans for the billing tests, made and assigned through the real services."""

from __future__ import annotations

from app.extensions import db
from tests.factories import end_outer_transaction


def make_plan(app, code: str, **fields) -> str:
    """A plan ``code`` (a free monthly plan unless ``fields`` say otherwise)."""
    from app.billing import plans

    end_outer_transaction()
    with app.app_context():
        plans.create_plan({"code": code, "name": fields.pop("name", code.title()), **fields})
        db.session.remove()
    return code


def put_on_plan(app, shop, code: str, actor: str = "test") -> None:
    """Assign ``shop`` the plan ``code`` by hand, as ``billing assign`` does."""
    from app.billing import plans

    end_outer_transaction()
    with app.app_context():
        plans.assign_plan(shop.slug, code, actor=actor)
        db.session.remove()


def free_pro_business(app) -> None:
    """Free (2 of each count, no API, no sub-shops), Pro (5 of each, API) and
    Business (unlimited, everything), cheapest first."""
    make_plan(
        app,
        "free",
        price=0,
        commission_bps=300,
        max_products=2,
        max_staff=2,
        max_domains=2,
        max_orders_month=2,
        api_access=False,
        sub_shops=False,
    )
    make_plan(
        app,
        "pro",
        price=9_900,
        commission_bps=100,
        max_products=5,
        max_staff=5,
        max_domains=5,
        max_orders_month=5,
        api_access=True,
        sub_shops=False,
    )
    make_plan(app, "business", price=49_900, commission_bps=50)


def launch_offer_ends(app, shop, at) -> None:
    """Move the shop's launch offer's end to ``at`` (``None``: no offer)."""
    from app.billing.models import Subscription

    end_outer_transaction()
    with app.app_context():
        sub = db.session.scalar(db.select(Subscription).where(Subscription.tenant_id == shop.id))
        sub.launch_offer_ends_at = at
        db.session.commit()
        db.session.remove()


def on_plan_past_offer(app, shop, code: str, commission_bps: int) -> None:
    """Put ``shop`` on a new plan ``code`` with this commission, its launch
    offer over."""
    from datetime import UTC, datetime, timedelta

    make_plan(app, code, commission_bps=commission_bps)
    put_on_plan(app, shop, code)
    launch_offer_ends(app, shop, datetime.now(UTC) - timedelta(days=1))


def accrue(app, shop, **kwargs) -> dict:
    """One run of the accrual job for ``shop``."""
    from app.billing import accrual
    from tests.factories import run_in_shop

    return run_in_shop(app, shop, lambda: accrual.accrue_shop(**kwargs))


def commission_rows(app, shop) -> list[tuple[str, str, int, int]]:
    """The shop's platform commission rows: (kind, provider, sale, amount)."""
    from app.billing.models import PlatformCommission
    from tests.factories import run_in_shop

    return run_in_shop(
        app,
        shop,
        lambda: [
            (r.kind, r.provider, r.sale_amount, r.amount)
            for r in db.session.scalars(
                db.select(PlatformCommission).order_by(
                    PlatformCommission.booked_at, PlatformCommission.kind
                )
            )
        ],
    )
