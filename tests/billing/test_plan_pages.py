"""The console's plan page (``/console/plan``): the owner sees the plan,
each limit beside the shop's use of it, and the other plans on offer; a
stranger is sent to sign in, staff and other shops get nothing. Pages that
add something past a limit say so in words and keep what was typed."""

from __future__ import annotations

from tests.billing.support import free_pro_business, make_plan, put_on_plan
from tests.console.support import console, text_of
from tests.factories import run_in_shop


def test_the_owner_sees_the_plan_limits_usage_and_other_plans(app, shop, browser_for):
    from app.catalog import services

    free_pro_business(app)
    make_plan(app, "retired", price=100, active=False)
    put_on_plan(app, shop, "free")
    run_in_shop(app, shop, services.create_product, {"name": "Card", "price": 100})
    owner = console(browser_for, shop.host, shop.owner_email)

    page = owner.get("/console/plan")

    assert page.status_code == 200
    text = text_of(page)
    assert "Your plan" in text and "Free" in text and "3% commission on sales" in text
    assert "1 of 2" in text  # products
    assert "0 of 2" in text  # staff, domains, orders
    assert "<progress" in text
    assert "not included" in text  # API keys and sub-shops on Free
    assert "Pro" in text and "¥99.00 a month" in text and "1% commission on sales" in text
    assert "Business" in text and "0.5% commission on sales" in text
    assert "Retired" not in text  # off the offer
    assert "contact it" in text
    assert 'href="/console/plan"' in text  # in the navigation


def test_a_shop_on_no_plan_is_told_nothing_is_limited(app, shop, browser_for):
    owner = console(browser_for, shop.host, shop.owner_email)

    text = text_of(owner.get("/console/plan"))

    assert "nothing is limited" in text
    assert "(unlimited)" in text


def test_the_page_reads_in_chinese(app, shop, browser_for):
    free_pro_business(app)
    put_on_plan(app, shop, "free")
    owner = console(browser_for, shop.host, shop.owner_email, lang="zh_CN")

    page = owner.get("/console/plan")

    assert page.status_code == 200
    assert 'lang="zh' in page.get_data(as_text=True)


def test_a_stranger_is_sent_to_sign_in(shop, browser_for):
    answer = browser_for(shop.host).get("/console/plan")

    assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]


def test_staff_may_not_open_the_plan_page(app, shop, browser_for, make_member):
    make_member(shop, "staff@example.com")
    staff = console(browser_for, shop.host, "staff@example.com")

    assert staff.get("/console/plan").status_code == 403


def test_another_shops_owner_sees_only_their_own_plan(app, shops, browser_for):
    free_pro_business(app)
    put_on_plan(app, shops["alpha"], "free")
    put_on_plan(app, shops["bravo"], "business")
    bravo = console(browser_for, shops["bravo"].host, shops["bravo"].owner_email)

    own = text_of(bravo.get("/console/plan"))
    at_alpha = bravo.on(shops["alpha"].host).get("/console/plan")

    assert "Business" in own and "0.5% commission on sales" in own
    assert at_alpha.status_code == 302  # no session there: sign in (and be refused)


def test_a_product_past_the_limit_is_refused_in_words_and_the_form_is_kept(app, shop, browser_for):
    make_plan(app, "tiny", name="Tiny", max_products=0)
    make_plan(app, "roomy", name="Roomy", price=1_000)
    put_on_plan(app, shop, "tiny")
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.submit(
        "/console/products/new",
        {"name": "Steam 100", "price": "12.50", "kind": "card", "status": "draft"},
    )

    text = text_of(answer)
    assert answer.status_code in (200, 403, 422)
    assert "The Tiny plan allows at most 0 products." in text
    assert "The Roomy plan lifts this limit." in text
    assert 'value="Steam 100"' in text and 'value="12.50"' in text


def test_a_custom_domain_past_the_limit_is_refused_in_words(app, shop, browser_for):
    make_plan(app, "tiny", name="Tiny", max_domains=0)
    put_on_plan(app, shop, "tiny")
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.submit("/console/settings", {"host": "cards.example.com"},
                          action="/console/settings/domains")  # fmt: skip

    text = text_of(answer if answer.status_code != 302 else owner.get(answer.location))
    assert "The Tiny plan allows at most 0 custom domains." in text
    assert "No plan on offer lifts this limit" in text


def test_a_buyer_past_the_shops_monthly_orders_is_told_plainly(
    app, shop, browser_for, make_product
):
    product = make_product(shop, stock=["A-1", "A-2"])
    make_plan(app, "tiny", name="Tiny", max_orders_month=0)
    put_on_plan(app, shop, "tiny")
    buyer = browser_for(shop.host)
    buyer.client.set_cookie("lang", "en", domain=shop.host)

    answer = buyer.submit(f"/buy/{product}", {"quantity": 1, "email": "q@example.com"})

    text = text_of(answer)
    assert "This shop is not taking orders right now." in text
    assert "Tiny" not in text  # the shop's plan is the operator's business
    assert 'value="q@example.com"' in text


def test_a_staff_invitation_past_the_seats_is_refused_beside_the_email(app, shop, browser_for):
    make_plan(app, "solo", name="Solo", max_staff=0)
    make_plan(app, "team", name="Team", price=5_000)
    put_on_plan(app, shop, "solo")
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.submit("/console/staff", {"email": "helper@example.com"},
                          action="/console/staff/invite")  # fmt: skip

    assert answer.status_code == 403
    text = text_of(answer)
    assert "The Solo plan allows at most 0 staff members." in text
    assert "The Team plan lifts this limit." in text
    assert 'value="helper@example.com"' in text


def test_an_api_key_on_a_plan_without_api_access_is_refused_in_words(app, shop, browser_for):
    make_plan(app, "basic", name="Basic", api_access=False)
    make_plan(app, "dev", name="Developer", price=2_000)
    put_on_plan(app, shop, "basic")
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.submit("/console/api-keys", {"name": "stock sync"})

    text = text_of(answer if answer.status_code != 302 else owner.get(answer.location))
    assert "The Basic plan does not include API keys." in text
    assert "The Developer plan lifts this limit." in text
