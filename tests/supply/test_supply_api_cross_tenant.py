"""Shop A's owner key and credential ids aimed at shop B's supply
endpoints: never B's credentials, never a change to B's supply API.

``COVERED`` tells ``tests/api/test_cross_tenant.py`` which endpoints this
module answers for. (The signed ``/supply/v1`` API's own cross-shop cases
are in ``test_supply_api.py``.)"""

from __future__ import annotations

import pytest

from app.supply import credentials
from tests.factories import add_account, assert_problem, open_shop, run_in_shop
from tests.supply.support import issue

pytestmark = pytest.mark.critical

COVERED = {
    ("GET", "/api/v1/shop/supply"),
    ("PATCH", "/api/v1/shop/supply"),
    ("GET", "/api/v1/supply/credentials"),
    ("POST", "/api/v1/supply/credentials"),
    ("PATCH", "/api/v1/supply/credentials/<credential_id>"),
    ("DELETE", "/api/v1/supply/credentials/<credential_id>"),
}


@pytest.fixture
def two(app):
    shops = {}
    for slug in ("sup-a", "sup-b"):
        shop = open_shop(app, slug, key_role="owner")
        add_account(app, shop, f"agent@{slug}.example.com", "agent")
        shops[slug] = {"shop": shop, "made": issue(app, shop, f"agent@{slug}.example.com")}
    return shops["sup-a"], shops["sup-b"]


def state_of(app, shop) -> tuple:
    def read():
        rows, _ = credentials.list_credentials()
        return credentials.supply_open(), [
            (r.credential.key_id, r.credential.callback_url, r.credential.revoked_at) for r in rows
        ]

    return run_in_shop(app, shop, read)


def test_a_key_of_one_shop_is_refused_at_another(app, browser_for, two):
    a, b = two
    before = state_of(app, b["shop"])
    there = browser_for(b["shop"].host)
    made_b = b["made"]["id"]
    tries = [
        ("GET", "/api/v1/shop/supply", None),
        ("PATCH", "/api/v1/shop/supply", {"open": True}),
        ("GET", "/api/v1/supply/credentials", None),
        ("POST", "/api/v1/supply/credentials", {"email": "agent@sup-b.example.com", "name": "x"}),
        ("PATCH", f"/api/v1/supply/credentials/{made_b}", {"callback_url": None}),
        ("DELETE", f"/api/v1/supply/credentials/{made_b}", None),
    ]
    for method, path, body in tries:
        answer = there.open(method, path, json=body, headers=a["shop"].headers())
        assert_problem(answer, 401)
    assert state_of(app, b["shop"]) == before


def test_another_shops_ids_are_not_found_and_its_rows_not_listed(app, browser_for, two):
    a, b = two
    before = state_of(app, b["shop"])
    here = browser_for(a["shop"].host)
    made_b = b["made"]["id"]
    assert_problem(
        here.patch(
            f"/api/v1/supply/credentials/{made_b}",
            json={"callback_url": "https://evil.example.com/"},
            headers=a["shop"].headers(),
        ),
        404,
    )
    assert_problem(
        here.delete(f"/api/v1/supply/credentials/{made_b}", headers=a["shop"].headers()), 404
    )
    listed = here.get("/api/v1/supply/credentials", headers=a["shop"].headers()).get_json()
    assert [i["key_id"] for i in listed["items"]] == [a["made"]["key_id"]]
    refused = here.post(
        "/api/v1/supply/credentials",
        json={"email": "agent@sup-b.example.com", "name": "x"},
        headers=a["shop"].headers(),
    )
    assert_problem(refused, 422, "validation-failed")
    here.patch("/api/v1/shop/supply", json={"open": True}, headers=a["shop"].headers())
    assert state_of(app, b["shop"]) == before
