"""The console's statement page (``/console/billing/statements``): the
owner sees the month's sales and fees and downloads them as CSV; a bad
month is said in words and kept in the box; a stranger is sent to sign
in; staff and other shops get nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.billing.support import accrue, on_plan_past_offer
from tests.billing.test_platform_commission import _wallet_sale
from tests.console.support import console, text_of


def _sold_in_october(app, shop) -> None:
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 1999)
    accrue(app, shop, now=datetime(2026, 10, 15, tzinfo=UTC))


def test_the_owner_sees_the_months_sales_and_fees(app, shop, browser_for):
    _sold_in_october(app, shop)
    owner = console(browser_for, shop.host, shop.owner_email)

    page = owner.get("/console/billing/statements?month=2026-10")

    assert page.status_code == 200
    text = text_of(page)
    assert "2026-10" in text and "Plan: Free" in text
    assert "The statement matches the ledger." in text
    assert "¥19.99" in text  # sold from the wallet
    assert "Commission accrued" in text and "¥0.60" in text
    assert 'href="/console/billing/statements"' in text  # in the navigation


def test_another_month_shows_no_sales(app, shop, browser_for):
    _sold_in_october(app, shop)
    owner = console(browser_for, shop.host, shop.owner_email)

    text = text_of(owner.get("/console/billing/statements?month=2026-09"))

    assert "No sales were counted this month." in text


def test_a_bad_month_is_said_in_words_and_kept(app, shop, browser_for):
    owner = console(browser_for, shop.host, shop.owner_email)

    page = owner.get("/console/billing/statements?month=2026-13")

    assert page.status_code == 422
    text = text_of(page)
    assert "Use a month like 2026-05. This month is shown." in text
    assert 'value="2026-13"' in text


def test_the_statement_downloads_as_csv(app, shop, browser_for):
    _sold_in_october(app, shop)
    owner = console(browser_for, shop.host, shop.owner_email)

    answer = owner.get("/console/billing/statements.csv?month=2026-10")

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert f"statement-{shop.slug}-2026-10.csv" in answer.headers["Content-Disposition"]
    lines = answer.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert "wallet,1,19.99,0,0.00" in lines
    assert "Total due,0.60" in lines


def test_a_stranger_is_sent_to_sign_in(shop, browser_for):
    for path in ("/console/billing/statements", "/console/billing/statements.csv"):
        answer = browser_for(shop.host).get(path)
        assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]


def test_staff_may_not_open_the_statement(app, shop, browser_for, make_member):
    make_member(shop, "staff@example.com")
    staff = console(browser_for, shop.host, "staff@example.com")

    assert staff.get("/console/billing/statements").status_code == 403
    assert staff.get("/console/billing/statements.csv").status_code == 403


def test_another_shops_owner_sees_only_their_own_statement(app, shops, browser_for):
    alpha, bravo = shops["alpha"], shops["bravo"]
    _sold_in_october(app, alpha)
    owner = console(browser_for, bravo.host, bravo.owner_email)

    own = text_of(owner.get("/console/billing/statements?month=2026-10"))
    at_alpha = owner.on(alpha.host).get("/console/billing/statements.csv?month=2026-10")

    assert "No sales were counted this month." in own  # alpha's sale is not bravo's
    assert at_alpha.status_code == 302  # no session there: sign in (and be refused)
