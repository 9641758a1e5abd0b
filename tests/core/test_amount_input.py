"""Amounts as operators type them (``"12.50"``) to minor units and back."""

from __future__ import annotations

import pytest

from app.core.money import decimal_text, parse_money


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("12.50", "CNY", 1250),
        ("12.5", "CNY", 1250),
        ("12", "CNY", 1200),
        ("12.", "CNY", 1200),
        (".5", "CNY", 50),
        ("0", "CNY", 0),
        (" 1,234.50 ", "USD", 123450),
        ("１２．５０", "CNY", 1250),  # full-width, from a Chinese keyboard
        ("¥12", "CNY", 1200),  # the currency sign, as a buyer may type it
        ("12.500", "CNY", 1250),  # trailing zeros are exact
        ("500", "JPY", 500),
        ("500.0", "JPY", 500),
        ("1.234", "KWD", 1234),
        ("999999999999999.99", "CNY", 99999999999999999),
    ],
)
def test_typed_amounts_become_exact_minor_units(typed, currency, minor):
    assert parse_money(typed, currency) == minor


@pytest.mark.parametrize(
    "typed",
    ["", " ", ".", "-1", "+1", "12.505", "1.2.3", "1e3", "abc", "1 2", "٣", "0x10"],
)
def test_anything_else_is_refused(typed):
    with pytest.raises(ValueError):
        parse_money(typed, "CNY")


def test_a_fraction_finer_than_the_currency_is_refused():
    with pytest.raises(ValueError):
        parse_money("500.5", "JPY")


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1250, "CNY", "12.50"),
        (5, "CNY", "0.05"),
        (0, "USD", "0.00"),
        (500, "JPY", "500"),
        (1234, "KWD", "1.234"),
        (-150, "CNY", "-1.50"),
    ],
)
def test_amounts_are_written_back_as_typed(minor, currency, text):
    assert decimal_text(minor, currency) == text
    if minor >= 0:
        assert parse_money(text, currency) == minor
