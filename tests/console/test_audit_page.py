"""The console's audit log: the shop's own rows, newest first, a page at a
time, in words (actions, who acted, what it was done to), filtered by who
and what; the owner's page only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.console.support import console, record_audit, text_of

pytestmark = pytest.mark.critical

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha")


@pytest.fixture
def owner(alpha, browser_for):
    return console(browser_for, alpha.host, alpha.owner_email)


def rows_of(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [row for row in body.split("<tr>")[1:]]


def test_the_log_is_newest_first_and_in_words(app, alpha, owner, make_member, make_account):
    member = make_member(alpha, "staff@example.com", "staff")
    buyer = make_account(alpha, "alice@example.com")
    actor = f"operator {alpha.owner_email}"
    record_audit(
        app,
        alpha,
        actor,
        "member.codes_granted",
        f"member:{member.id}",
        at=T0,
        email="staff@example.com",
    )
    record_audit(
        app,
        alpha,
        "operator staff@example.com",
        "order.codes_viewed",
        "order:24050112345678901234",
        at=T0 + timedelta(minutes=5),
        count=2,
    )
    record_audit(
        app,
        alpha,
        actor,
        "wallet.adjusted",
        f"account:{buyer.id}",
        at=T0 + timedelta(minutes=10),
        email="alice@example.com",
        amount=1250,
        currency="CNY",
        reason="Late delivery",
    )
    record_audit(
        app, alpha, "cli", "cards.rotate_key", "shop:alpha", at=T0 + timedelta(minutes=15), count=40
    )

    page = text_of(owner.get("/console/audit"))
    rows = rows_of(page)

    assert len(rows) == 4
    assert "Re-encrypted card codes under a new key" in rows[0] and "Command line" in rows[0]
    assert "Adjusted a customer's balance" in rows[1] and "+¥12.50" in rows[1]
    assert "Late delivery" in rows[1]
    assert f'href="/console/customers/{buyer.id}"' in rows[1]
    assert "Viewed an order's codes" in rows[2] and "staff@example.com" in rows[2]
    assert 'href="/console/orders/24050112345678901234"' in rows[2] and "2 codes" in rows[2]
    assert "Allowed a staff member to see codes" in rows[3]
    assert alpha.owner_email in rows[3] and "operator " not in page
    for code in (
        "member.codes_granted",
        "order.codes_viewed",
        "wallet.adjusted",
        "cards.rotate_key",
    ):
        assert f">{code}<" not in page
    # Times in the shop's zone: a new shop keeps Beijing time (UTC+8).
    assert "2024-05-01 16:00:00" in rows[3]


def test_the_log_is_filtered_by_who_and_what(app, alpha, owner):
    record_audit(app, alpha, f"operator {alpha.owner_email}", "member.codes_granted", "member:x")
    record_audit(app, alpha, "operator staff@example.com", "order.codes_viewed", "order:1", count=1)
    record_audit(app, alpha, "operator staff@example.com", "card.reveal", "card:y")

    by_staff = rows_of(text_of(owner.get("/console/audit?actor=STAFF@")))
    views = rows_of(text_of(owner.get("/console/audit?action=order.codes_viewed")))
    both = text_of(owner.get("/console/audit?actor=staff&action=member.codes_granted"))

    assert len(by_staff) == 2 and all("staff@example.com" in r for r in by_staff)
    assert len(views) == 1 and "Viewed an order's codes" in views[0]
    assert "Nothing recorded matches." in both
    assert 'value="staff"' in both  # the filter stays in its box


def test_the_log_is_paged_in_the_database(app, alpha, owner):
    for i in range(57):
        record_audit(
            app, alpha, "cli", "cards.void", "cards", at=T0 + timedelta(seconds=i), count=i
        )

    first = text_of(owner.get("/console/audit?action=cards.void"))
    second = text_of(owner.get("/console/audit?action=cards.void&page=2"))

    assert "57 in all" in first and "Page 1 of 2" in first
    assert len(rows_of(first)) == 50 and len(rows_of(second)) == 7
    assert "56 codes" in rows_of(first)[0] and "0 codes" in rows_of(second)[-1]
    assert (
        "action=cards.void"
        in owner.get("/console/audit?action=cards.void")
        .get_data(as_text=True)
        .split('rel="next"')[1][:120]
    )


def test_an_action_without_a_label_is_still_readable(app, alpha, owner):
    record_audit(app, alpha, "cli", "settings.theme_changed", "shop:alpha")

    page = text_of(owner.get("/console/audit"))

    assert "settings theme changed" in page


def test_the_log_holds_only_the_shops_own_rows(app, alpha, make_shop, browser_for):
    bravo = make_shop("bravo")
    record_audit(app, alpha, "operator secret@alpha.example.com", "card.reveal", "card:a")
    theirs = console(browser_for, bravo.host, bravo.owner_email)

    page = text_of(theirs.get("/console/audit"))

    assert "secret@alpha.example.com" not in page and "Nothing recorded yet." in page


def test_staff_cannot_read_the_log_and_strangers_sign_in(app, alpha, make_member, browser_for):
    make_member(alpha, "staff@example.com", "staff")
    staff = console(browser_for, alpha.host, "staff@example.com")

    refused = staff.get("/console/audit")
    stranger = browser_for(alpha.host).get("/console/audit")

    assert refused.status_code == 403
    assert 'href="/console/audit"' not in text_of(staff.get("/console/"))
    assert stranger.status_code == 302 and "/console/login" in stranger.location
