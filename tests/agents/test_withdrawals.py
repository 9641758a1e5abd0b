"""Withdrawals (提现): an agent asks, the money leaves its wallet and waits;
the owner pays it out with a reference (the fee stays with the shop) or
refuses it (the money comes back). Limits, fees, a double click, the API,
the agent's page and the owner's console page, and other shops."""

from __future__ import annotations

import re

import pytest

from app.core.money import share_of
from app.ledger import services as ledger
from tests.agents.money_support import (
    account_total,
    ask_withdrawal,
    balance,
    differences,
    fill_wallet,
    set_shop,
)
from tests.conftest import PASSWORD
from tests.console.support import audit_trail, console, text_of
from tests.factories import assert_problem, bearer, run_in_shop

pytestmark = pytest.mark.critical


@pytest.fixture
def agent(app, shop, make_account):
    """An agent of ``alpha`` holding ¥500.00, in a shop whose smallest
    withdrawal is ¥100.00 with a 1.5 % fee."""
    account = make_account(shop, "agent@alpha.example.com", "agent")
    set_shop(app, shop, withdraw_min=10_000, withdraw_fee_bps=150)
    fill_wallet(app, shop, account.id, 50_000)
    return account


def _service(app, shop, fn, *args, **kw):
    from app.agents import withdrawals

    return run_in_shop(app, shop, lambda: getattr(withdrawals, fn)(*args, **kw))


def _refusal(app, shop, fn, *args, **kw):
    from app.core.errors import KamengError

    with pytest.raises(KamengError) as caught:
        _service(app, shop, fn, *args, **kw)
    return caught.value


# --- the service ----------------------------------------------------------------


def test_asking_moves_the_amount_from_the_wallet_to_waiting_and_fixes_the_fee(app, shop, agent):
    withdrawal_id = ask_withdrawal(app, shop, agent.id, 20_001, "Alipay 138 0000 0000")

    found = _service(app, shop, "get_withdrawal", withdrawal_id)
    assert (found.status, found.amount, found.fee) == ("requested", 20_001, 300)
    assert found.fee == share_of(20_001, 150)  # 300.015 rounds half up to 300
    assert balance(app, shop, agent.id) == 50_000 - 20_001
    assert account_total(app, shop, ledger.WITHDRAWALS_PENDING) == 20_001
    assert differences(app, shop) == []


def test_paying_out_keeps_the_fee_for_the_shop_and_records_who_and_the_reference(app, shop, agent):
    withdrawal_id = ask_withdrawal(app, shop, agent.id, 20_000)

    paid = _service(app, shop, "approve", withdrawal_id, "  TX 2024-001 ", "operator o@x.cn")

    assert (paid.status, paid.reference, paid.decided_by) == (
        "approved",
        "TX 2024-001",
        "operator o@x.cn",
    )
    assert account_total(app, shop, ledger.WITHDRAWALS_PENDING) == 0
    assert account_total(app, shop, ledger.PAYOUTS) == 20_000 - 300
    assert account_total(app, shop, ledger.WITHDRAWAL_FEES) == 300
    assert balance(app, shop, agent.id) == 30_000
    assert ("operator o@x.cn", "withdrawal.approved") in [
        (actor, action) for actor, action, _s, _d in audit_trail(app, shop)
    ]
    assert differences(app, shop) == []


def test_refusing_returns_the_whole_amount_to_the_wallet(app, shop, agent):
    withdrawal_id = ask_withdrawal(app, shop, agent.id, 20_000)

    refused = _service(app, shop, "reject", withdrawal_id, "wrong account", "operator o@x.cn")

    assert (refused.status, refused.reference) == ("rejected", "wrong account")
    assert balance(app, shop, agent.id) == 50_000
    assert account_total(app, shop, ledger.WITHDRAWALS_PENDING) == 0
    assert account_total(app, shop, ledger.WITHDRAWAL_FEES) == 0
    assert differences(app, shop) == []


