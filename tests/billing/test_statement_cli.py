"""``flask --app wsgi billing statement SLUG --month YYYY-MM``: the month's
statement as text or CSV; a bad month or an unknown shop is one line on
stderr and exit status 2."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.billing.support import accrue, on_plan_past_offer
from tests.billing.test_billing_cli import assert_bad_input, cli  # noqa: F401 - a fixture
from tests.billing.test_platform_commission import _wallet_sale
from tests.factories import open_shop


@pytest.fixture
def sold_in_october(app):
    shop = open_shop(app, "cli-statement")
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 1999)
    accrue(app, shop, now=datetime(2026, 10, 15, tzinfo=UTC))
    return shop


def test_the_statement_is_printed_for_the_month(cli, sold_in_october):  # noqa: F811
    result = cli("billing", "statement", sold_in_october.slug, "--month", "2026-10")

    assert result.exit_code == 0, result.output
    assert "2026-10" in result.output
    assert "wallet\t1 orders\t¥19.99" in result.output
    assert "Commission accrued: ¥0.60" in result.output
    assert "Total due: ¥0.60" in result.output
    assert "matches the ledger: yes" in result.output


def test_the_statement_as_csv(cli, sold_in_october):  # noqa: F811
    result = cli("billing", "statement", sold_in_october.slug, "--month", "2026-10", "--csv")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Statement,cli-statement,2026-10")
    assert "wallet,1,19.99,0,0.00" in lines
    assert "Commission accrued,0.60" in lines


def test_another_month_has_nothing(cli, sold_in_october):  # noqa: F811
    result = cli("billing", "statement", sold_in_october.slug, "--month", "2026-09")

    assert result.exit_code == 0, result.output
    assert "no sales" in result.output
    assert "Total due: ¥0.00" in result.output


@pytest.mark.parametrize("month", ["2026-13", "october", "2026/10"])
def test_a_bad_month_is_refused(cli, sold_in_october, month):  # noqa: F811
    result = cli("billing", "statement", sold_in_october.slug, "--month", month)

    assert_bad_input(result, "YYYY-MM")


def test_an_unknown_shop_is_refused(cli):  # noqa: F811
    result = cli("billing", "statement", "no-such-shop", "--month", "2026-10")

    assert_bad_input(result, "no-such-shop")


def test_the_month_is_required(cli):  # noqa: F811
    result = cli("billing", "statement", "any-shop")

    assert result.exit_code == 2
    assert "--month" in result.stderr
