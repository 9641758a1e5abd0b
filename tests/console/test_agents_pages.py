"""The console's agents, one agent's chain, commissions and the day's
reconciliation: what the owner and staff read there, the filters (a bad
date is explained and kept), paging, the CSV, and other shops' rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.agents.money_support import (
    build_chain,
    buy,
    fill_wallet,
    place_in_chain,
    refund_to_wallet,
    settle_all,
)
from tests.console.support import console, text_of
from tests.factories import run_in_shop


@pytest.fixture
def chained(app, shop):
    """alpha's chain a ← b ← c ← buyer; the buyer and c each bought once
    (commission pending), so a, b and c have earned."""
    chain = build_chain(app, shop)
    fill_wallet(app, shop, chain.buyer, 50_000)
    fill_wallet(app, shop, chain.c, 50_000)
    buy(app, shop, chain.buyer, chain.product)
    buy(app, shop, chain.c, chain.product)
    return chain


@pytest.fixture
def owner(browser_for, shop):
    return console(browser_for, shop.host, shop.owner_email)


def _row(page: str, start: str) -> str:
    """The table row whose first cell begins with ``start``."""
    at = page.index(f"<tr>\n    <td>{start}")
    return page[at : page.index("</tr>", at)]


def _total_row(page: str, label: str) -> str:
    at = page.index(f"<td>{label}</td>")
    return page[at : page.index("</tr>", at)]


def _agent_row(page: str, account_id) -> str:
    return _row(page, f'<a href="/console/agents/{account_id}"')


def test_the_agents_list_shows_tier_upline_downline_balance_and_pending(app, shop, chained, owner):
    page = text_of(owner.get("/console/agents"))

    assert "3 in all" in page
    assert chained.emails["buyer"] not in page  # a customer is not an agent
    b = _agent_row(page, chained.b)
    assert "silver" in b and chained.emails["a"] in b
    assert ">1<" in b.replace(" ", "")  # recruited c
    assert "¥20.00" in b  # pending: 10 on the buyer's order, 10 on c's
    c = _agent_row(page, chained.c)
    assert "¥410.00" in c  # 500 less 90 for its own order
    assert "¥10.00" in c  # pending on the buyer's order


def test_the_agents_list_searches_filters_by_tier_and_pages(app, shop, chained, owner):
    for n in range(51):
        place_in_chain(app, shop, f"bulk{n:02d}@alpha.example.com", "agent")

    searched = text_of(owner.get("/console/agents?q=B@ALPHA"))
    by_tier = text_of(owner.get(f"/console/agents?tier={chained.tiers['gold']}"))
    first, second = (text_of(owner.get(f"/console/agents?page={n}")) for n in (1, 2))

    assert "1 in all" in searched and chained.emails["b"] in searched
    assert chained.emails["a"] in by_tier and chained.emails["b"] not in by_tier
    assert "54 in all" in first and "Page 1 of 2" in first
    assert first.count("bulk") + second.count("bulk") == 51
    assert chained.emails["a"] in second  # the oldest come last


def test_a_chain_shows_uplines_nearest_first_and_the_downline_tree(app, shop, chained, owner):
    of_c = text_of(owner.get(f"/console/agents/{chained.c}"))
    of_a = text_of(owner.get(f"/console/agents/{chained.a}"))

    uplines = of_c[of_c.index("Uplines") : of_c.index("Downline tree")]
    assert uplines.index(chained.emails["b"]) < uplines.index(chained.emails["a"])
    assert "Level 1: 1" in of_c and chained.emails["buyer"] in of_c
    assert "No upline" in of_a
    tree = of_a[of_a.index("Downline tree") :]
    assert "Level 1: 1 · Level 2: 1 · Level 3: 1" in tree
    assert [tree.index(chained.emails[k]) for k in ("b", "c", "buyer")] == sorted(
        tree.index(chained.emails[k]) for k in ("b", "c", "buyer")
    )
    assert "¥20.00" in of_a  # pending: 10 on each order


def test_an_agent_of_another_shop_or_a_mangled_id_is_not_found(
    app, shop, chained, make_shop, browser_for
):
    bravo = make_shop("bravo")
    bravo_owner = console(browser_for, bravo.host, bravo.owner_email)

    assert bravo_owner.get(f"/console/agents/{chained.a}").status_code == 404
    assert bravo_owner.get("/console/agents/not-an-id").status_code == 404
    assert chained.emails["a"] not in text_of(bravo_owner.get("/console/agents"))
    assert chained.emails["a"] not in text_of(bravo_owner.get("/console/commissions"))


def test_commissions_list_with_totals_per_status_and_filters(app, shop, chained, owner):
    settle_all(app, shop)
    number = buy(app, shop, chained.buyer, chained.product)  # 3 more, pending
    refund_to_wallet(app, shop, number)  # … reversed at once

    page = text_of(owner.get("/console/commissions"))
    settled = text_of(owner.get("/console/commissions?status=settled"))
    of_b = text_of(owner.get(f"/console/commissions?agent={chained.emails['b'][:4]}"))
    by_id = text_of(owner.get(f"/console/commissions?agent={chained.a}"))

    assert "8 in all" in page
    totals = page[page.index("commission-totals") :]
    assert "¥50.00" in totals and "¥30.00" in totals  # settled 5 × 10, reversed 3 × 10
    assert "5 in all" in settled and "reversed" not in settled.split("<tbody>")[1]
    assert "3 in all" in of_b and chained.emails["c"] not in of_b.split("<tbody>")[1]
    assert "3 in all" in by_id


def test_a_bad_date_is_explained_and_kept(app, shop, chained, owner):
    page = text_of(owner.get("/console/commissions?start=2024-13-01&end=yesterday"))
    backwards = text_of(owner.get("/console/commissions?start=2024-05-02&end=2024-05-01"))

    assert "Use a date like 2024-05-01." in page
    assert 'value="2024-13-01"' in page and 'value="yesterday"' in page
    assert "The end date is before the start date." in backwards


def test_commissions_of_other_days_are_left_out(app, shop, chained, owner):
    today = datetime.now(UTC).date()
    tomorrow = (today + timedelta(days=2)).isoformat()

    later = text_of(owner.get(f"/console/commissions?start={tomorrow}"))
    now = text_of(owner.get(f"/console/commissions?start={today - timedelta(days=1)}"))

    assert "0 in all" in later and "No commission matches." in later
    assert "5 in all" in now


def test_staff_read_agents_and_commissions_but_not_money_decisions(
    app, shop, chained, make_member, browser_for
):
    make_member(shop, "staff@alpha.example.com")
    staff = console(browser_for, shop.host, "staff@alpha.example.com")

    home = text_of(staff.get("/console/"))
    assert staff.get("/console/agents").status_code == 200
    assert staff.get(f"/console/agents/{chained.b}").status_code == 200
    assert staff.get("/console/commissions").status_code == 200
    assert staff.get("/console/withdrawals").status_code == 403
    assert staff.get("/console/reconciliation").status_code == 403
    assert staff.get("/console/reconciliation.csv").status_code == 403
    assert "/console/agents" in home and "/console/reconciliation" not in home


# --- reconciliation ---------------------------------------------------------------


def test_a_clean_day_reconciles_and_downloads(app, shop, chained, owner):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the shop's zone

    page = text_of(owner.get("/console/reconciliation"))
    export = owner.get(f"/console/reconciliation.csv?day={today}")

    assert "No differences: the books agree." in page
    assert "¥190.00" in _total_row(page, "Order payment")  # 100 + 90
    assert "¥1,000.00" in _total_row(page, "Top-up")
    assert "¥50.00" in _total_row(page, "Commission")  # accrued: 3 × 10 + 2 × 10
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert f"reconciliation-alpha-{today}.csv" in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Reconciliation", today, "Asia/Shanghai", "CNY"]
    assert ["Order payment", "2", "190.00"] in rows
    assert ["No differences: the books agree."] in rows


def test_a_day_with_a_difference_lists_it(app, shop, chained, owner):
    from sqlalchemy import update

    from app.extensions import db
    from app.ledger.models import LedgerAccount

    def spoil():
        db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.code == f"wallet:{chained.c}")
            .values(balance=LedgerAccount.balance + 1)
        )
        db.session.commit()

    run_in_shop(app, shop, spoil)

    page = text_of(owner.get("/console/reconciliation"))
    export = owner.get("/console/reconciliation.csv").get_data(as_text=True)

    assert "Differences found: 1." in page
    assert "A balance that differs from its entries" in page
    assert chained.emails["c"] in page and "¥410.01" in page
    assert "A balance that differs from its entries" in export and "410.01" in export


def test_a_bad_day_is_explained_and_today_is_shown(app, shop, owner):
    answer = owner.get("/console/reconciliation?day=30/11/2026")

    page = text_of(answer)
    assert answer.status_code == 422
    assert "Use a date like 2024-05-01. Today is shown." in page
    assert 'value="30/11/2026"' in page
