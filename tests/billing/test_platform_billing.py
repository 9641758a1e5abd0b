"""The platform's own business in the platform console (``/admin/billing``):
MRR, commission earned by month (chart and table), shops past due, each
shop's totals for a month, and a shop's statement (page and CSV). Platform
admins only; on a shop's host the pages do not exist."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from app.extensions import db
from tests.accounts.support import text_of
from tests.billing.support import accrue, make_plan, on_plan_past_offer, put_on_plan
from tests.billing.test_platform_commission import _wallet_sale
from tests.billing.test_platform_plans import admin  # noqa: F401 - a fixture
from tests.conftest import PASSWORD
from tests.factories import end_outer_transaction

PAGES = [
    "/admin/billing",
    "/admin/billing/shops/{slug}",
    "/admin/billing/shops/{slug}/statement.csv",
]


def _status(app, shop, status: str) -> None:
    from app.billing.models import Subscription

    end_outer_transaction()
    with app.app_context():
        db.session.execute(
            update(Subscription).where(Subscription.tenant_id == shop.id).values(status=status)
        )
        db.session.commit()
        db.session.remove()


def test_mrr_commission_by_month_and_shops_past_due(app, admin, shops):  # noqa: F811
    alpha, bravo = shops["alpha"], shops["bravo"]
    make_plan(app, "pro", price=9_900, commission_bps=100)
    make_plan(app, "yearly", price=120_000, interval="year", commission_bps=100)
    put_on_plan(app, alpha, "pro")
    put_on_plan(app, bravo, "yearly")
    on_plan_past_offer(app, alpha, "cheap", 300)
    put_on_plan(app, alpha, "pro")
    _wallet_sale(app, alpha, 10_000)
    accrue(app, alpha, now=datetime(2026, 10, 15, tzinfo=UTC))

    text = text_of(admin.get("/admin/billing?month=2026-10"))

    assert "¥199.00" in text  # MRR: 99.00 + 1,200.00 / 12
    assert 'id="commission-chart-data"' in text and "echarts.min.js" in text
    assert "2026-10" in text and "¥100.00" in text  # alpha's sale and its 1 % commission
    assert "¥1.00" in text
    assert "No shop is past due." in text
    assert f"/admin/billing/shops/{alpha.slug}?month=2026-10" in text

    _status(app, bravo, "past_due")
    text = text_of(admin.get("/admin/billing?month=2026-10"))
    assert "past due" in text and bravo.slug in text
    assert "¥99.00" in text  # MRR counts active subscriptions only


def test_a_shops_statement_in_the_platform_console(app, admin, shop):  # noqa: F811
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 1999)
    accrue(app, shop, now=datetime(2026, 10, 15, tzinfo=UTC))

    text = text_of(admin.get(f"/admin/billing/shops/{shop.slug}?month=2026-10"))
    csv = admin.get(f"/admin/billing/shops/{shop.slug}/statement.csv?month=2026-10")

    assert "The statement matches the ledger." in text and "¥0.60" in text
    assert csv.status_code == 200 and "Total due,0.60" in csv.get_data(as_text=True)


def test_a_bad_month_is_said_and_kept(app, admin, shop):  # noqa: F811
    page = admin.get(f"/admin/billing/shops/{shop.slug}?month=2026-99")

    assert page.status_code == 422
    assert "Use a month like 2026-05" in text_of(page) and 'value="2026-99"' in text_of(page)
    assert admin.get("/admin/billing?month=soon").status_code == 422


def test_an_unknown_shop_has_no_statement(app, admin):  # noqa: F811
    assert admin.get("/admin/billing/shops/no-such-shop").status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_only_platform_admins_may_open_the_billing_pages(app, platform, shop, page):
    path = page.format(slug=shop.slug)
    assert platform.get(path).status_code == 302  # a stranger: sign in
    signed = platform.submit("/login", {"email": shop.owner_email, "password": PASSWORD})
    assert signed.status_code == 302
    assert platform.get(path).status_code == 403  # a shop's owner, not an admin


@pytest.mark.parametrize("page", PAGES)
def test_the_billing_pages_do_not_exist_on_a_shop_host(app, shop, browser_for, page):
    assert browser_for(shop.host).get(page.format(slug=shop.slug)).status_code == 404