def test_a_second_decision_changes_nothing(app, shop, agent):
    withdrawal_id = ask_withdrawal(app, shop, agent.id, 20_000)
    _service(app, shop, "approve", withdrawal_id, "TX 1", "owner")

    again = _refusal(app, shop, "approve", withdrawal_id, "TX 2", "owner")
    refused = _refusal(app, shop, "reject", withdrawal_id, "changed my mind", "owner")

    assert again.slug == refused.slug == "withdrawal-already-decided"
    assert again.status == 409 and "approved already" in again.user_message()
    assert _service(app, shop, "get_withdrawal", withdrawal_id).reference == "TX 1"
    assert account_total(app, shop, ledger.PAYOUTS) == 19_700
    assert balance(app, shop, agent.id) == 30_000
    assert differences(app, shop) == []


def test_the_shop_minimum_the_balance_and_the_payout_account_are_checked(app, shop, agent):
    below = _refusal(app, shop, "request_withdrawal", agent.id, 9_999, "Alipay x")
    assert below.status == 422 and "amount" in below.errors
    assert below.user_message() == "The smallest withdrawal is ¥100.00."

    too_much = _refusal(app, shop, "request_withdrawal", agent.id, 50_001, "Alipay x")
    assert too_much.slug == "insufficient-funds" and "amount" in too_much.errors
    assert "¥500.00" in too_much.user_message()

    nowhere = _refusal(app, shop, "request_withdrawal", agent.id, 10_000, "   ")
    assert "payout_account" in nowhere.errors

    assert balance(app, shop, agent.id) == 50_000
    assert account_total(app, shop, ledger.WITHDRAWALS_PENDING) == 0


def test_at_most_three_requests_wait_at_once(app, shop, agent):
    first = ask_withdrawal(app, shop, agent.id, 10_000)
    for _ in range(2):
        ask_withdrawal(app, shop, agent.id, 10_000)

    fourth = _refusal(app, shop, "request_withdrawal", agent.id, 10_000, "Alipay x")
    assert (fourth.status, fourth.slug) == (409, "too-many-open-withdrawals")

    _service(app, shop, "reject", first, "ask once", "owner")  # one decided: room again
    ask_withdrawal(app, shop, agent.id, 10_000)
    assert balance(app, shop, agent.id) == 50_000 - 30_000


def test_a_key_sent_twice_asks_once(app, shop, agent):
    first = ask_withdrawal(app, shop, agent.id, 10_000, "Alipay x", key="form-1")
    again = ask_withdrawal(app, shop, agent.id, 10_000, "Alipay x", key="form-1")

    assert again == first
    assert balance(app, shop, agent.id) == 40_000
    other = _refusal(app, shop, "request_withdrawal", agent.id, 20_000, "Alipay x", key="form-1")
    assert other.status == 409


def test_only_agents_withdraw(app, shop, make_account):
    buyer = make_account(shop, "buyer@alpha.example.com")
    fill_wallet(app, shop, buyer.id, 50_000)

    refused = _refusal(app, shop, "request_withdrawal", buyer.id, 20_000, "Alipay x")

    assert refused.status == 403
    assert balance(app, shop, buyer.id) == 50_000


def test_a_fee_that_would_eat_the_whole_amount_is_refused(app, shop, agent):
    set_shop(app, shop, withdraw_min=1, withdraw_fee_bps=10_000)

    refused = _refusal(app, shop, "request_withdrawal", agent.id, 500, "Alipay x")

    assert refused.status == 422 and "amount" in refused.errors


# --- the API ---------------------------------------------------------------------


def _agent_session(browser_for, shop, email):
    session = browser_for(shop.host)
    assert (
        session.submit("/account/login", {"email": email, "password": PASSWORD}).status_code == 302
    )
    return session, {"X-CSRFToken": session.csrf_token("/account/withdrawals")}


