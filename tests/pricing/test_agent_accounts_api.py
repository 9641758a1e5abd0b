"""An account's role, tier and upline set over the API within the upline
chain's rules (an active agent, never itself, no loop, no deeper than the
shop's depth); balance adjustments over the API, idempotent by the
caller's Idempotency-Key; the shop's agent settings. Every change on the
audit record; staff read but do not change."""

from __future__ import annotations

import pytest

from tests.console.support import audit_trail, balance_of
from tests.factories import assert_problem
from tests.pricing.support import agent_depth, api, make_tier, set_standing

pytestmark = pytest.mark.critical


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha", key_role="owner", staff_key=True)


@pytest.fixture
def owner(alpha, browser_for):
    return api(browser_for, alpha)


@pytest.fixture
def agents(alpha, make_account):
    """Four agents of alpha: a, b, c, d."""
    return {n: make_account(alpha, f"{n}@example.com", "agent") for n in "abcd"}


def patch(owner, account, **body):
    return owner.patch(f"/api/v1/accounts/{account.id}", json=body)


def upline_refused(response, words: str) -> None:
    body = assert_problem(response, 422, "validation-failed")
    assert list(body["errors"]) == ["upline_id"], body
    assert words in body["errors"]["upline_id"][0], body


# --- role, tier, upline ---------------------------------------------------------------


def test_an_owner_sets_role_tier_and_upline_and_it_is_recorded(
    app, alpha, owner, agents, make_account
):
    buyer = make_account(alpha, "buyer@example.com")
    tier = make_tier(app, alpha, "Gold")

    changed = patch(owner, buyer, role="agent", tier_id=str(tier), upline_id=str(agents["a"].id))

    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["role"], body["tier_id"], body["upline_id"]) == (
        "agent",
        str(tier),
        str(agents["a"].id),
    )
    actor, action, subject, detail = audit_trail(app, alpha)[-1]
    assert (action, subject, detail["email"]) == (
        "account.updated",
        f"account:{buyer.id}",
        "buyer@example.com",
    )
    assert detail["changed"] == {
        "role": ["customer", "agent"],
        "tier_id": [None, str(tier)],
        "upline_id": [None, str(agents["a"].id)],
    }
    assert actor.startswith("api key")

    back = patch(owner, buyer, tier_id=None, upline_id=None).get_json()
    assert (back["tier_id"], back["upline_id"]) == (None, None)


def test_an_upline_must_be_an_active_agent_other_than_the_account(
    app, alpha, owner, agents, make_account
):
    buyer = make_account(alpha, "buyer@example.com")
    set_standing(app, alpha, agents["d"].id, is_active=False)

    upline_refused(patch(owner, agents["a"], upline_id=str(agents["a"].id)), "its own upline")
    upline_refused(patch(owner, agents["a"], upline_id=str(buyer.id)), "active agent")
    upline_refused(patch(owner, agents["a"], upline_id=str(agents["d"].id)), "active agent")
    upline_refused(
        patch(owner, agents["a"], upline_id="01234567-89ab-7def-8123-456789abcdef"), "No such"
    )
    assert_problem(patch(owner, agents["a"], upline_id="not an id"), 422, "validation-failed")
    assert owner.get(f"/api/v1/accounts/{agents['a'].id}").get_json()["upline_id"] is None


def test_an_upline_chain_never_loops(app, alpha, owner, agents):
    a, b, c = agents["a"], agents["b"], agents["c"]
    assert patch(owner, b, upline_id=str(a.id)).status_code == 200  # a <- b
    assert patch(owner, c, upline_id=str(b.id)).status_code == 200  # a <- b <- c

    upline_refused(patch(owner, a, upline_id=str(c.id)), "loop")
    upline_refused(patch(owner, a, upline_id=str(b.id)), "loop")


def test_a_chain_stays_within_the_shops_depth(app, alpha, owner, agents):
    a, b, c, d = agents["a"], agents["b"], agents["c"], agents["d"]
    agent_depth(app, alpha, 2)
    assert patch(owner, b, upline_id=str(a.id)).status_code == 200  # a <- b
    assert patch(owner, c, upline_id=str(b.id)).status_code == 200  # a <- b <- c: 2 levels

    upline_refused(patch(owner, d, upline_id=str(c.id)), "3 levels deep; this shop allows 2")
    assert patch(owner, d, upline_id=str(a.id)).status_code == 200  # a <- d: 1 level
    # a, with b and c under it, moved below a lone d: d <- a <- b <- c.
    assert patch(owner, d, upline_id=None).status_code == 200
    upline_refused(patch(owner, a, upline_id=str(d.id)), "3 levels deep; this shop allows 2")


def test_a_shop_paying_no_levels_takes_no_uplines(app, alpha, owner, agents):
    agent_depth(app, alpha, 0)

    upline_refused(patch(owner, agents["b"], upline_id=str(agents["a"].id)), "allows 0")


def test_an_unknown_tier_and_an_unknown_role_are_refused(app, alpha, owner, agents):
    body = assert_problem(
        patch(owner, agents["a"], tier_id="01234567-89ab-7def-8123-456789abcdef"),
        422,
        "validation-failed",
    )
    assert body["errors"] == {"tier_id": ["No such agent tier."]}
    assert_problem(patch(owner, agents["a"], role="boss"), 422, "validation-failed")


def test_staff_cannot_change_accounts_or_balances(alpha, browser_for, agents):
    staff = api(browser_for, alpha, alpha.staff_key)

    assert_problem(patch(staff, agents["a"], role="customer"), 403, "forbidden")
    assert_problem(
        staff.post(
            f"/api/v1/accounts/{agents['a'].id}/wallet/adjustments",
            json={"amount": 100, "reason": "mine"},
        ),
        403,
        "forbidden",
    )


