"""The agent centre in a real Chromium: a newcomer signs up through an
invite link at a phone's width, buys a tier after the confirmation step,
copies its invite link, opens a sub-shop and makes an API key; every page
of the centre runs with nothing refused by the Content-Security-Policy,
fits a phone without sideways scrolling and has no serious axe finding in
any theme."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.agents.support import add_agent, add_tier, recharge
from tests.browser.support import PHONE, axe_findings, sideways_overflow, summary, watch_refusals
from tests.factories import PASSWORD, codes, run_in_shop
from tests.storefront.support import use_theme

pytestmark = pytest.mark.browser

THEMES = ("default", "classic", "grid")
PAGES = (
    ("centre", "/account/agent"),
    ("prices", "/account/agent/prices"),
    ("downline", "/account/agent/downline"),
    ("commission", "/account/agent/commissions"),
    ("sub-shop", "/account/agent/sub-shop"),
    ("api keys", "/account/agent/api-keys"),
)


def invite_code(app, shop, account_id) -> str:
    from app.agents.invites import invite_code_of

    return run_in_shop(app, shop, invite_code_of, account_id)


def account_id_of(app, shop, email: str):
    from sqlalchemy import select

    from app.accounts.models import ShopAccount
    from app.extensions import db

    return run_in_shop(
        app,
        shop,
        lambda: db.session.scalar(select(ShopAccount.id).where(ShopAccount.email == email)),
    )


def test_a_newcomer_joins_through_an_invite_and_sets_up_at_a_phones_width(
    chromium, live_server, app, make_shop, make_product
):
    slug = "agent-journey"
    shop = make_shop(slug, "Agent Cards")
    make_product(shop, name="Steam ¥100", price=10_000, stock=codes("ST", 2))
    bronze = add_tier(app, shop, "Bronze", 10, "fee", 2_000)
    upline = add_agent(app, shop, "boss@example.com")
    code = invite_code(app, shop, upline)
    context = chromium.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    refused = watch_refusals(page)

    def url(path: str) -> str:
        return live_server.url(path, slug=slug)

    try:
        page.goto(url(f"/join/{code}"))
        expect(page.get_by_text("Invited by b***@example.com")).to_be_visible()
        page.get_by_label("Email").fill("newcomer@example.com")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Repeat password").fill(PASSWORD)
        page.get_by_role("button", name="Sign up as an agent").click()
        page.wait_for_url(url("/account/agent"))
        expect(page.get_by_text("You are an agent of this shop now.")).to_be_visible()
        assert sideways_overflow(page) == 0

        # The tier costs more than the balance: the page says what is missing.
        expect(page.get_by_text("Your balance lacks ¥20.00.")).to_be_visible()
        recharge(app, shop, account_id_of(app, shop, "newcomer@example.com"), 5_000)
        page.reload()
        page.get_by_text("Buy for ¥20.00").click()  # opens the confirmation step
        expect(page.get_by_text("Pay ¥20.00 from your balance to become Bronze?")).to_be_visible()
        page.get_by_role("button", name="Pay and upgrade").click()
        expect(page.get_by_text("Welcome to Bronze.", exact=False)).to_be_visible()
        assert bronze

        invite = page.locator("#invite-url").input_value()
        assert f"/join/{invite.rsplit('/', 1)[1]}" in invite
        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()

        page.goto(url("/account/agent/sub-shop"))
        page.get_by_label("Address").fill("new-cards")
        page.get_by_label("Title").fill("New Cards")
        page.get_by_label("Every category").fill("abc")
        page.get_by_role("button", name="Open my sub-shop").click()
        expect(page.get_by_text("A whole percent from 0 to 500.")).to_be_visible()
        expect(page.get_by_label("Title")).to_have_value("New Cards")
        page.get_by_label("Every category").fill("12")
        page.get_by_role("button", name="Open my sub-shop").click()
        expect(page.get_by_text("Your sub-shop is open.")).to_be_visible()
        expect(page.get_by_role("link", name=url("/s/new-cards"))).to_be_visible()

        page.goto(url("/account/agent/api-keys"))
        page.get_by_label("Key name").fill("my bot")
        page.get_by_role("button", name="Make a key").click()
        expect(page.get_by_text("shown only this once", exact=False)).to_be_visible()
        assert page.locator("#new-key").inner_text().startswith("km_")
        assert sideways_overflow(page) == 0
    finally:
        context.close()
    assert refused == []


def test_the_centres_pages_pass_axe_fit_a_phone_and_run_in_every_theme(
    chromium, live_server, app, make_shop, make_product
):
    slug = "agent-a11y"
    shop = make_shop(slug, "Accessible Agents")
    make_product(shop, name="Steam ¥100", price=10_000)
    gold = add_tier(app, shop, "Gold", 10)
    add_tier(app, shop, "Platinum", 20, "recharge_total", 100_000)
    agent = add_agent(app, shop, "agent@example.com", tier_id=gold)
    add_agent(app, shop, "sub@example.com", upline=agent)
    findings: list[str] = []
    context = chromium.new_context(locale="en-US", viewport=PHONE, is_mobile=True)
    page = context.new_page()
    refused = watch_refusals(page)

    def url(path: str) -> str:
        return live_server.url(path, slug=slug)

    try:
        page.goto(url("/account/login"))
        page.get_by_label("Email").fill("agent@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(url("/account/"))
        for theme in THEMES:
            use_theme(app, shop, theme)
            for name, path in PAGES:
                response = page.goto(url(path))
                assert response is not None and response.ok, (theme, name, response.status)
                findings.extend(axe_findings(page, f"{theme} {name}"))
                assert sideways_overflow(page) == 0, (theme, name)
    finally:
        context.close()
    assert refused == []
    assert not findings, "\n" + summary(findings)