def test_an_agent_asks_and_lists_through_the_api(app, shop, agent, browser_for):
    session, csrf = _agent_session(browser_for, shop, agent.email)
    body = {"amount": 12_345, "payout_account": "ICBC 6222 0000"}

    made = session.post(
        "/api/v1/me/withdrawals", json=body, headers={"Idempotency-Key": "k-1", **csrf}
    )
    replay = session.post(
        "/api/v1/me/withdrawals", json=body, headers={"Idempotency-Key": "k-1", **csrf}
    )

    assert made.status_code == 201, made.get_data(as_text=True)
    assert replay.status_code == 200 and replay.get_json()["id"] == made.get_json()["id"]
    assert made.get_json() | {"id": None, "created_at": None} == {
        "id": None,
        "amount": 12_345,
        "fee": 185,
        "payout": 12_160,
        "currency": "CNY",
        "payout_account": "ICBC 6222 0000",
        "status": "requested",
        "reference": None,
        "created_at": None,
        "decided_at": None,
    }
    listed = session.get("/api/v1/me/withdrawals").get_json()
    assert [w["amount"] for w in listed["items"]] == [12_345]
    assert listed["terms"] == {"minimum": 10_000, "fee_bps": 150, "currency": "CNY", "max_open": 3}
    assert listed["balance"] == 50_000 - 12_345


def test_the_api_refuses_readably(app, shop, agent, browser_for):
    session, csrf = _agent_session(browser_for, shop, agent.email)

    below = session.post(
        "/api/v1/me/withdrawals", json={"amount": 5, "payout_account": "x"}, headers=csrf
    )
    too_much = session.post(
        "/api/v1/me/withdrawals", json={"amount": 90_000, "payout_account": "x"}, headers=csrf
    )
    floaty = session.post(
        "/api/v1/me/withdrawals", json={"amount": 100.5, "payout_account": "x"}, headers=csrf
    )

    assert "amount" in assert_problem(below, 422, "validation-failed")["errors"]
    assert_problem(too_much, 402, "insufficient-funds")
    assert_problem(floaty, 422)
    assert balance(app, shop, agent.id) == 50_000


def test_the_owner_decides_through_the_api_once(app, shop, agent, browser_for):
    first = ask_withdrawal(app, shop, agent.id, 20_000)
    second = ask_withdrawal(app, shop, agent.id, 10_000)
    api = browser_for(shop.host)
    owner = bearer(shop.key)

    waiting = api.get("/api/v1/withdrawals?status=requested", headers=owner).get_json()
    paid = api.post(
        f"/api/v1/withdrawals/{first}/approve", json={"reference": "TX-9"}, headers=owner
    )
    twice = api.post(
        f"/api/v1/withdrawals/{first}/approve", json={"reference": "TX-9"}, headers=owner
    )
    refused = api.post(
        f"/api/v1/withdrawals/{second}/reject", json={"reason": "unknown card"}, headers=owner
    )

    assert waiting["total"] == 2
    assert {w["email"] for w in waiting["items"]} == {agent.email}
    assert paid.status_code == 200 and paid.get_json()["status"] == "approved"
    assert paid.get_json()["payout"] == 20_000 - 300
    assert_problem(twice, 409, "withdrawal-already-decided")
    assert refused.get_json()["status"] == "rejected"
    assert balance(app, shop, agent.id) == 30_000
    no_reason = api.post(f"/api/v1/withdrawals/{second}/reject", json={}, headers=owner)
    assert_problem(no_reason, 422)


def test_staff_keys_customers_and_strangers_cannot_decide(
    app, shop, agent, browser_for, make_api_key, make_account
):
    withdrawal_id = ask_withdrawal(app, shop, agent.id, 20_000)
    api = browser_for(shop.host)
    staff = bearer(make_api_key(shop, "staff"))

    assert_problem(api.get("/api/v1/withdrawals", headers=staff), 403)
    assert_problem(
        api.post(
            f"/api/v1/withdrawals/{withdrawal_id}/approve", json={"reference": "x"}, headers=staff
        ),
        403,
    )
    assert_problem(
        api.post(f"/api/v1/withdrawals/{withdrawal_id}/approve", json={"reference": "x"}), 401
    )
    session, csrf = _agent_session(browser_for, shop, agent.email)  # an agent is not the shop
    assert_problem(session.get("/api/v1/withdrawals"), 403)
    assert_problem(api.get("/api/v1/me/withdrawals", headers=bearer(shop.key)), 403)
    assert _service(app, shop, "get_withdrawal", withdrawal_id).status == "requested"


