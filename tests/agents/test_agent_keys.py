"""An agent's own API keys: made while signed in and shown once, at most
five live, acting as the agent (never as the shop), revoked at once, kept
apart from the operator's keys, and worthless in another shop."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.models import ApiKey, ShopAccount
from app.extensions import db
from tests.agents.support import page_text, recharge, signed_in
from tests.factories import PASSWORD, assert_problem, bearer, run_in_shop

pytestmark = pytest.mark.critical


@pytest.fixture
def agent(app, shop, browser_for, make_account):
    """An agent of ``alpha`` with a signed-in browser and its CSRF header."""
    account = make_account(shop, "agent@alpha.example.com", "agent")
    browser, csrf = signed_in(browser_for, shop, account.email)
    return account, browser, csrf


def make_key(browser, csrf, name: str = "my script") -> dict:
    response = browser.post("/api/v1/me/api-keys", json={"name": name}, headers=csrf)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def set_account(app, shop, account_id, **columns) -> None:
    def apply():
        row = db.session.get(ShopAccount, account_id)
        for name, value in columns.items():
            setattr(row, name, value)
        db.session.commit()

    run_in_shop(app, shop, apply)


def test_a_key_is_shown_once_and_acts_as_the_agent(app, shop, browser_for, agent):
    account, browser, csrf = agent

    created = make_key(browser, csrf)
    listed = browser.get("/api/v1/me/api-keys").get_json()["items"]
    me = browser_for(shop.host).get("/api/v1/me", headers=bearer(created["key"])).get_json()

    assert created["key"].startswith(f"km_{created['prefix']}_")
    assert created["role"] == "agent"
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert created["key"] not in browser.get("/api/v1/me/api-keys").get_data(as_text=True)
    assert me["kind"] == "shop_account" and me["id"] == str(account.id)
    assert me["roles"] == ["agent"] and me["email"] == account.email
    stored = run_in_shop(
        app, shop, lambda: db.session.scalar(select(ApiKey.key_hash).where(ApiKey.role == "agent"))
    )
    assert created["key"] not in stored


def test_the_key_uses_the_agents_wallet(app, shop, browser_for, agent):
    account, browser, csrf = agent
    recharge(app, shop, account.id, 3_000)
    key = make_key(browser, csrf)["key"]

    wallet = browser_for(shop.host).get("/api/v1/me/wallet", headers=bearer(key))

    assert wallet.status_code == 200 and wallet.get_json()["balance"] == 3_000


def test_the_key_and_the_session_share_the_agents_idempotency_keys(
    app, shop, browser_for, agent, make_product
):
    account, browser, csrf = agent
    product = make_product(shop, stock=["CODE-A", "CODE-B"])
    key = make_key(browser, csrf)["key"]
    body = {"product_id": str(product), "quantity": 1, "email": account.email}

    by_key = browser_for(shop.host).post(
        "/api/v1/orders", json=body, headers=bearer(key) | {"Idempotency-Key": "order-1"}
    )
    by_session = browser.post(
        "/api/v1/orders", json=body, headers=csrf | {"Idempotency-Key": "order-1"}
    )

    assert by_key.status_code == 201, by_key.get_data(as_text=True)
    assert by_session.status_code == 200
    assert by_session.get_json()["number"] == by_key.get_json()["number"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/api-keys"),
        ("POST", "/api/v1/api-keys"),
        ("GET", "/api/v1/accounts"),
        ("GET", "/api/v1/orders"),
    ],
)
def test_an_agent_key_reaches_no_operator_endpoint(app, shop, browser_for, agent, method, path):
    _account, browser, csrf = agent
    key = make_key(browser, csrf)["key"]

    response = browser_for(shop.host).open(
        method, path, json={"name": "x"} if method == "POST" else None, headers=bearer(key)
    )

    assert_problem(response, 403, "forbidden")


def test_operators_neither_see_nor_revoke_agent_keys(app, shop, browser_for, agent):
    _account, browser, csrf = agent
    created = make_key(browser, csrf)
    operator = browser_for(shop.host)

    listed = operator.get("/api/v1/api-keys", headers=shop.headers()).get_json()["items"]
    revoke = operator.delete(f"/api/v1/api-keys/{created['id']}", headers=shop.headers())

    assert created["id"] not in [k["id"] for k in listed]
    assert_problem(revoke, 404, "not-found")
    console = browser_for(shop.host)
    login = {"email": shop.owner_email, "password": PASSWORD}
    assert console.submit("/console/login", login).status_code == 302
    assert created["prefix"] not in console.get("/console/api-keys").get_data(as_text=True)
    console_revoke = console.submit(
        "/console/api-keys", {}, action=f"/console/api-keys/{created['id']}/revoke"
    )
    assert console_revoke.status_code == 404
    assert (
        browser_for(shop.host).get("/api/v1/me", headers=bearer(created["key"])).status_code == 200
    )


def test_at_most_five_live_keys(app, shop, browser_for, agent):
    _account, browser, csrf = agent
    made = [make_key(browser, csrf, f"key {n}") for n in range(5)]

    sixth = browser.post("/api/v1/me/api-keys", json={"name": "one more"}, headers=csrf)

    assert_problem(sixth, 409, "too-many-api-keys")
    assert len(browser.get("/api/v1/me/api-keys").get_json()["items"]) == 5
    browser.delete(f"/api/v1/me/api-keys/{made[0]['id']}", headers=csrf)
    assert (
        browser.post("/api/v1/me/api-keys", json={"name": "again"}, headers=csrf).status_code == 201
    )


def test_a_revoked_key_stops_at_once_and_revoking_again_is_harmless(app, shop, browser_for, agent):
    _account, browser, csrf = agent
    created = make_key(browser, csrf)

    first = browser.delete(f"/api/v1/me/api-keys/{created['id']}", headers=csrf)
    second = browser.delete(f"/api/v1/me/api-keys/{created['id']}", headers=csrf)
    use = browser_for(shop.host).get("/api/v1/me", headers=bearer(created["key"]))

    assert first.status_code == 200 and first.get_json()["revoked_at"]
    assert second.status_code == 200
    assert second.get_json()["revoked_at"] == first.get_json()["revoked_at"]
    assert_problem(use, 401, "unauthorized")
    assert browser.get("/api/v1/me/api-keys").get_json()["items"] == []


def test_an_agent_cannot_revoke_another_agents_key(app, shop, browser_for, agent, make_account):
    _account, browser, csrf = agent
    other = make_account(shop, "other@alpha.example.com", "agent")
    other_browser, other_csrf = signed_in(browser_for, shop, other.email)
    theirs = make_key(other_browser, other_csrf)

    response = browser.delete(f"/api/v1/me/api-keys/{theirs['id']}", headers=csrf)

    assert_problem(response, 404, "not-found")
    assert (
        browser_for(shop.host).get("/api/v1/me", headers=bearer(theirs["key"])).status_code == 200
    )


def test_a_key_cannot_make_keys(app, shop, browser_for, agent):
    _account, browser, csrf = agent
    key = make_key(browser, csrf)["key"]

    response = browser_for(shop.host).post(
        "/api/v1/me/api-keys", json={"name": "child"}, headers=bearer(key)
    )

    assert_problem(response, 403, "forbidden")
    assert len(browser.get("/api/v1/me/api-keys").get_json()["items"]) == 1


def test_a_deactivated_agents_key_is_refused(app, shop, browser_for, agent):
    account, browser, csrf = agent
    key = make_key(browser, csrf)["key"]

    set_account(app, shop, account.id, is_active=False)

    assert_problem(browser_for(shop.host).get("/api/v1/me", headers=bearer(key)), 401)


def test_the_key_acts_in_the_role_the_account_holds_now(app, shop, browser_for, agent):
    account, browser, csrf = agent
    key = make_key(browser, csrf)["key"]

    set_account(app, shop, account.id, role="customer")
    caller = browser_for(shop.host)

    assert caller.get("/api/v1/me", headers=bearer(key)).get_json()["roles"] == ["customer"]
    assert_problem(caller.get("/api/v1/me/api-keys", headers=bearer(key)), 403, "forbidden")


def test_a_customer_makes_no_agent_key(app, shop, browser_for, make_account):
    buyer = make_account(shop, "buyer@alpha.example.com")
    browser, csrf = signed_in(browser_for, shop, buyer.email)

    response = browser.post("/api/v1/me/api-keys", json={"name": "mine"}, headers=csrf)

    assert_problem(response, 403, "forbidden")
    page = browser.get("/account/agent/api-keys")
    assert page.status_code == 302 and page.location.endswith("/account/agent")


def test_an_agent_key_of_one_shop_is_not_valid_at_another(app, make_shop, browser_for):
    from tests.factories import add_account

    a, b = make_shop("alpha"), make_shop("bravo")
    agent = add_account(app, a, "agent@alpha.example.com", "agent")
    add_account(app, b, "agent@alpha.example.com", "agent")  # the same email at B
    browser, csrf = signed_in(browser_for, a, agent.email)
    key = make_key(browser, csrf)["key"]

    for path in ("/api/v1/me", "/api/v1/me/api-keys", "/api/v1/me/wallet"):
        response = browser_for(b.host).get(path, headers=bearer(key))
        assert_problem(response, 401, "unauthorized")


def test_the_keys_page_shows_a_new_key_once_and_revokes_after_asking(app, shop, browser_for, agent):
    _account, browser, _csrf = agent

    made = browser.submit("/account/agent/api-keys", {"name": "reseller bot"})
    key = run_in_shop(
        app, shop, lambda: db.session.scalar(select(ApiKey).where(ApiKey.name == "reseller bot"))
    )
    shown = page_text(made)
    later = page_text(browser.get("/account/agent/api-keys"))

    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    assert "shown only this once" in shown and f"km_{key.prefix}_" in shown
    assert "shown only this once" not in later and "reseller bot" in later
    assert f'action="/account/agent/api-keys/{key.id}/revoke"' in later
    assert "Programs using it stop working at once." in later  # asked first

    revoked = browser.submit(
        "/account/agent/api-keys", {}, action=f"/account/agent/api-keys/{key.id}/revoke"
    )
    assert revoked.status_code == 302
    after = page_text(browser.get("/account/agent/api-keys"))
    assert "The key “reseller bot” is revoked." in after
    assert f"/account/agent/api-keys/{key.id}/revoke" not in after
    assert "You have no API keys." in after


def test_a_key_name_too_long_is_shown_beside_the_field(app, shop, browser_for, agent):
    _account, browser, _csrf = agent

    response = browser.submit("/account/agent/api-keys", {"name": "n" * 81})

    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert "n" * 81 in response.get_data(as_text=True)
    assert browser.get("/api/v1/me/api-keys").get_json()["items"] == []
