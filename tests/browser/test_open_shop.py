"""A newcomer opens a shop from the platform site, in a real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def fill_signup(page, *, shop_name: str, slug: str, email: str) -> None:
    page.get_by_label("Shop name").fill(shop_name)
    page.get_by_label("Shop address").fill(slug)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Open my shop").click()


def test_newcomer_opens_a_shop_and_creates_an_api_key_in_its_console(page, live_server, tmp_path):
    page.goto(live_server.url("/"))
    page.get_by_role("link", name="Open a shop").first.click()
    expect(page).to_have_url(live_server.url("/signup"))

    fill_signup(page, shop_name="Star Game Cards", slug="star-cards", email="li@example.com")

    expect(page.get_by_role("heading", name="My shops")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your shop Star Game Cards is open.")
    shop = page.locator(".shop-list li", has_text="Star Game Cards")
    expect(shop).to_contain_text(live_server.url("/", slug="star-cards"))

    shop.get_by_role("button", name="Open console").click()

    expect(page).to_have_url(live_server.url("/console/", slug="star-cards"))
    expect(page.get_by_role("heading", name="Star Game Cards")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("stock sync")
    page.get_by_role("button", name="Create key").click()

    new_key = page.locator("#new-key")
    expect(new_key).to_have_text(re.compile(r"^km_\w+"))
    expect(page.get_by_role("row", name=re.compile("stock sync"))).to_be_visible()
    page.screenshot(path=tmp_path / "console-api-key.png", full_page=True)

    page.goto(page.url)  # the list again: the key itself is never shown twice
    expect(page.locator("#new-key")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("stock sync"))).to_have_count(1)

    page.goto(live_server.url("/", slug="star-cards"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Star Game Cards")


def test_a_bad_shop_address_is_explained_on_the_sign_up_form(page, live_server):
    page.goto(live_server.url("/signup"))

    fill_signup(page, shop_name="Moon Cards", slug="-moon-", email="moon@example.com")

    expect(page).to_have_url(live_server.url("/signup"))
    slug_field = page.locator("label.field", has=page.get_by_label("Shop address"))
    expect(slug_field.locator(".error")).to_have_text(
        "Use lowercase letters, digits and single hyphens, not at the start or end."
    )
    expect(page.get_by_label("Shop address")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Shop address")).to_have_value("-moon-")
    expect(page.get_by_label("Shop name")).to_have_value("Moon Cards")
