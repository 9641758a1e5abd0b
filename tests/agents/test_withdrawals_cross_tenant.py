"""Shop A's agent session, owner key and withdrawal ids aimed at shop B's
withdrawal endpoints: never B's data, never a move of B's money (or A's).

``COVERED`` tells ``tests/api/test_cross_tenant.py`` which endpoints this
module answers for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.agents.money_support import ask_withdrawal, fill_wallet, set_shop
from tests.conftest import PASSWORD
from tests.factories import add_account, assert_problem, bearer, open_shop, run_in_shop

pytestmark = pytest.mark.critical

COVERED = {
    ("GET", "/api/v1/me/withdrawals"),
    ("POST", "/api/v1/me/withdrawals"),
    ("GET", "/api/v1/withdrawals"),
    ("POST", "/api/v1/withdrawals/<withdrawal_id>/approve"),
    ("POST", "/api/v1/withdrawals/<withdrawal_id>/reject"),
}


@pytest.fixture
def two(app, browser_for):
    """Shops A and B, each with an agent who asked to withdraw once, signed
    in to its own shop; the owners' keys."""
    shops = {}
    for slug in ("wd-a", "wd-b"):
        shop = open_shop(app, slug, key_role="owner")
        set_shop(app, shop, withdraw_min=100)
        email = f"agent@{slug}.example.com"
        agent = add_account(app, shop, email, "agent").id
        fill_wallet(app, shop, agent, 5_000)
        withdrawal = ask_withdrawal(app, shop, agent, 1_000, f"alipay {slug}")
        browser = browser_for(shop.host)
        assert (
            browser.submit("/account/login", {"email": email, "password": PASSWORD}).status_code
            == 302
        )
        csrf = {"X-CSRFToken": browser.csrf_token("/account/withdrawals")}
        shops[slug[-1]] = {
            "shop": shop,
            "agent": agent,
            "withdrawal": withdrawal,
            "browser": browser,
            "csrf": csrf,
            "markers": [str(shop.id), str(agent), str(withdrawal), email, f"alipay {slug}"],
        }
    return shops["a"], shops["b"]


def rows_of(app, shop) -> dict:
    from app.agents.models import Withdrawal
    from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

    def read():
        return {
            model.__tablename__: sorted(str(r.id) for r in db.session.scalars(select(model)))
            for model in (Withdrawal, LedgerAccount, LedgerTransaction, LedgerEntry)
        } | {
            "balances": sorted(db.session.scalars(select(LedgerAccount.balance))),
            "statuses": sorted(db.session.scalars(select(Withdrawal.status))),
        }

    return run_in_shop(app, shop, read)


def leaks(response, shop: dict) -> list[str]:
    text = response.get_data(as_text=True).replace(response.request.path, "")
    return [marker for marker in shop["markers"] if marker in text]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/me/withdrawals", None),
        ("POST", "/api/v1/me/withdrawals", {"amount": 500, "payout_account": "x"}),
    ],
)
def test_shop_a_agent_session_on_shop_b_host_is_not_signed_in(
    app, browser_for, two, method, path, body
):
    a, b = two
    at_b = browser_for(b["shop"].host)
    cookie = a["browser"].client.get_cookie("kameng_session", domain=a["shop"].host)
    at_b.client.set_cookie("kameng_session", cookie.value, domain=b["shop"].host)
    before = rows_of(app, a["shop"]), rows_of(app, b["shop"])

    response = at_b.open(method, path, json=body, headers=a["csrf"])

    assert_problem(response, 401, "unauthorized")
    assert leaks(response, a) == leaks(response, b) == []
    assert (rows_of(app, a["shop"]), rows_of(app, b["shop"])) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/withdrawals", None),
        ("POST", "/api/v1/withdrawals/{b_withdrawal}/approve", {"reference": "stolen"}),
        ("POST", "/api/v1/withdrawals/{b_withdrawal}/reject", {"reason": "stolen"}),
    ],
)
def test_shop_a_owner_key_on_shop_b_host_is_refused(app, browser_for, two, method, path, body):
    a, b = two
    before = rows_of(app, b["shop"])

    response = browser_for(b["shop"].host).open(
        method,
        path.format(b_withdrawal=b["withdrawal"]),
        json=body,
        headers=bearer(a["shop"].key),
    )

    assert_problem(response, 401, "unauthorized")
    assert leaks(response, b) == []
    assert rows_of(app, b["shop"]) == before


@pytest.mark.parametrize(
    "action, body", [("approve", {"reference": "x"}), ("reject", {"reason": "x"})]
)
def test_shop_a_owner_deciding_shop_b_withdrawal_finds_nothing(app, browser_for, two, action, body):
    a, b = two
    before = rows_of(app, a["shop"]), rows_of(app, b["shop"])

    response = browser_for(a["shop"].host).post(
        f"/api/v1/withdrawals/{b['withdrawal']}/{action}", json=body, headers=bearer(a["shop"].key)
    )

    assert_problem(response, 404, "not-found")
    assert leaks(response, b) == []
    assert (rows_of(app, a["shop"]), rows_of(app, b["shop"])) == before


def test_each_shop_lists_only_its_own_withdrawals(app, browser_for, two):
    a, b = two

    owner_a = browser_for(a["shop"].host).get("/api/v1/withdrawals", headers=bearer(a["shop"].key))
    agent_b = b["browser"].get("/api/v1/me/withdrawals")

    assert [w["id"] for w in owner_a.get_json()["items"]] == [str(a["withdrawal"])]
    assert [w["id"] for w in agent_b.get_json()["items"]] == [str(b["withdrawal"])]
    assert leaks(owner_a, b) == [] and leaks(agent_b, a) == []
