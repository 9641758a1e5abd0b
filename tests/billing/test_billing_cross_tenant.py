"""Shop A aimed at shop B's plan: A's key on B's host is refused (401), A's
answers name nothing of B's plan, and B is unchanged after every try.
``RULES`` is what ``tests/api/test_cross_tenant.py`` counts as covered."""

from __future__ import annotations

import pytest

from tests.api.cross_tenant_cases import Endpoint, rules_of, table_tests
from tests.billing.support import make_plan, put_on_plan
from tests.console.support import console
from tests.factories import assert_problem

pytestmark = pytest.mark.critical

ENDPOINTS = [Endpoint("GET", "/api/v1/shop/plan")]
RULES = rules_of(ENDPOINTS)


@pytest.fixture
def world(app, shops):
    """Alpha and bravo, each on a plan of its own."""
    made = {}
    for slug, shop in shops.items():
        code = make_plan(app, f"{slug}-only", name=f"Plan of {slug}", max_products=7)
        put_on_plan(app, shop, code)
        made[slug] = (shop, {"plan": code})
    return made


def call(client, headers, endpoint, ids):
    return client.open(endpoint.method, endpoint.url(ids), headers=headers)


# The endpoint takes no ids: there are none of B's to aim at.
_ids_not_found, test_key_refused, test_lists_hold_none = table_tests(ENDPOINTS, call)


def test_a_session_of_one_shop_is_not_a_session_of_another(app, world, browser_for):
    (a, _a_ids), (b, b_ids) = world["alpha"], world["bravo"]
    alpha = console(browser_for, a.host, a.owner_email)
    own = alpha.get("/api/v1/shop/plan").get_json()
    stolen = alpha.client.get_cookie("kameng_session", domain=a.host)
    at_bravo = browser_for(b.host)
    at_bravo.client.set_cookie("kameng_session", stolen.value, domain=b.host)

    answer = at_bravo.get("/api/v1/shop/plan")

    assert own["plan"]["code"] == "alpha-only"
    assert_problem(answer, 401, "unauthorized")
    assert b_ids["plan"] not in alpha.get("/api/v1/shop/plan").get_data(as_text=True)
