"""The agent centre's pages: who may open them (the agent; a customer only
the first; a stranger is sent to sign in; another shop's session and an
operator get nothing), and what each does: the price list, the downline,
the commission, the sub-shop form with its errors, the links between them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.agents.models import SubShop
from app.extensions import db
from tests.agents.support import (
    add_agent,
    add_rule,
    add_tier,
    buy_from_wallet,
    page_text,
    recharge,
    signed_in,
    visible_text,
)
from tests.factories import PASSWORD, add_account, codes, run_in_shop

pytestmark = pytest.mark.critical

PAGES = [
    "/account/agent",
    "/account/agent/prices",
    "/account/agent/downline",
    "/account/agent/commissions",
    "/account/agent/sub-shop",
    "/account/agent/api-keys",
]


@pytest.fixture
def agent(app, shop, browser_for, make_account):
    account = make_account(shop, "agent@alpha.example.com", "agent")
    browser, _csrf = signed_in(browser_for, shop, account.email)
    return account, browser


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_for_the_agent(app, shop, agent, path):
    _account, browser = agent

    response = browser.get(path)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Agent centre" in page_text(response)


@pytest.mark.parametrize("path", PAGES)
def test_a_stranger_is_sent_to_sign_in(app, shop, browser_for, path):
    response = browser_for(shop.host).get(path)

    assert response.status_code == 302
    assert "/account/login?next=" in response.location


@pytest.mark.parametrize("path", PAGES)
def test_another_shops_agent_session_opens_nothing_here(app, make_shop, browser_for, path):
    a, b = make_shop("alpha"), make_shop("bravo")
    add_account(app, a, "agent@alpha.example.com", "agent")
    add_account(app, b, "agent@bravo.example.com", "agent")
    browser, _ = signed_in(browser_for, a, "agent@alpha.example.com")
    cookie = browser.client.get_cookie("kameng_session", domain=a.host)
    thief = browser_for(b.host)
    thief.client.set_cookie("kameng_session", cookie.value, domain=b.host)

    response = thief.get(path)

    assert response.status_code == 302 and "/account/login" in response.location
    # The same browser on its own shop is still the agent.
    assert browser.get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_the_shops_owner_is_no_agent_here(app, shop, browser_for, path):
    owner = browser_for(shop.host)
    login = {"email": shop.owner_email, "password": PASSWORD}
    assert owner.submit("/console/login", login).status_code == 302

    assert owner.get(path).status_code == 403


@pytest.mark.parametrize("path", PAGES[1:])
def test_a_customer_is_sent_to_the_first_page(app, shop, browser_for, make_account, path):
    buyer = make_account(shop, "buyer@alpha.example.com")
    browser, _ = signed_in(browser_for, shop, buyer.email)

    response = browser.get(path)

    assert response.status_code == 302 and response.location.endswith("/account/agent")
    assert "These pages are for agents." in page_text(browser.get("/account/agent"))


def test_the_account_pages_lead_to_the_centre(app, shop, agent, browser_for, make_account):
    _account, browser = agent
    buyer = make_account(shop, "buyer@alpha.example.com")
    buyer_browser, _ = signed_in(browser_for, shop, buyer.email)

    assert 'href="/account/agent"' in browser.get("/account/").get_data(as_text=True)
    assert "Agent centre" in page_text(browser.get("/account/"))
    assert "Become an agent" in page_text(buyer_browser.get("/account/"))


def test_the_price_list_shows_the_shops_price_and_the_agents_own(
    app, shop, browser_for, make_product
):
    gold = add_tier(app, shop, "Gold", 10)
    steam = make_product(shop, name="Steam ¥100", price=10_000)
    make_product(shop, name="QQ ¥10", price=1_000)
    make_product(shop, name="Draft", price=500, status="draft")
    add_rule(app, shop, tier_id=gold, product_id=steam, price=8_800)
    add_agent(app, shop, "gold@alpha.example.com", tier_id=gold)
    browser, _ = signed_in(browser_for, shop, "gold@alpha.example.com")

    page = visible_text(browser.get("/account/agent/prices"))
    searched = visible_text(browser.get("/account/agent/prices?q=steam"))

    assert "Steam ¥100 ¥100.00 ¥88.00" in page
    assert "QQ ¥10 ¥10.00 ¥10.00" in page
    assert "Draft" not in page
    assert "Steam ¥100" in searched and "QQ ¥10" not in searched
    assert "No products found." in page_text(browser.get("/account/agent/prices?q=nothing"))


def test_the_price_list_is_paged(app, shop, agent, make_product):
    _account, browser = agent
    for n in range(21):
        make_product(shop, name=f"Card {n:02d}", price=100 + n)

    first = page_text(browser.get("/account/agent/prices"))
    second = page_text(browser.get("/account/agent/prices?page=2"))

    assert "Products 1–20 of 21." in first and "Next page" in first
    assert "Products 21–21 of 21." in second


def test_the_downline_page_shows_levels_masked(app, shop, agent):
    account, browser = agent
    mid = add_agent(app, shop, "mid@example.net", upline=account.id)
    add_agent(app, shop, "deep@example.org", upline=mid)

    page = page_text(browser.get("/account/agent/downline"))

    assert "m***@example.net" in page and "d***@example.org" in page
    assert "mid@example.net" not in page
    assert "down to level 3" in page


def test_the_commission_page_lists_totals_and_filters(app, shop, browser_for, make_product):
    gold = add_tier(app, shop, "Gold", 10)
    product = make_product(shop, price=10_000, stock=codes("GIFT", 3))
    add_rule(app, shop, tier_id=gold, product_id=product, price=9_000)
    top = add_agent(app, shop, "top@alpha.example.com", tier_id=gold)
    low = add_agent(app, shop, "low@alpha.example.com", upline=top)
    recharge(app, shop, low, 30_000)
    number = buy_from_wallet(app, shop, low, product)
    browser, _ = signed_in(browser_for, shop, "top@alpha.example.com")

    page = page_text(browser.get("/account/agent/commissions"))
    settled = page_text(browser.get("/account/agent/commissions?status=settled"))
    centre = page_text(browser.get("/account/agent"))

    assert number in page and "¥10.00" in page and "Pending" in page
    assert number not in settled and "No commission yet." in settled
    assert "¥10.00" in centre and number in centre


def test_opening_a_sub_shop_through_the_form(app, shop, agent):
    from app.catalog import categories

    _account, browser = agent
    games = run_in_shop(app, shop, lambda: categories.create_category({"name": "Games"}).id)

    response = browser.submit(
        "/account/agent/sub-shop",
        {
            "code": "Star-Cards",
            "title": "Star Cards",
            "notice": "Open every day",
            "markup-*": "10",
            f"markup-{games}": "15%",
        },
    )

    assert response.status_code == 302
    saved = run_in_shop(
        app,
        shop,
        lambda: (lambda s: (s.code, s.title, s.notice, s.markups))(
            db.session.scalar(select(SubShop))
        ),
    )
    assert saved == ("star-cards", "Star Cards", "Open every day", {"*": 10, str(games): 15})
    page = browser.get("/account/agent/sub-shop")
    text = page_text(page)
    assert "Your sub-shop is open." in text
    assert f"http://{shop.host}/s/star-cards" in text
    html = page.get_data(as_text=True)
    assert 'value="star-cards"' in html and f'name="markup-{games}" value="15"' in html
    assert f"http://{shop.host}/s/star-cards" in page_text(browser.get("/account/agent"))


def test_bad_sub_shop_input_is_shown_beside_each_field_and_kept(app, shop, agent):
    from app.catalog import categories

    _account, browser = agent
    games = run_in_shop(app, shop, lambda: categories.create_category({"name": "Games"}).id)

    response = browser.submit(
        "/account/agent/sub-shop",
        {
            "code": "x!",
            "title": "",
            "notice": "kept notice",
            "markup-*": "ten",
            f"markup-{games}": "900",
        },
    )

    assert response.status_code == 200
    text = page_text(response)
    html = response.get_data(as_text=True)
    assert "Use 3 to 24 letters, digits or hyphens for the address." in text
    assert "Give your sub-shop a title." in text
    assert text.count("A whole percent from 0 to 500.") == 2
    assert 'value="x!"' in html and "kept notice" in html
    assert 'name="markup-*" value="ten"' in html
    assert f'name="markup-{games}" value="900"' in html
    assert run_in_shop(app, shop, lambda: db.session.scalar(select(SubShop.id))) is None


def test_a_taken_address_is_said_beside_the_address(app, shop, agent, browser_for):
    _account, browser = agent
    add_account(app, shop, "first@alpha.example.com", "agent")
    first, _ = signed_in(browser_for, shop, "first@alpha.example.com")
    assert (
        first.submit("/account/agent/sub-shop", {"code": "cards", "title": "A"}).status_code == 302
    )

    response = browser.submit("/account/agent/sub-shop", {"code": "cards", "title": "Mine"})

    assert response.status_code == 200
    assert "Another sub-shop already uses this address. Choose another." in page_text(response)
    assert 'value="Mine"' in response.get_data(as_text=True)


def test_the_centre_speaks_chinese_by_default(app, shop, browser_for, make_account):
    account = make_account(shop, "agent@alpha.example.com", "agent")
    browser = browser_for(shop.host)
    login = {"email": account.email, "password": PASSWORD}
    assert browser.submit("/account/login", login).status_code == 302

    response = browser.get("/account/agent")

    assert response.status_code == 200
    assert '<html lang="zh-CN">' in response.get_data(as_text=True)
