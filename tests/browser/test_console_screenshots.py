"""Every console page, in Chinese and in English, at a desktop width and at
a phone's (390×844), saved as a full-page PNG for people to look at: the
navigation's entries (pages that arrive later included), a new product's
form, a product, its cards and an order. At phone width no page may
scroll sideways.

The pictures go to ``$KAMENG_ARTIFACTS/screenshots/console/`` (``scripts/test``
sets it and says where at the end), else to
``<repo>/test-artifacts/screenshots/console/``, named
``<page>.<language>.<width>.png``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    DESKTOP,
    PHONE,
    artefacts,
    console_pages,
    sideways_overflow,
    sign_in_to_console,
    stocked_shop,
    watch_refusals,
)

pytestmark = pytest.mark.browser

LANGUAGES = ("zh_CN", "en")
#: the page's ``lang`` in each language
SPOKEN = {"zh_CN": "zh-CN", "en": "en"}


def test_every_console_page_is_photographed_and_fits_a_phone(chromium, live_server, app, make_shop):
    slug = "photo-cards"
    shop = make_shop(slug, "Photo Cards 照相卡")
    catalogue, number = stocked_shop(app, shop)
    folder = artefacts("screenshots", "console")
    for old in folder.glob("*.png"):
        old.unlink()
    sideways: list[str] = []
    taken = 0

    def url(path: str) -> str:
        return live_server.url(path, slug=slug)

    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        phone = viewport is PHONE
        context = chromium.new_context(
            locale="zh-CN", viewport=viewport, is_mobile=phone, has_touch=phone
        )
        page = context.new_page()
        refused = watch_refusals(page)
        try:
            for language in LANGUAGES:
                # ?lang= keeps the language in a cookie for the pages after it
                page.goto(url(f"/console/login?lang={language}"))
                page.screenshot(path=folder / f"login.{language}.{width}.png", full_page=True)
                taken += 1
            sign_in_to_console(page, url("/console/login"), shop.owner_email)
            for language in LANGUAGES:
                page.goto(url(f"/console/?lang={language}"))
                pages = console_pages(
                    page, app, url, product_id=catalogue.steam, order_number=number
                )
                for name, address in pages:
                    response = page.goto(address)
                    assert response is not None and response.ok, (address, response.status)
                    expect(page.locator("html")).to_have_attribute("lang", SPOKEN[language])
                    page.screenshot(path=folder / f"{name}.{language}.{width}.png", full_page=True)
                    taken += 1
                    if phone and (extra := sideways_overflow(page)):
                        sideways.append(f"{name} ({language}) scrolls {extra}px sideways")
            assert refused == [], refused
        finally:
            context.close()

    assert taken == len(list(folder.glob("*.png"))) >= 2 * 2 * 13
    assert sideways == []