def test_another_shop_finds_none_of_these_withdrawals(app, shops, browser_for, make_account):
    alpha, bravo = shops["alpha"], shops["bravo"]
    set_shop(app, alpha, withdraw_min=100)
    agent = make_account(alpha, "agent@alpha.example.com", "agent")
    fill_wallet(app, alpha, agent.id, 5_000)
    withdrawal_id = ask_withdrawal(app, alpha, agent.id, 1_000)
    at_bravo = browser_for(bravo.host)

    listed = at_bravo.get("/api/v1/withdrawals", headers=bearer(bravo.key)).get_json()
    approve = at_bravo.post(
        f"/api/v1/withdrawals/{withdrawal_id}/approve",
        json={"reference": "x"},
        headers=bearer(bravo.key),
    )
    alpha_key_at_bravo = at_bravo.get("/api/v1/withdrawals", headers=bearer(alpha.key))

    assert listed["total"] == 0
    assert_problem(approve, 404, "not-found")
    assert_problem(alpha_key_at_bravo, 401)
    assert _service(app, alpha, "get_withdrawal", withdrawal_id).status == "requested"


# --- the agent's page --------------------------------------------------------------


def _english(browser, shop):
    browser.client.set_cookie("lang", "en", domain=shop.host)
    return browser


def test_the_agent_page_shows_the_terms_and_asks(app, shop, agent, browser_for):
    session, _csrf = _agent_session(browser_for, shop, agent.email)
    _english(session, shop)

    page = text_of(session.get("/account/withdrawals"))
    assert "¥500.00" in page and "¥100.00" in page and "1.5%" in page
    key = re.search(r'name="form_key" type="hidden" value="([0-9a-f]{32})"', page)
    sent = session.submit(
        "/account/withdrawals",
        {"amount": "200", "payout_account": "Alipay mei@x.cn", "form_key": key.group(1)},
    )
    twice = session.submit(
        "/account/withdrawals",
        {"amount": "200", "payout_account": "Alipay mei@x.cn", "form_key": key.group(1)},
    )

    assert sent.status_code == 302 and twice.status_code == 302
    listed = text_of(session.get("/account/withdrawals"))
    assert "Waiting for the shop" in listed and "Alipay mei@x.cn" in listed
    assert "¥197.00" in listed  # what the agent receives: 200 less 1.5 %
    assert balance(app, shop, agent.id) == 30_000


@pytest.mark.parametrize(
    "typed, says",
    [
        ("12.345", "Write an amount like 100.00."),
        ("abc", "Write an amount like 100.00."),
        ("50", "The smallest withdrawal is ¥100.00."),
        ("900", "Your balance is ¥500.00: you can withdraw at most that."),
    ],
)
def test_a_bad_amount_is_explained_and_what_was_typed_stays(
    app, shop, agent, browser_for, typed, says
):
    session, _csrf = _agent_session(browser_for, shop, agent.email)
    _english(session, shop)

    answer = session.submit(
        "/account/withdrawals",
        {"amount": typed, "payout_account": "Bank of Ningbo 6222", "form_key": "k" * 32},
    )

    page = text_of(answer)
    assert answer.status_code == 200
    assert says in page
    assert f'value="{typed}"' in page and 'value="Bank of Ningbo 6222"' in page
    assert balance(app, shop, agent.id) == 50_000


