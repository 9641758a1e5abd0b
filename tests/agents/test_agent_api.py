"""The agent's own read and settings endpoints: ``GET /api/v1/me/commissions``
(its commission from real delivered orders, by status, with totals),
``GET /api/v1/me/downline`` (as deep as the shop pays, masked) and
``GET/PUT /api/v1/me/sub-shop`` (its rules, bad input, who may)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.models import ShopAccount
from app.agents.models import SubShop
from app.extensions import db
from tests.agents.support import (
    account_row,
    add_agent,
    add_rule,
    add_tier,
    buy_from_wallet,
    recharge,
    set_shop,
    signed_in,
)
from tests.factories import add_account, assert_problem, codes, run_in_shop

pytestmark = pytest.mark.critical


# --- commission ---------------------------------------------------------------


@pytest.fixture
def chain(app, shop, make_product, browser_for):
    """A gold agent (its price 80.00 where the shop's is 100.00) and its
    downline agent with 500.00 in its wallet; both signed in."""
    gold = add_tier(app, shop, "Gold", 10)
    product = make_product(shop, price=10_000, stock=codes("GIFT", 6))
    add_rule(app, shop, tier_id=gold, product_id=product, price=8_000)
    top = add_agent(app, shop, "top@alpha.example.com", tier_id=gold)
    low = add_agent(app, shop, "low@alpha.example.com", upline=top)
    recharge(app, shop, low, 50_000)
    top_browser, _ = signed_in(browser_for, shop, "top@alpha.example.com")
    low_browser, _ = signed_in(browser_for, shop, "low@alpha.example.com")
    return {
        "product": product,
        "top": top,
        "low": low,
        "top_browser": top_browser,
        "low_browser": low_browser,
    }


def test_the_upline_sees_its_pending_commission_with_the_order(app, shop, chain):
    number = buy_from_wallet(app, shop, chain["low"], chain["product"])

    body = chain["top_browser"].get("/api/v1/me/commissions").get_json()

    assert body["total"] == 1
    [line] = body["items"]
    assert line["order_number"] == number
    assert (line["level"], line["amount"], line["status"]) == (1, 2_000, "pending")
    assert line["currency"] == "CNY"
    settle_after = datetime.fromisoformat(line["settle_after"])
    assert settle_after - datetime.fromisoformat(line["created_at"]) == timedelta(days=7)
    assert body["totals"] == {"pending": 2_000, "settled": 0, "reversed": 0, "clawed_back": 0}
    # The buyer earned nothing on its own purchase.
    assert chain["low_browser"].get("/api/v1/me/commissions").get_json()["total"] == 0


def test_settled_commission_moves_between_the_totals_and_filters_by_status(app, shop, chain):
    from app.agents.commission import settle_due

    buy_from_wallet(app, shop, chain["low"], chain["product"])
    buy_from_wallet(app, shop, chain["low"], chain["product"], quantity=2)
    browser = chain["top_browser"]
    assert browser.get("/api/v1/me/commissions?status=settled").get_json()["items"] == []

    run_in_shop(app, shop, settle_due, now=datetime.now(UTC) + timedelta(days=8))

    body = browser.get("/api/v1/me/commissions?status=settled&per_page=1").get_json()
    assert (body["total"], len(body["items"]), body["per_page"]) == (2, 1, 1)
    assert body["items"][0]["amount"] == 4_000  # the newest: two units
    assert body["totals"]["settled"] == 6_000 and body["totals"]["pending"] == 0
    second = browser.get("/api/v1/me/commissions?status=settled&per_page=1&page=2").get_json()
    assert second["items"][0]["amount"] == 2_000


def test_a_bad_status_filter_is_a_field_error(app, shop, chain):
    response = chain["top_browser"].get("/api/v1/me/commissions?status=paid")

    body = assert_problem(response, 422)
    assert "status" in str(body)


def test_commission_is_the_agents_own(app, shop, browser_for, make_account):
    buyer = make_account(shop, "buyer@alpha.example.com")
    browser, _ = signed_in(browser_for, shop, buyer.email)

    assert_problem(browser.get("/api/v1/me/commissions"), 403, "forbidden")
    assert_problem(browser_for(shop.host).get("/api/v1/me/commissions"), 401)
    assert_problem(
        browser_for(shop.host).get("/api/v1/me/commissions", headers=shop.headers()), 403
    )


# --- downline -------------------------------------------------------------------


def test_the_downline_goes_as_deep_as_the_shop_pays_nearest_first(app, shop, browser_for):
    silver = add_tier(app, shop, "Silver", 5)
    top = add_agent(app, shop, "top@alpha.example.com")
    mid = add_agent(app, shop, "middle@alpha.example.com", upline=top, tier_id=silver)
    low = add_agent(app, shop, "low@example.net", upline=mid)
    add_agent(app, shop, "lowest@example.org", upline=low)
    add_agent(app, shop, "stranger@alpha.example.com")  # in no chain of top's
    browser, _ = signed_in(browser_for, shop, "top@alpha.example.com")

    body = browser.get("/api/v1/me/downline").get_json()

    assert body["levels"] == 3 and body["total"] == 3
    assert [(m["level"], m["email"], m["tier"]) for m in body["items"]] == [
        (1, "m***@alpha.example.com", "Silver"),
        (2, "l***@example.net", None),
        (3, "l***@example.org", None),
    ]
    assert all(m["role"] == "agent" and m["joined"] for m in body["items"])
    paged = browser.get("/api/v1/me/downline?per_page=1&page=2").get_json()
    assert [m["level"] for m in paged["items"]] == [2] and paged["total"] == 3

    set_shop(app, shop, agent_depth=1)
    shallow = browser.get("/api/v1/me/downline").get_json()
    assert shallow["levels"] == 1 and [m["level"] for m in shallow["items"]] == [1]


def test_one_shops_downline_never_shows_another_shops_accounts(app, make_shop, browser_for):
    from tenants.context import all_tenants

    a, b = make_shop("alpha"), make_shop("bravo")
    a_top = add_agent(app, a, "top@alpha.example.com")
    add_agent(app, a, "mine@alpha.example.com", upline=a_top)
    b_top = add_agent(app, b, "top@bravo.example.com")
    intruder = add_account(app, a, "intruder@alpha.example.com", "agent").id

    # Rows no service writes: an account of A naming B's agent as its upline.
    def corrupt():
        with all_tenants():
            db.session.execute(
                update(ShopAccount).where(ShopAccount.id == intruder).values(upline_id=b_top)
            )
            db.session.commit()

    run_in_shop(app, a, corrupt)
    assert account_row(app, a, intruder)["upline_id"] == b_top
    b_browser, _ = signed_in(browser_for, b, "top@bravo.example.com")
    a_browser, _ = signed_in(browser_for, a, "top@alpha.example.com")

    assert b_browser.get("/api/v1/me/downline").get_json() == {
        "items": [],
        "total": 0,
        "page": 1,
        "per_page": 50,
        "levels": 3,
    }
    assert "intruder" not in b_browser.get("/account/agent/downline").get_data(as_text=True)
    assert [m["email"] for m in a_browser.get("/api/v1/me/downline").get_json()["items"]] == [
        "m***@alpha.example.com"
    ]


# --- sub-shop -------------------------------------------------------------------


@pytest.fixture
def agent(app, shop, browser_for, make_account):
    account = make_account(shop, "agent@alpha.example.com", "agent")
    browser, csrf = signed_in(browser_for, shop, account.email)
    return account, browser, csrf


def categories(app, shop) -> tuple[str, str]:
    from app.catalog import categories as service

    def make():
        games = service.create_category({"name": "Games"}).id
        steam = service.create_category({"name": "Steam", "parent_id": str(games)}).id
        return str(games), str(steam)

    return run_in_shop(app, shop, make)


def sub_shops(app, shop) -> list[dict]:
    def read():
        return [
            {"code": s.code, "title": s.title, "notice": s.notice, "markups": s.markups}
            for s in db.session.scalars(select(SubShop).order_by(SubShop.code))
        ]

    return run_in_shop(app, shop, read)


def test_an_agent_opens_then_changes_its_sub_shop(app, shop, agent):
    _account, browser, csrf = agent
    games, steam = categories(app, shop)
    assert_problem(browser.get("/api/v1/me/sub-shop"), 404, "not-found")

    opened = browser.put(
        "/api/v1/me/sub-shop",
        json={
            "code": " Star-Cards ",
            "title": "Star Cards",
            "notice": "Open 9–21",
            "markups": {"*": 10, games: 15, steam: 0},
        },
        headers=csrf,
    )
    changed = browser.put(
        "/api/v1/me/sub-shop",
        json={"code": "star-cards", "title": "Star Cards 2", "markups": {"*": 5}},
        headers=csrf,
    )

    assert opened.status_code == 201, opened.get_data(as_text=True)
    body = opened.get_json()
    assert body["code"] == "star-cards" and body["url"] == f"http://{shop.host}/s/star-cards"
    assert body["markups"] == {"*": 10, games: 15, steam: 0}
    assert changed.status_code == 200
    assert browser.get("/api/v1/me/sub-shop").get_json()["title"] == "Star Cards 2"
    assert sub_shops(app, shop) == [
        {"code": "star-cards", "title": "Star Cards 2", "notice": "", "markups": {"*": 5}}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "ab", "title": "T"}, "code"),
        ({"code": "bad_code!", "title": "T"}, "code"),
        ({"code": "x" * 25, "title": "T"}, "code"),
        ({"code": "fine-code"}, "title"),
        ({"code": "fine-code", "title": "   "}, "title"),
        ({"code": "fine-code", "title": "t" * 81}, "title"),
        ({"code": "fine-code", "title": "T", "notice": "n" * 501}, "notice"),
        ({"code": "fine-code", "title": "T", "markups": {"*": 501}}, "markups"),
        ({"code": "fine-code", "title": "T", "markups": {"*": -1}}, "markups"),
        ({"code": "fine-code", "title": "T", "markups": {"*": "10"}}, "markups"),
        ({"code": "fine-code", "title": "T", "markups": {"*": 1.5}}, "markups"),
        ({"code": "fine-code", "title": "T", "markups": {"games": 10}}, "markups"),
        ({"code": "fine-code", "title": "T", "markups": {str(uuid.uuid4()): 10}}, "markups"),
        ({"code": "fine-code", "title": "T", "markups": [10]}, "markups"),
    ],
)
def test_bad_sub_shop_fields_are_refused_and_nothing_is_written(app, shop, agent, body, field):
    _account, browser, csrf = agent

    response = browser.put("/api/v1/me/sub-shop", json=body, headers=csrf)

    problem = assert_problem(response, 422)
    assert field in problem["errors"] or field in str(problem["errors"]), problem
    assert sub_shops(app, shop) == []


def test_a_category_of_another_shop_is_not_a_markup_key(app, make_shop, browser_for):
    a, b = make_shop("alpha"), make_shop("bravo")
    _games, b_steam = categories(app, b)
    add_account(app, a, "agent@alpha.example.com", "agent")
    browser, csrf = signed_in(browser_for, a, "agent@alpha.example.com")

    response = browser.put(
        "/api/v1/me/sub-shop",
        json={"code": "mine", "title": "Mine", "markups": {b_steam: 20}},
        headers=csrf,
    )

    assert_problem(response, 422)
    assert sub_shops(app, a) == []


def test_a_code_is_unique_within_the_shop_not_across_shops(app, make_shop, browser_for):
    a, b = make_shop("alpha"), make_shop("bravo")
    for shop, email in ((a, "one@alpha.example.com"), (a, "two@alpha.example.com")):
        add_account(app, shop, email, "agent")
    add_account(app, b, "three@bravo.example.com", "agent")
    one, one_csrf = signed_in(browser_for, a, "one@alpha.example.com")
    two, two_csrf = signed_in(browser_for, a, "two@alpha.example.com")
    three, three_csrf = signed_in(browser_for, b, "three@bravo.example.com")
    body = {"code": "cards", "title": "Cards"}

    assert one.put("/api/v1/me/sub-shop", json=body, headers=one_csrf).status_code == 201
    taken = two.put("/api/v1/me/sub-shop", json=body | {"code": "CARDS"}, headers=two_csrf)
    elsewhere = three.put("/api/v1/me/sub-shop", json=body, headers=three_csrf)

    problem = assert_problem(taken, 409, "conflict")
    assert problem["errors"] == {"code": ["Taken."]}
    assert elsewhere.status_code == 201
    assert [s["code"] for s in sub_shops(app, a)] == ["cards"]


def test_only_agents_have_a_sub_shop(app, shop, browser_for, make_account):
    buyer = make_account(shop, "buyer@alpha.example.com")
    browser, csrf = signed_in(browser_for, shop, buyer.email)

    put = browser.put("/api/v1/me/sub-shop", json={"code": "mine", "title": "Mine"}, headers=csrf)

    assert_problem(put, 403, "forbidden")
    assert_problem(browser.get("/api/v1/me/sub-shop"), 403, "forbidden")
    assert sub_shops(app, shop) == []
    page = browser.get("/account/agent/sub-shop")
    assert page.status_code == 302 and page.location.endswith("/account/agent")


def test_an_agent_key_sets_the_sub_shop_too(app, shop, agent, browser_for):
    _account, browser, csrf = agent
    key = browser.post("/api/v1/me/api-keys", json={"name": "k"}, headers=csrf).get_json()["key"]

    response = browser_for(shop.host).put(
        "/api/v1/me/sub-shop",
        json={"code": "by-key", "title": "By key"},
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 201
    assert sub_shops(app, shop)[0]["code"] == "by-key"
