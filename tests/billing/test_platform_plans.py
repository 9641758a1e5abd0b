"""The platform's plans in the platform console (``/admin/plans``): list,
create, edit, stop offering; each shop's plan on the shops list. Platform
admins only; on a shop's host the pages do not exist."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.billing.models import Plan
from app.extensions import db
from tests.accounts.support import in_english, text_of
from tests.billing.support import free_pro_business, make_plan, put_on_plan
from tests.conftest import PASSWORD


@pytest.fixture
def admin(app, platform):
    """The platform signed in as a platform admin, in English."""
    from app.accounts import services

    with app.app_context():
        services.set_platform_admin("root@example.com", PASSWORD)
    in_english(platform)
    response = platform.submit("/login", {"email": "root@example.com", "password": PASSWORD})
    assert response.status_code == 302
    return platform


def plan_row(app, code: str) -> Plan | None:
    with app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.code == code))
        if plan is not None:
            db.session.expunge(plan)
        db.session.remove()
    return plan


FORM = {
    "name": "Pro",
    "code": "pro",
    "price": "99.00",
    "currency": "CNY",
    "interval": "month",
    "commission": "1.5",
    "trial_days": "14",
    "grace_days": "7",
    "max_products": "500",
    "max_staff": "",
    "max_domains": "1",
    "max_orders_month": "",
    "api_access": "y",
}


def test_the_admin_creates_a_plan_from_the_form(app, admin):
    answer = admin.submit("/admin/plans/new", FORM)

    assert answer.status_code == 302, text_of(answer)
    plan = plan_row(app, "pro")
    assert (plan.name, plan.price, plan.commission_bps, plan.trial_days) == ("Pro", 9_900, 150, 14)
    assert (plan.max_products, plan.max_staff, plan.max_domains) == (500, None, 1)
    assert plan.api_access is True and plan.sub_shops is False and plan.active is True
    listing = text_of(admin.get("/admin/plans"))
    assert "Pro" in listing and "¥99.00 / month" in listing and "1.5%" in listing


def test_a_bad_form_names_each_problem_and_keeps_what_was_typed(app, admin):
    bad = {
        **FORM,
        "price": "ninety",
        "commission": "lots",
        "max_products": "-3",
        "code": "Pro Plan!",
    }

    answer = admin.submit("/admin/plans/new", bad)

    assert answer.status_code == 422
    text = text_of(answer)
    assert "Write an amount such as 99 or 99.00." in text
    assert "Write a percentage such as 3 or 0.5." in text
    assert "leave it blank for no limit" in text
    assert "lower-case letters, digits or hyphens" in text
    assert 'value="ninety"' in text and 'value="Pro Plan!"' in text and 'value="-3"' in text
    assert plan_row(app, "pro") is None


def test_a_taken_code_is_said_beside_the_code(app, admin):
    make_plan(app, "pro")

    answer = admin.submit("/admin/plans/new", FORM)

    assert answer.status_code == 422
    assert "Another plan has this code." in text_of(answer)


def test_the_admin_edits_a_plan_and_its_shops_have_the_new_limits_at_once(app, admin, shop):
    from app.catalog import services
    from tests.factories import run_in_shop

    make_plan(app, "pro", name="Pro", max_products=5)
    put_on_plan(app, shop, "pro")
    page = text_of(admin.get("/admin/plans/pro"))
    assert 'value="5"' in page

    answer = admin.submit("/admin/plans/pro", {**FORM, "max_products": "0"})

    assert answer.status_code == 302, text_of(answer)
    assert plan_row(app, "pro").max_products == 0
    from app.billing.limits import PlanLimitReached

    def attempt():
        with pytest.raises(PlanLimitReached):
            services.create_product({"name": "X", "price": 1})

    run_in_shop(app, shop, attempt)


def test_stopping_a_plan_keeps_its_shops_on_it(app, admin, shop):
    free_pro_business(app)
    put_on_plan(app, shop, "pro")
    token_page = "/admin/plans"

    stopped = admin.submit(token_page, {}, action="/admin/plans/pro/deactivate")

    assert stopped.status_code == 302
    assert plan_row(app, "pro").active is False
    listing = text_of(admin.get("/admin/plans"))
    assert "not offered" in listing and "Offer again" in listing
    shops = text_of(admin.get("/admin"))
    assert "Pro" in shops  # the shop is still on it
    again = admin.submit(token_page, {}, action="/admin/plans/pro/activate")
    assert again.status_code == 302 and plan_row(app, "pro").active is True


def test_the_shops_list_shows_each_shops_plan(app, admin, shops):
    free_pro_business(app)
    put_on_plan(app, shops["alpha"], "business")

    text = text_of(admin.get("/admin"))

    assert "Business" in text and "Plan" in text


@pytest.mark.parametrize("page", ["/admin/plans", "/admin/plans/new", "/admin/plans/free"])
def test_only_platform_admins_may_open_the_plans_pages(app, platform, shop, page):
    make_plan(app, "free")
    assert platform.get(page).status_code == 302  # a stranger: sign in
    signed = platform.submit("/login", {"email": shop.owner_email, "password": PASSWORD})
    assert signed.status_code == 302
    assert platform.get(page).status_code == 403  # an operator, not an admin


def test_the_plans_pages_do_not_exist_on_a_shop_host(app, shop, browser_for):
    make_plan(app, "free")

    assert browser_for(shop.host).get("/admin/plans").status_code == 404


def test_an_operator_cannot_stop_a_plan(app, platform, shop):
    make_plan(app, "free")
    signed = platform.submit("/login", {"email": shop.owner_email, "password": PASSWORD})
    assert signed.status_code == 302

    answer = platform.submit("/", {}, action="/admin/plans/free/deactivate")

    assert answer.status_code == 403
    assert plan_row(app, "free").active is True


def test_the_admin_puts_a_shop_on_a_plan_on_its_audit_record(app, admin, shop):
    from tests.console.support import audit_trail

    free_pro_business(app)

    answer = admin.submit("/admin/plans", {"shop": shop.slug, "plan": "pro"},
                          action="/admin/plans/assign")  # fmt: skip

    assert answer.status_code == 302
    assert "alpha is on the Pro plan now." in text_of(admin.get("/admin/plans"))
    assert [(a, action) for a, action, _s, _d in audit_trail(app, shop)][-1] == (
        "operator root@example.com",
        "billing.plan_assigned",
    )


def test_an_unknown_shop_is_said_beside_the_field_and_kept(app, admin):
    free_pro_business(app)

    answer = admin.submit("/admin/plans", {"shop": "nowhere", "plan": "pro"},
                          action="/admin/plans/assign")  # fmt: skip

    assert answer.status_code == 404
    text = text_of(answer)
    assert "No such shop." in text and 'value="nowhere"' in text
