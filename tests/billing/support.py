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
