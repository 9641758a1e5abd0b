"""An operator stocks a shop in a real Chromium: a category, a card
product typed in the console's form, a GBK file (dropped on the page)
large enough to be imported as a job by the real worker while the page's
progress bar follows it to the end, then the product put on sale from the
product list."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

#: lines in the file: well above CARD_IMPORT_SYNC_LIMIT (a job), and several
#: of the import's batches, so the bar has a road to travel
LINES = 60_000


def test_an_operator_stocks_a_card_product_and_puts_it_on_sale(
    page, live_server, app, make_shop, worker, tmp_path
):
    assert LINES > app.config["CARD_IMPORT_SYNC_LIMIT"]
    shop = make_shop("nova-cards", "Nova Cards")
    refused: list[str] = []  # the Content-Security-Policy lets every script and style run
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )

    def console(path: str) -> str:
        return live_server.url(path, slug="nova-cards")

    page.goto(console("/console/login"))
    page.get_by_label("Email").fill(shop.owner_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Categories")).to_be_visible()

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Categories").click()
    page.get_by_label("Name").fill("游戏点卡")
    page.get_by_role("button", name="Add category").click()
    expect(page.get_by_role("status").first).to_contain_text("Category 游戏点卡 added.")

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Products").click()
    page.get_by_role("link", name="New product").click()
    page.get_by_label("Name").fill("Steam 钱包卡 ¥100")
    page.get_by_label("Kind").select_option("card")
    page.get_by_label("Category").select_option(label="游戏点卡")
    page.get_by_label("Price").fill("98.50")
    page.get_by_label("Low-stock alert at").fill("10")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("status").first).to_contain_text("Product Steam 钱包卡 ¥100 created.")
    expect(page.get_by_label("Price")).to_have_value("98.50")

    page.get_by_role("link", name=re.compile(r"^Card codes")).click()
    expect(page.get_by_role("heading", name=re.compile("Card codes"))).to_be_visible()
    gbk = "\r\n".join(f"点卡{i:06d}----密码{i:06d}" for i in range(1, LINES + 1)).encode("gbk")
    # dropped on the drop zone, as from the desktop: the page's script hands
    # the file to the form's file input
    dropped = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], '点卡.txt', { type: 'text/plain' }));
            return transfer;
        }""",
        base64.b64encode(gbk).decode(),
    )
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": dropped})
    expect(page.locator("[data-dropzone] .dropped")).to_have_text("点卡.txt")
    polls: list[dict] = []
    page.on(
        "response",
        lambda response: polls.append(response.json()) if "/imports/" in response.url else None,
    )
    page.get_by_role("button", name="Import", exact=True).click()

    bar = page.locator("#import-progress progress")
    expect(bar).to_be_visible()
    # The page polls the import's progress and moves the bar; once the job
    # has finished it fills the bar and reloads itself to show the report.
    # (Watching the bar move from 0 to full is the journey test's part.)
    report = page.locator("#import-report")
    expect(report).to_contain_text(f"New codes: {LINES}.", timeout=180_000)
    if polls:  # read once the page has reloaded: every poll's answer has been seen
        assert polls[-1] == {"status": "done", "done": LINES, "total": LINES, "finished": True}
        assert all(p["done"] <= p["total"] == LINES for p in polls)
    expect(report).to_contain_text("GBK / GB18030")
    expect(page.locator(".card-counts")).to_contain_text(f"{LINES}")
    page.screenshot(path=tmp_path / "import-report.png", full_page=True)

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Products").click()
    row = page.get_by_role("row", name=re.compile("Steam 钱包卡"))
    expect(row).to_contain_text("Draft")
    expect(row).to_contain_text("¥98.50")
    page.get_by_label("Choose all on this page").check()  # the page's script ticks every row
    expect(row.get_by_role("checkbox")).to_be_checked()
    page.get_by_role("button", name="Put on sale").click()
    expect(page.get_by_role("status").first).to_contain_text("Put on sale: 1.")
    expect(page.get_by_role("row", name=re.compile("Steam 钱包卡"))).to_contain_text("On sale")
    expect(page.get_by_role("row", name=re.compile("Steam 钱包卡"))).to_contain_text(f"{LINES}")
    page.screenshot(path=tmp_path / "products.png", full_page=True)

    page.goto(live_server.url("/", slug="nova-cards"))
    expect(page.get_by_text("Steam 钱包卡 ¥100")).to_be_visible()
    assert refused == []
