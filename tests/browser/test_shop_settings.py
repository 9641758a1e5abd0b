"""An owner makes the shop theirs on the settings page, in a real Chromium:
the colour picker and the theme choice work under the page's
Content-Security-Policy, and the storefront shows the result."""

from __future__ import annotations

import struct
import zlib

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _png(path, rgb=(30, 120, 200), size=(120, 40)) -> None:
    """A real PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    width, height = size
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _refusals(page) -> list[str]:
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return refused


def test_an_owner_sets_the_look_and_the_shop_shows_it(page, live_server, make_shop, tmp_path):
    shop = make_shop("looks", "Looks Cards")
    refused = _refusals(page)
    page.goto(live_server.url("/console/login?lang=en", slug="looks"))
    page.get_by_label("Email").fill(shop.owner_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Settings", exact=True).first.click()
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    # The script gave the colour field a picker and hid the no-script button.
    expect(page.locator("#shop input[type=color]")).to_have_count(1)
    expect(page.locator("#theme-show")).to_be_hidden()

    page.get_by_label("Shop name").fill("Looks Game Cards")
    page.get_by_label("Brand colour").fill("#1a7f5a")
    expect(page.locator("#shop input[type=color]")).to_have_value("#1a7f5a")
    page.get_by_label("Announcement").fill("Open every day, 9:00 to 21:00.")
    page.locator("#shop").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")

    logo = tmp_path / "logo.png"
    _png(logo)
    page.get_by_label("New logo").set_input_files(logo)
    page.locator("#picture-logo").get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("Logo saved.")
    expect(page.locator("#picture-logo img")).to_be_visible()
    page.screenshot(path=tmp_path / "settings.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=tmp_path / "settings-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(live_server.url("/", slug="looks"))
    expect(page.locator(".brand img.brand-logo")).to_be_visible()
    expect(page.locator(".announcement")).to_have_text("Open every day, 9:00 to 21:00.")
    accent = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"
    )
    assert accent == "#1a7f5a"
    page.screenshot(path=tmp_path / "storefront.png", full_page=True)
    assert refused == []
