"""Shop A's agent (its key, its session, its ids) aimed at shop B through the
agent's own endpoints: never B's data, never a write to B.

``COVERED`` tells ``tests/api/test_cross_tenant.py`` which endpoints this
module answers for.
"""

from __future__ import annotations

import pytest

from tests.agents.support import add_tier, signed_in
from tests.factories import add_account, assert_problem, bearer, shop_rows

pytestmark = pytest.mark.critical

COVERED = {
    ("GET", "/api/v1/me/api-keys"),
    ("POST", "/api/v1/me/api-keys"),
    ("DELETE", "/api/v1/me/api-keys/<key_id>"),
    ("GET", "/api/v1/me/commissions"),
    ("GET", "/api/v1/me/downline"),
    ("GET", "/api/v1/me/invite"),
    ("GET", "/api/v1/me/sub-shop"),
    ("PUT", "/api/v1/me/sub-shop"),
    ("GET", "/api/v1/me/tier"),
    ("POST", "/api/v1/me/tier"),
}


@pytest.fixture
def two(app, make_shop, browser_for):
    """Shops A and B, each with an agent (the same email at both) that has a
    key, a sub-shop, an invite code and a tier to buy."""
    made = {}
    for slug in ("alpha", "bravo"):
        shop = make_shop(slug)
        email = "agent@example.com"
        account = add_account(app, shop, email, "agent")
        tier = add_tier(app, shop, f"Tier {slug}", 10, "fee", 0)
        browser, csrf = signed_in(browser_for, shop, email)
        key = browser.post("/api/v1/me/api-keys", json={"name": f"key {slug}"}, headers=csrf)
        sub = browser.put(
            "/api/v1/me/sub-shop", json={"code": f"sub-{slug}", "title": slug}, headers=csrf
        )
        invite = browser.get("/api/v1/me/invite").get_json()
        assert key.status_code == 201 and sub.status_code == 201
        made[slug] = {
            "shop": shop,
            "account": account,
            "tier": str(tier),
            "browser": browser,
            "csrf": csrf,
            "key": key.get_json()["key"],
            "key_id": key.get_json()["id"],
            "markers": [
                str(shop.id),
                str(account.id),
                str(tier),
                key.get_json()["id"],
                f"sub-{slug}",
                invite["code"],
            ],
        }
    return made["alpha"], made["bravo"]


def calls(target: dict) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", "/api/v1/me/api-keys", None),
        ("POST", "/api/v1/me/api-keys", {"name": "intruder"}),
        ("DELETE", f"/api/v1/me/api-keys/{target['key_id']}", None),
        ("GET", "/api/v1/me/commissions", None),
        ("GET", "/api/v1/me/downline", None),
        ("GET", "/api/v1/me/invite", None),
        ("GET", "/api/v1/me/sub-shop", None),
        ("PUT", "/api/v1/me/sub-shop", {"code": "taken-over", "title": "x"}),
        ("GET", "/api/v1/me/tier", None),
        ("POST", "/api/v1/me/tier", {"tier_id": target["tier"]}),
    ]


def test_every_agent_endpoint_is_exercised_here():
    a = {"key_id": "K", "tier": "T"}
    exercised = {(m, p.replace("/K", "/<key_id>")) for m, p, _ in calls(a)}
    assert exercised == COVERED


def test_shop_a_agent_key_is_not_valid_at_shop_b(app, two, browser_for):
    a, b = two
    before = shop_rows(app, b["shop"].id)

    for method, path, body in calls(b):
        response = browser_for(b["shop"].host).open(
            method, path, json=body, headers=bearer(a["key"])
        )
        problem = assert_problem(response, 401, "unauthorized")
        assert "not valid for this shop" in problem["detail"]
        text = response.get_data(as_text=True).replace(path, "")
        assert not any(marker in text for marker in b["markers"]), (method, path)

    assert shop_rows(app, b["shop"].id) == before


def test_shop_a_agent_session_is_no_one_at_shop_b(app, two, browser_for):
    a, b = two
    cookie = a["browser"].client.get_cookie("kameng_session", domain=a["shop"].host)
    thief = browser_for(b["shop"].host)
    thief.client.set_cookie("kameng_session", cookie.value, domain=b["shop"].host)
    before = shop_rows(app, b["shop"].id)

    for method, path, body in calls(b):
        if method != "GET":
            continue  # writes would need B's CSRF token, which the thief lacks
        assert_problem(thief.open(method, path, json=body), 401, "unauthorized")

    assert shop_rows(app, b["shop"].id) == before


def test_shop_b_ids_through_shop_a_are_not_found(app, two, browser_for):
    a, b = two
    before = shop_rows(app, b["shop"].id)
    caller = browser_for(a["shop"].host)

    revoke = caller.delete(f"/api/v1/me/api-keys/{b['key_id']}", headers=bearer(a["key"]))
    tier = caller.post("/api/v1/me/tier", json={"tier_id": b["tier"]}, headers=bearer(a["key"]))

    assert_problem(revoke, 404, "not-found")
    assert_problem(tier, 404, "not-found")
    assert shop_rows(app, b["shop"].id) == before
    # A's own ids work: the 404s above are isolation, not broken routes.
    own = caller.post("/api/v1/me/tier", json={"tier_id": a["tier"]}, headers=bearer(a["key"]))
    assert own.status_code == 200


def test_shop_a_answers_hold_only_shop_a_data(app, two, browser_for):
    a, b = two
    caller = browser_for(a["shop"].host)

    for method, path, _body in calls(a):
        if method != "GET":
            continue
        response = caller.get(path, headers=bearer(a["key"]))
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        text = response.get_data(as_text=True)
        assert not any(marker in text for marker in b["markers"]), path
