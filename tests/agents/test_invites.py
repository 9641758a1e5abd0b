"""Invite links: an agent's code (made once, unambiguous, the shop's own),
``/join/<code>`` signing up a sub-agent under it, and every way a link is
refused: unknown, another shop's, an owner who cannot recruit, the shop's
depth, a visitor already signed in, bad sign-up input."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import ShopAccount
from app.agents.invites import ALPHABET, CODE_LENGTH
from app.extensions import db
from tests.agents.support import account_row, add_agent, page_text, set_shop, signed_in
from tests.factories import PASSWORD, add_account, assert_problem, run_in_shop

pytestmark = pytest.mark.critical


def invite_code(app, shop, account_id) -> str:
    from app.agents.invites import invite_code_of

    return run_in_shop(app, shop, invite_code_of, account_id)


def accounts_in(app, shop) -> int:
    return run_in_shop(app, shop, lambda: db.session.scalar(select(func.count(ShopAccount.id))))


def english_guest(browser_for, shop):
    browser = browser_for(shop.host)
    browser.client.set_cookie("lang", "en", domain=shop.host)
    return browser


def test_an_agent_gets_one_unambiguous_code_the_first_time_it_is_asked(
    app, shop, browser_for, make_account
):
    agent = make_account(shop, "agent@alpha.example.com", "agent")
    assert account_row(app, shop, agent.id)["invite_code"] is None
    browser, _ = signed_in(browser_for, shop, agent.email)

    first = browser.get("/api/v1/me/invite").get_json()
    again = browser.get("/api/v1/me/invite").get_json()

    assert first == again
    assert len(first["code"]) == CODE_LENGTH and set(first["code"]) <= set(ALPHABET)
    assert not set(first["code"]) & set("01OIL")
    assert first["url"] == f"http://{shop.host}/join/{first['code']}"
    assert account_row(app, shop, agent.id)["invite_code"] == first["code"]
    # The centre shows the same link, with a button to copy it.
    page = page_text(browser.get("/account/agent"))
    assert first["url"] in page and "Copy" in page


def test_codes_of_two_agents_differ(app, shop, make_account):
    a = make_account(shop, "a@alpha.example.com", "agent")
    b = make_account(shop, "b@alpha.example.com", "agent")

    assert invite_code(app, shop, a.id) != invite_code(app, shop, b.id)


def test_signing_up_through_the_link_makes_a_sub_agent_and_signs_it_in(
    app, shop, browser_for, make_account
):
    upline = make_account(shop, "boss@alpha.example.com", "agent")
    code = invite_code(app, shop, upline.id)
    guest = english_guest(browser_for, shop)

    form = guest.get(f"/join/{code}")
    assert form.status_code == 200
    assert "Invited by b***@alpha.example.com" in page_text(form)
    response = guest.submit(
        f"/join/{code.lower()}",  # typed in any case
        {"email": "New@Alpha.example.com", "password": PASSWORD, "confirm": PASSWORD},
    )

    assert response.status_code == 302 and response.location.endswith("/account/agent")
    new = run_in_shop(
        app,
        shop,
        lambda: db.session.scalar(
            select(ShopAccount.id).where(ShopAccount.email == "new@alpha.example.com")
        ),
    )
    row = account_row(app, shop, new)
    assert row["role"] == "agent" and row["upline_id"] == upline.id
    centre = guest.get("/account/agent")
    assert centre.status_code == 200 and "Invite link" in page_text(centre)
    # The upline sees it in its downline, masked.
    boss, _ = signed_in(browser_for, shop, upline.email)
    downline = boss.get("/api/v1/me/downline").get_json()
    assert [(m["email"], m["level"]) for m in downline["items"]] == [("n***@alpha.example.com", 1)]


def test_an_unknown_code_is_a_not_found_page(app, shop, browser_for):
    guest = english_guest(browser_for, shop)

    for code in ("ZZZZZZZZZZ", "not-a-code!", "x" * 40):
        response = guest.get(f"/join/{code}")
        assert response.status_code == 404, code
        assert "Page not found" in page_text(response)


def test_a_code_of_another_shop_is_unknown_here(app, make_shop, browser_for, make_account):
    a, b = make_shop("alpha"), make_shop("bravo")
    agent = make_account(a, "agent@alpha.example.com", "agent")
    code = invite_code(app, a, agent.id)
    guest = english_guest(browser_for, b)

    assert guest.get(f"/join/{code}").status_code == 404
    response = guest.submit(
        "/account/signup",  # a token of B's own form, posted to the link
        {"email": "x@example.com", "password": PASSWORD, "confirm": PASSWORD},
        action=f"/join/{code}",
    )
    assert response.status_code == 404
    assert accounts_in(app, b) == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"is_active": False}, "This invite link is no longer in use."),
        ({"role": "customer"}, "This invite link is no longer in use."),
    ],
)
def test_a_link_whose_owner_cannot_recruit_says_why(
    app, shop, browser_for, make_account, change, reason
):
    agent = make_account(shop, "agent@alpha.example.com", "agent")
    code = invite_code(app, shop, agent.id)

    def apply():
        row = db.session.get(ShopAccount, agent.id)
        for name, value in change.items():
            setattr(row, name, value)
        db.session.commit()

    run_in_shop(app, shop, apply)
    guest = english_guest(browser_for, shop)
    before = accounts_in(app, shop)

    response = guest.get(f"/join/{code}")

    assert response.status_code == 403
    assert reason in page_text(response)
    assert 'name="password"' not in page_text(response)
    assert accounts_in(app, shop) == before


def test_the_shops_depth_decides_who_may_recruit(app, shop, browser_for):
    set_shop(app, shop, agent_depth=2)
    top = add_agent(app, shop, "top@alpha.example.com")
    second = add_agent(app, shop, "second@alpha.example.com", upline=top)
    guest = english_guest(browser_for, shop)

    # Level 1 recruits (the new agent is level 2) …
    assert guest.get(f"/join/{invite_code(app, shop, top)}").status_code == 200
    # … level 2 is the deepest of a depth-2 shop: its link takes no one.
    code = invite_code(app, shop, second)
    refused = guest.get(f"/join/{code}")
    assert refused.status_code == 403
    assert "deepest level this shop allows" in page_text(refused)
    posted = guest.submit(
        "/account/signup",
        {"email": "x@alpha.example.com", "password": PASSWORD, "confirm": PASSWORD},
        action=f"/join/{code}",
    )
    assert posted.status_code == 403
    assert accounts_in(app, shop) == 2
    # A shop that pays no levels takes no sub-agents at all.
    set_shop(app, shop, agent_depth=0)
    assert guest.get(f"/join/{invite_code(app, shop, top)}").status_code == 403


def test_a_signed_in_visitor_is_told_they_have_an_account(app, shop, browser_for, make_account):
    agent = make_account(shop, "agent@alpha.example.com", "agent")
    buyer = make_account(shop, "buyer@alpha.example.com")
    code = invite_code(app, shop, agent.id)
    browser, _ = signed_in(browser_for, shop, buyer.email)

    response = browser.get(f"/join/{code}")

    assert response.status_code == 200
    assert "You already have an account" in page_text(response)
    assert 'name="password"' not in page_text(response)
    assert account_row(app, shop, buyer.id)["upline_id"] is None


def test_bad_sign_up_input_is_shown_and_nothing_typed_is_lost(app, shop, browser_for, make_account):
    agent = make_account(shop, "agent@alpha.example.com", "agent")
    add_account(app, shop, "taken@alpha.example.com")
    code = invite_code(app, shop, agent.id)
    guest = english_guest(browser_for, shop)
    before = accounts_in(app, shop)

    differ = guest.submit(
        f"/join/{code}",
        {"email": "kept@alpha.example.com", "password": PASSWORD, "confirm": "something else"},
    )
    taken = guest.submit(
        f"/join/{code}",
        {"email": "taken@alpha.example.com", "password": PASSWORD, "confirm": PASSWORD},
    )

    assert differ.status_code == 200
    assert "Passwords differ." in page_text(differ)
    assert re.search(r'value="kept@alpha\.example\.com"', differ.get_data(as_text=True))
    assert "An account with this email already exists in this shop." in page_text(taken)
    assert 'value="taken@alpha.example.com"' in taken.get_data(as_text=True)
    assert accounts_in(app, shop) == before


def test_a_customer_has_no_invite_link(app, shop, browser_for, make_account):
    buyer = make_account(shop, "buyer@alpha.example.com")
    browser, _ = signed_in(browser_for, shop, buyer.email)

    assert_problem(browser.get("/api/v1/me/invite"), 403, "forbidden")
    assert "/join/" not in page_text(browser.get("/account/agent"))
    assert account_row(app, shop, buyer.id)["invite_code"] is None