def test_a_buyer_is_told_withdrawals_are_for_agents_and_a_stranger_signs_in(
    app, shop, make_account, browser_for
):
    make_account(shop, "buyer@alpha.example.com")
    buyer = _english(browser_for(shop.host), shop)
    buyer.submit("/account/login", {"email": "buyer@alpha.example.com", "password": PASSWORD})

    page = text_of(buyer.get("/account/withdrawals"))
    posted = buyer.submit(
        "/account/withdrawals", {"amount": "200", "payout_account": "x", "form_key": "k" * 32}
    )
    stranger = browser_for(shop.host).get("/account/withdrawals")

    assert "Withdrawals are for agents" in page and 'name="amount"' not in page
    assert posted.status_code == 200 and "Withdrawals are for agents" in text_of(posted)
    assert stranger.status_code == 302 and "/account/login" in stranger.headers["Location"]


# --- the owner's console page --------------------------------------------------------


def test_the_owner_pays_and_refuses_on_the_console_page(app, shop, agent, browser_for):
    paid_id = ask_withdrawal(app, shop, agent.id, 20_000, "Alipay pay-me")
    refused_id = ask_withdrawal(app, shop, agent.id, 10_000, "Alipay refuse-me")
    owner = console(browser_for, shop.host, shop.owner_email)

    page = text_of(owner.get("/console/withdrawals"))
    assert "2 waiting for you." in page and "¥197.00" in page and "Alipay pay-me" in page
    done = owner.submit(
        "/console/withdrawals",
        {"reference": "ALI-778"},
        action=f"/console/withdrawals/{paid_id}/approve",
    )
    again = owner.submit(
        "/console/withdrawals",
        {"reference": "ALI-779"},
        action=f"/console/withdrawals/{paid_id}/approve",
    )
    back = owner.submit(
        "/console/withdrawals",
        {"reason": "card closed"},
        action=f"/console/withdrawals/{refused_id}/reject",
    )

    assert done.status_code == again.status_code == back.status_code == 302
    after = text_of(owner.get("/console/withdrawals"))
    assert "ALI-778" in after and "ALI-779" not in after and "card closed" in after
    assert balance(app, shop, agent.id) == 50_000 - 20_000
    assert account_total(app, shop, ledger.WITHDRAWAL_FEES) == 300


def test_a_missing_reference_is_shown_at_the_row_and_nothing_moves(app, shop, agent, browser_for):
    withdrawal_id = ask_withdrawal(app, shop, agent.id, 20_000)
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.submit(
        "/console/withdrawals",
        {"reference": "   ", "status": "requested"},
        action=f"/console/withdrawals/{withdrawal_id}/approve",
    )

    page = text_of(answer)
    assert answer.status_code == 422
    assert "Give the payment's reference" in page
    assert '<details class="confirm" open>' in page
    assert _service(app, shop, "get_withdrawal", withdrawal_id).status == "requested"


def test_the_console_page_is_the_owners_alone(app, shops, browser_for, make_member, make_account):
    alpha, bravo = shops["alpha"], shops["bravo"]
    set_shop(app, alpha, withdraw_min=100)
    agent = make_account(alpha, "agent@alpha.example.com", "agent")
    fill_wallet(app, alpha, agent.id, 5_000)
    withdrawal_id = ask_withdrawal(app, alpha, agent.id, 1_000)
    make_member(alpha, "staff@alpha.example.com")
    staff = console(browser_for, alpha.host, "staff@alpha.example.com")
    bravo_owner = console(browser_for, bravo.host, bravo.owner_email)

    assert staff.get("/console/withdrawals").status_code == 403
    assert "/console/withdrawals" not in text_of(staff.get("/console/"))
    assert browser_for(alpha.host).get("/console/withdrawals").status_code == 302
    assert bravo_owner.get("/console/withdrawals").status_code == 200
    assert agent.email not in text_of(bravo_owner.get("/console/withdrawals"))
    crossed = bravo_owner.submit(
        "/console/withdrawals",
        {"reference": "x"},
        action=f"/console/withdrawals/{withdrawal_id}/approve",
    )
    assert crossed.status_code == 302  # back to bravo's list, with "not found"
    assert "Not found" in text_of(bravo_owner.get("/console/withdrawals"))
    assert _service(app, alpha, "get_withdrawal", withdrawal_id).status == "requested"