# --- wallet adjustments ---------------------------------------------------------------


def adjust(owner, account, amount, reason="goodwill", key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return owner.post(
        f"/api/v1/accounts/{account.id}/wallet/adjustments",
        json={"amount": amount, "reason": reason},
        headers=headers,
    )


def test_an_adjustment_moves_the_balance_once_per_key_and_is_recorded(app, alpha, owner, agents):
    a = agents["a"]

    made = adjust(owner, a, 1_250, "late delivery", key="adj-1")
    again = adjust(owner, a, 1_250, "late delivery", key="adj-1")

    assert made.status_code == 201
    assert made.get_json() == {"amount": 1_250, "balance": 1_250, "currency": "CNY", "made": True}
    assert again.status_code == 200 and again.get_json()["made"] is False
    assert balance_of(app, alpha, a.id) == 1_250
    assert_problem(adjust(owner, a, 999, "late delivery", key="adj-1"), 409, "conflict")
    taken = adjust(owner, a, -250, "correction")
    assert taken.status_code == 201 and taken.get_json()["balance"] == 1_000
    rows = [row for row in audit_trail(app, alpha) if row[1] == "wallet.adjusted"]
    assert [(r[3]["amount"], r[3]["reason"]) for r in rows] == [
        (1_250, "late delivery"),
        (-250, "correction"),
    ]


def test_a_key_of_another_caller_is_another_adjustment(
    app, alpha, owner, agents, make_api_key, browser_for
):
    other = api(browser_for, alpha, make_api_key(alpha, "owner", "second key"))

    assert adjust(owner, agents["a"], 100, key="same").status_code == 201
    assert adjust(other, agents["a"], 100, key="same").status_code == 201
    assert balance_of(app, alpha, agents["a"].id) == 200


BAD_ADJUSTMENTS = [
    pytest.param({"amount": 0, "reason": "x"}, "amount", 422, id="zero"),
    pytest.param({"amount": "12.50", "reason": "x"}, "amount", 422, id="text"),
    pytest.param({"amount": 12.5, "reason": "x"}, "amount", 422, id="decimal"),
    pytest.param({"amount": True, "reason": "x"}, "amount", 422, id="boolean"),
    pytest.param({"amount": 10**13, "reason": "x"}, "amount", 422, id="too-large"),
    pytest.param({"amount": 100}, "reason", 422, id="no-reason"),
    pytest.param({"amount": 100, "reason": "   "}, "reason", 422, id="blank-reason"),
    pytest.param({"amount": 100, "reason": "x" * 201}, "reason", 422, id="long-reason"),
    pytest.param({"amount": -1, "reason": "x"}, "amount", 402, id="below-zero"),
]


@pytest.mark.parametrize(("body", "field", "status"), BAD_ADJUSTMENTS)
def test_a_bad_adjustment_is_refused_and_moves_nothing(
    app, alpha, owner, agents, body, field, status
):
    response = owner.post(f"/api/v1/accounts/{agents['a'].id}/wallet/adjustments", json=body)

    problem = assert_problem(response, status)
    assert field in problem["errors"], problem
    assert balance_of(app, alpha, agents["a"].id) == 0


# --- agent settings -------------------------------------------------------------------


def test_agent_settings_are_read_and_changed_field_by_field(app, alpha, owner, browser_for):
    assert owner.get("/api/v1/shop/agent-settings").get_json() == {
        "agent_depth": 3,
        "commission_hold_days": 7,
        "first_order_percent": 0,
        "withdraw_min": 1_000,
        "withdraw_fee_bps": 0,
    }

    changed = owner.patch(
        "/api/v1/shop/agent-settings", json={"agent_depth": 2, "withdraw_fee_bps": 150}
    )

    assert changed.status_code == 200
    assert changed.get_json()["agent_depth"] == 2 and changed.get_json()["withdraw_fee_bps"] == 150
    assert changed.get_json()["commission_hold_days"] == 7
    _actor, action, _subject, detail = audit_trail(app, alpha)[-1]
    assert action == "shop.agent_settings"
    assert detail["changed"] == {"agent_depth": [3, 2], "withdraw_fee_bps": [0, 150]}
    staff = api(browser_for, alpha, alpha.staff_key)
    assert staff.get("/api/v1/shop/agent-settings").get_json()["agent_depth"] == 2
    assert_problem(staff.patch("/api/v1/shop/agent-settings", json={"agent_depth": 0}), 403)


BAD_SETTINGS = [
    pytest.param({"agent_depth": 4}, id="depth-over-3"),
    pytest.param({"agent_depth": -1}, id="depth-negative"),
    pytest.param({"commission_hold_days": 91}, id="hold-over-90"),
    pytest.param({"first_order_percent": 91}, id="first-order-over-90"),
    pytest.param({"withdraw_min": -1}, id="negative-minimum"),
    pytest.param({"withdraw_min": "10.00"}, id="minimum-as-text"),
    pytest.param({"withdraw_fee_bps": 5_001}, id="fee-over-half"),
    pytest.param({"withdraw_fee_bps": True}, id="fee-boolean"),
    pytest.param({"agent_depth": None}, id="depth-null"),
]


@pytest.mark.parametrize("body", BAD_SETTINGS)
def test_a_bad_agent_setting_is_refused_naming_it(app, alpha, owner, body):
    problem = assert_problem(owner.patch("/api/v1/shop/agent-settings", json=body), 422)
    assert list(problem["errors"]) == list(body)
    assert owner.get("/api/v1/shop/agent-settings").get_json()["agent_depth"] == 3
    assert audit_trail(app, alpha) == []
