"""Money is written for people from integer minor units, exactly."""

from __future__ import annotations

import pytest

from app.core.money import format_money, minor_digits


@pytest.mark.parametrize(
    "minor, currency, text",
    [
        (1250, "CNY", "¥12.50"),
        (5, "CNY", "¥0.05"),
        (0, "CNY", "¥0.00"),
        (123456789, "USD", "$1,234,567.89"),
        (-1250, "EUR", "-€12.50"),
        (500, "JPY", "¥500"),
        (1234, "KWD", "KWD 1.234"),
        (1999, "chf", "CHF 19.99"),
        (10**20 + 1, "CNY", "¥1,000,000,000,000,000,000.01"),
    ],
)
def test_format_money_writes_minor_units_in_the_currencys_way(minor, currency, text):
    assert format_money(minor, currency) == text


@pytest.mark.parametrize("amount", [12.5, "1250", True, None])
def test_format_money_takes_only_integers(amount):
    with pytest.raises(TypeError):
        format_money(amount, "CNY")


def test_minor_digits_follow_iso_4217():
    assert [minor_digits(c) for c in ("CNY", "USD", "JPY", "KRW", "BHD")] == [2, 2, 0, 0, 3]


def test_a_templates_money_writes_the_shops_currency_unless_told_another():
    from decimal import Decimal

    from app.core.money import money_formatter

    money = money_formatter("CNY")
    assert money(1250) == "¥12.50"
    assert money(1250, "USD") == "$12.50"
    assert money(Decimal(1250)) == "¥12.50"  # a SUM on PostgreSQL
    with pytest.raises(TypeError):
        money(12.5)


def test_an_average_amount_is_rounded_half_up_to_a_whole_minor_unit():
    from app.core.money import average_of

    assert average_of(1000, 3) == 333  # 333.33
    assert average_of(5000, 3) == 1667  # 1666.67
    assert average_of(1001, 2) == 501  # 500.5: half up
    assert average_of(-1001, 2) == -501
    assert average_of(1250, 0) == 0  # no orders: no average
    with pytest.raises(TypeError):
        average_of(12.5, 2)


@pytest.mark.parametrize(
    "typed, currency, minor",
    [
        ("12.50", "CNY", 1250),
        ("-3", "CNY", -300),
        ("+1,200", "CNY", 120_000),
        ("¥5", "CNY", 500),
        ("-¥5", "CNY", -500),
        ("１２．５", "CNY", 1250),  # full-width, as a Chinese keyboard types it
        (" .5 ", "USD", 50),
        ("HK$3", "HKD", 300),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
    ],
)
def test_typed_adjustments_become_exact_signed_minor_units(typed, currency, minor):
    from app.core.money import parse_signed_money

    assert parse_signed_money(typed, currency) == minor


@pytest.mark.parametrize(
    "typed, currency",
    [
        ("", "CNY"),
        ("abc", "CNY"),
        ("1e5", "CNY"),
        ("--1", "CNY"),
        ("12.345", "CNY"),
        ("5.5", "JPY"),
        ("9" * 5000, "CNY"),
        (".", "CNY"),
    ],
)
def test_what_is_not_an_amount_is_refused_not_rounded(typed, currency):
    from app.core.errors import ValidationFailed
    from app.core.money import parse_signed_money

    with pytest.raises(ValidationFailed) as refused:
        parse_signed_money(typed, currency)
    assert refused.value.errors["amount"]


def test_a_plain_amount_has_no_symbol_and_no_grouping():
    from app.core.money import decimal_text

    assert [decimal_text(123456, "CNY"), decimal_text(-5, "USD"), decimal_text(500, "JPY")] == [
        "1234.56",
        "-0.05",
        "500",
    ]
