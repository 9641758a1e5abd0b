"""Reaching an agent tier: a fee paid from the wallet (once, balanced in the
ledger, refused when short), a recharge total reached (asked for, or by
itself when a recharge is confirmed), manual tiers never for sale, only
upgrades, and a customer becoming an agent by it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from tests.agents.support import (
    account_row,
    add_agent,
    add_tier,
    balance,
    page_text,
    recharge,
    signed_in,
)
from tests.factories import add_account, assert_problem, run_in_shop

pytestmark = pytest.mark.critical


@pytest.fixture
def buyer(app, shop, browser_for, make_account):
    account = make_account(shop, "buyer@alpha.example.com")
    browser, csrf = signed_in(browser_for, shop, account.email)
    return account, browser, csrf


def ask(browser, csrf, tier_id):
    return browser.post("/api/v1/me/tier", json={"tier_id": str(tier_id)}, headers=csrf)


def tier_fee_entries(app, shop) -> list[tuple[str, str, int]]:
    """(transaction key, account code, amount) of every tier fee, in order."""

    def read():
        rows = db.session.execute(
            select(LedgerTransaction.idempotency_key, LedgerAccount.code, LedgerEntry.amount)
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerTransaction.kind == "tier_fee")
            .order_by(LedgerTransaction.created_at, LedgerAccount.code)
        ).all()
        return [tuple(r) for r in rows]

    return run_in_shop(app, shop, read)


def test_a_customer_buys_a_fee_tier_from_the_wallet_and_becomes_an_agent(app, shop, buyer):
    account, browser, csrf = buyer
    bronze = add_tier(app, shop, "Bronze", 10, "fee", 3_000)
    recharge(app, shop, account.id, 5_000)

    response = ask(browser, csrf, bronze)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["tier"]["name"] == "Bronze" and body["charged"] == 3_000
    assert body["changed"] is True and body["role"] == "agent" and body["balance"] == 2_000
    row = account_row(app, shop, account.id)
    assert (row["role"], row["tier_id"]) == ("agent", bronze)
    entries = tier_fee_entries(app, shop)
    assert sorted((code, amount) for _key, code, amount in entries) == [
        ("fees:tier", 3_000),
        (f"wallet:{account.id}", -3_000),
    ]
    assert sum(amount for *_rest, amount in entries) == 0
    # Now an agent: the agent-only endpoints answer.
    assert browser.get("/api/v1/me/commissions").status_code == 200


def test_asking_again_for_the_tier_held_charges_nothing(app, shop, buyer):
    account, browser, csrf = buyer
    bronze = add_tier(app, shop, "Bronze", 10, "fee", 3_000)
    recharge(app, shop, account.id, 10_000)

    ask(browser, csrf, bronze)
    again = ask(browser, csrf, bronze)

    assert again.status_code == 200
    assert again.get_json()["changed"] is False and again.get_json()["charged"] == 0
    assert balance(app, shop, account.id) == 7_000
    assert len(tier_fee_entries(app, shop)) == 2


def test_a_tier_taken_away_and_bought_again_is_paid_again(app, shop, buyer):
    from app.accounts.models import ShopAccount

    account, browser, csrf = buyer
    bronze = add_tier(app, shop, "Bronze", 10, "fee", 3_000)
    recharge(app, shop, account.id, 10_000)
    ask(browser, csrf, bronze)

    def demote():
        db.session.get(ShopAccount, account.id).tier_id = None
        db.session.commit()

    run_in_shop(app, shop, demote)
    again = ask(browser, csrf, bronze)

    assert again.get_json()["charged"] == 3_000
    assert balance(app, shop, account.id) == 4_000
    keys = sorted({key for key, *_ in tier_fee_entries(app, shop)})
    assert keys == [f"tier-fee:{account.id}:{bronze}:1", f"tier-fee:{account.id}:{bronze}:2"]


def test_a_wallet_short_of_the_fee_changes_nothing(app, shop, buyer):
    account, browser, csrf = buyer
    gold = add_tier(app, shop, "Gold", 20, "fee", 30_000)
    recharge(app, shop, account.id, 1_000)

    response = ask(browser, csrf, gold)

    assert_problem(response, 402, "insufficient-funds")
    row = account_row(app, shop, account.id)
    assert (row["role"], row["tier_id"]) == ("customer", None)
    assert balance(app, shop, account.id) == 1_000
    assert tier_fee_entries(app, shop) == []


def test_a_manual_tier_is_not_for_sale(app, shop, buyer):
    account, browser, csrf = buyer
    vip = add_tier(app, shop, "VIP", 50, "manual")

    body = assert_problem(ask(browser, csrf, vip), 403, "tier-not-for-sale")

    assert "given by the shop" in body["detail"]
    assert account_row(app, shop, account.id)["tier_id"] is None


def test_only_upgrades(app, shop, browser_for):
    gold = add_tier(app, shop, "Gold", 20, "manual")
    silver = add_tier(app, shop, "Silver", 10, "fee", 100)
    also_gold = add_tier(app, shop, "Gold too", 20, "fee", 100)
    agent = add_agent(app, shop, "agent@alpha.example.com", tier_id=gold)
    recharge(app, shop, agent, 1_000)
    browser, csrf = signed_in(browser_for, shop, "agent@alpha.example.com")

    for tier in (silver, also_gold):
        assert_problem(ask(browser, csrf, tier), 409, "tier-not-an-upgrade")
    assert account_row(app, shop, agent)["tier_id"] == gold
    assert balance(app, shop, agent) == 1_000


def test_unknown_or_another_shops_tier_is_not_found(app, make_shop, browser_for):
    a, b = make_shop("alpha"), make_shop("bravo")
    theirs = add_tier(app, b, "Theirs", 10, "fee", 0)
    add_account(app, a, "buyer@alpha.example.com")
    browser, csrf = signed_in(browser_for, a, "buyer@alpha.example.com")

    assert_problem(ask(browser, csrf, theirs), 404, "not-found")
    assert_problem(ask(browser, csrf, uuid.uuid4()), 404, "not-found")
    assert_problem(browser.post("/api/v1/me/tier", json={"tier_id": "nope"}, headers=csrf), 422)


def test_a_recharge_tier_is_refused_until_reached_and_then_granted_by_the_recharge(
    app, shop, buyer
):
    account, browser, csrf = buyer
    silver = add_tier(app, shop, "Silver", 10, "recharge_total", 10_000)
    recharge(app, shop, account.id, 6_000)

    refused = ask(browser, csrf, silver)
    assert_problem(refused, 409, "tier-not-reached")
    offer = browser.get("/api/v1/me/tier").get_json()
    assert offer["recharged"] == 6_000
    assert offer["tiers"][0] | {"id": None} == {
        "id": None,
        "name": "Silver",
        "rank": 10,
        "kind": "recharge_total",
        "amount": 10_000,
        "above": True,
        "reachable": False,
        "missing": 4_000,
    }

    recharge(app, shop, account.id, 4_000)  # reaches it: granted with the recharge

    row = account_row(app, shop, account.id)
    assert (row["role"], row["tier_id"]) == ("agent", silver)
    assert balance(app, shop, account.id) == 10_000  # nothing charged
    again = ask(browser, csrf, silver).get_json()
    assert again["changed"] is False and again["charged"] == 0


def test_the_recharge_grants_the_best_tier_reached_and_never_a_lower_one(app, shop):
    silver = add_tier(app, shop, "Silver", 10, "recharge_total", 5_000)
    gold = add_tier(app, shop, "Gold", 20, "recharge_total", 8_000)
    add_tier(app, shop, "Platinum", 30, "recharge_total", 50_000)
    vip = add_tier(app, shop, "VIP", 40, "manual")
    climber = add_account(app, shop, "climber@alpha.example.com").id
    held = add_agent(app, shop, "vip@alpha.example.com", tier_id=vip)

    recharge(app, shop, climber, 9_000)
    recharge(app, shop, held, 9_000)

    assert account_row(app, shop, climber)["tier_id"] == gold
    assert account_row(app, shop, held)["tier_id"] == vip
    assert silver  # reached too, but Gold ranks higher


def test_balance_adjustments_do_not_count_as_recharges(app, shop, buyer):
    from app.ledger.adjustments import adjust_wallet

    account, browser, csrf = buyer
    silver = add_tier(app, shop, "Silver", 10, "recharge_total", 5_000)
    run_in_shop(
        app,
        shop,
        adjust_wallet,
        account.id,
        9_000,
        "goodwill",
        actor="test",
        form_key="k1",
        currency="CNY",
    )

    assert_problem(ask(browser, csrf, silver), 409, "tier-not-reached")
    assert account_row(app, shop, account.id)["tier_id"] is None


def test_a_supplier_reaches_no_tier(app, shop, browser_for):
    silver = add_tier(app, shop, "Silver", 10, "recharge_total", 1_000)
    bronze = add_tier(app, shop, "Bronze", 5, "fee", 0)
    supplier = add_account(app, shop, "supplier@alpha.example.com", "supplier").id
    browser, csrf = signed_in(browser_for, shop, "supplier@alpha.example.com")

    recharge(app, shop, supplier, 2_000)

    assert account_row(app, shop, supplier)["tier_id"] is None
    assert_problem(ask(browser, csrf, bronze), 403, "tier-not-for-sale")
    assert account_row(app, shop, supplier)["role"] == "supplier"
    assert silver


def test_strangers_and_operators_have_no_tier(app, shop, browser_for):
    bronze = add_tier(app, shop, "Bronze", 5, "fee", 0)
    stranger = browser_for(shop.host)

    assert_problem(stranger.post("/api/v1/me/tier", json={"tier_id": str(bronze)}), 401)
    assert_problem(
        stranger.post("/api/v1/me/tier", json={"tier_id": str(bronze)}, headers=shop.headers()),
        403,
    )


# --- the page ---------------------------------------------------------------------


def test_a_customer_sees_how_to_become_an_agent_and_buys_a_tier_there(app, shop, buyer):
    account, browser, _csrf = buyer
    bronze = add_tier(app, shop, "Bronze", 10, "fee", 3_000)
    add_tier(app, shop, "Silver", 20, "recharge_total", 20_000)
    add_tier(app, shop, "VIP", 30, "manual")
    recharge(app, shop, account.id, 5_000)

    page = page_text(browser.get("/account/agent"))

    assert "Become an agent" in page
    assert "Bronze" in page and "Pay ¥30.00 once from your balance." in page
    assert "Pay ¥30.00 from your balance to become Bronze?" in page  # it asks first
    assert "Silver" in page and "¥50.00 of ¥200.00 recharged." in page
    assert "Recharge ¥150.00 more to reach it." in page
    assert "/account/recharge?amount=15000" in page
    assert "The shop gives these tiers itself: VIP." in page
    assert "Invite link" not in page

    bought = browser.submit(
        "/account/agent", {"tier_id": str(bronze)}, action="/account/agent/tier"
    )

    assert bought.status_code == 302
    after = page_text(browser.get("/account/agent"))
    assert "Welcome to Bronze. ¥30.00 was paid from your balance." in after
    assert "Agent centre" in after and "Invite link" in after
    assert account_row(app, shop, account.id)["role"] == "agent"


def test_the_page_says_why_a_tier_was_not_bought(app, shop, buyer):
    account, browser, _csrf = buyer
    gold = add_tier(app, shop, "Gold", 10, "fee", 30_000)

    response = browser.submit(
        "/account/agent", {"tier_id": str(gold)}, action="/account/agent/tier"
    )

    assert response.status_code == 302
    page = page_text(browser.get("/account/agent"))
    assert "Your balance is too low for this tier. Recharge first." in page
    assert "Your balance lacks ¥300.00." in page
    assert account_row(app, shop, account.id)["tier_id"] is None
