"""``pricing.quote.quote``: what a buyer pays for a quantity of a product, as
a table of cases. Money is integer minor units of the shop's currency
(``core/money.py``), so every total is exact and nothing is rounded,
whatever the currency's number of decimal places."""

from __future__ import annotations

import json

import pytest

from app.catalog.services import MAX_MONEY, MAX_QUANTITY
from app.core.money import format_money
from app.pricing.quote import Quote, QuoteLine, quote

BIGINT_MAX = 2**63 - 1  # orders.total and products.price are BIGINT columns

# unit price, quantity, currency -> total (a single line "<name> × <quantity>")
CASES = [
    pytest.param(1250, 1, "CNY", 1250, id="one-card"),
    pytest.param(1250, 3, "CNY", 3750, id="three-cards"),
    pytest.param(1999, 7, "USD", 13993, id="cents-never-rounded"),
    pytest.param(0, 1, "CNY", 0, id="free-product"),
    pytest.param(0, MAX_QUANTITY, "CNY", 0, id="free-product-most-a-product-allows"),
    pytest.param(1, 1, "CNY", 1, id="smallest-price"),
    pytest.param(500, 4, "JPY", 2000, id="currency-without-minor-units"),
    pytest.param(1_250, 2, "KWD", 2_500, id="currency-with-three-decimals"),
    pytest.param(10_000, MAX_QUANTITY, "CNY", 1_000_000_000, id="most-a-product-allows"),
    pytest.param(MAX_MONEY, 1, "CNY", MAX_MONEY, id="highest-price-a-product-allows"),
    pytest.param(
        MAX_MONEY, MAX_QUANTITY, "USD", MAX_MONEY * MAX_QUANTITY, id="both-bounds-at-once"
    ),
]


@pytest.mark.parametrize(("unit_price", "quantity", "currency", "total"), CASES)
def test_the_total_is_unit_price_times_quantity_in_one_line(unit_price, quantity, currency, total):
    priced = quote(
        unit_price=unit_price, quantity=quantity, currency=currency, product_name="Steam ¥100"
    )

    assert priced == Quote(
        currency=currency,
        unit_price=unit_price,
        quantity=quantity,
        total=total,
        lines=[QuoteLine(f"Steam ¥100 × {quantity}", total)],
        subtotal=total,
    )
    assert type(priced.total) is int
    assert sum(line.amount for line in priced.lines) == priced.total


def test_the_largest_total_a_product_allows_fits_the_order_columns():
    priced = quote(
        unit_price=MAX_MONEY, quantity=MAX_QUANTITY, currency="CNY", product_name="Gift card"
    )

    assert priced.total <= BIGINT_MAX
    assert format_money(priced.total, "CNY") == "¥1,000,000,000,000,000.00"


@pytest.mark.parametrize("currency", ["CNY", "USD", "JPY", "KWD", "EUR"])
def test_the_currency_is_kept_as_given_and_amounts_are_not_rescaled(currency):
    priced = quote(unit_price=1234, quantity=2, currency=currency, product_name="Key")

    assert (priced.currency, priced.unit_price, priced.total) == (currency, 1234, 2468)


def test_the_snapshot_is_the_plain_data_an_order_stores():
    priced = quote(unit_price=1250, quantity=2, currency="CNY", product_name="QQ 币 10")

    snapshot = priced.snapshot()

    assert snapshot == {
        "currency": "CNY",
        "unit_price": 1250,
        "quantity": 2,
        "total": 2500,
        "lines": [{"label": "QQ 币 10 × 2", "amount": 2500, "kind": "items", "ref": None}],
        "subtotal": 2500,
        "coupon": None,
        "coupon_discount": 0,
        "tier_id": None,
    }
    assert json.loads(json.dumps(snapshot, ensure_ascii=False)) == snapshot


def test_a_quote_is_a_value_the_same_inputs_give_the_same_quote():
    args = {"unit_price": 999, "quantity": 4, "currency": "USD", "product_name": "Card"}

    assert quote(**args) == quote(**args)
    with pytest.raises(AttributeError):
        quote(**args).total = 0  # frozen: an order's price cannot be edited after quoting


# unit price, quantity -> the error a caller gets; nothing is quoted
REFUSED = [
    pytest.param(-1, 1, ValueError, id="negative-price"),
    pytest.param(1250, 0, ValueError, id="zero-quantity"),
    pytest.param(1250, -3, ValueError, id="negative-quantity"),
    pytest.param(12.5, 1, TypeError, id="float-price"),
    pytest.param("1250", 1, TypeError, id="price-as-text"),
    pytest.param(1250, 1.0, TypeError, id="float-quantity"),
    pytest.param(1250, "2", TypeError, id="quantity-as-text"),
    pytest.param(None, 1, TypeError, id="no-price"),
]


@pytest.mark.parametrize(("unit_price", "quantity", "error"), REFUSED)
def test_prices_and_quantities_that_are_not_whole_and_in_range_are_refused(
    unit_price, quantity, error
):
    with pytest.raises(error):
        quote(unit_price=unit_price, quantity=quantity, currency="CNY", product_name="Card")


def test_the_snapshot_an_order_keeps_has_every_field_of_the_quote():
    """``Quote.snapshot`` is written out by hand (no deep copy on the
    purchase path): it must stay the quote's every field, lines included."""
    from dataclasses import asdict

    priced = Quote(
        currency="CNY",
        unit_price=900,
        quantity=2,
        total=1700,
        lines=[QuoteLine("Steam ¥100 × 2", 1800, ref="r-1"), QuoteLine("SAVE", -100, "coupon")],
        subtotal=1800,
        coupon="SAVE",
        coupon_discount=100,
        tier_id="gold",
    )

    assert priced.snapshot() == asdict(priced)
    assert json.loads(json.dumps(priced.snapshot())) == asdict(priced)
