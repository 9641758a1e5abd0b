"""A buyer's own pages: orders, the balance with its history, recharging it
(充值); and the pay page's rule for the balance: offered only when it
covers the order, else shown with what it lacks and a way to fill it."""

from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, run_in_shop
from tests.storefront.support import (
    STEAM,
    build_catalogue,
    english,
    paid_from_wallet,
    recharge,
    signed_in_buyer,
    text,
    unpaid,
)

PAGES = ("/account/", "/account/orders", "/account/wallet", "/account/recharge")


@pytest.fixture
def catalogue(app, shop):
    return build_catalogue(app, shop)


@pytest.fixture
def buyer(app, shop, browser_for):
    """(account, its signed-in English browser)."""
    return signed_in_buyer(app, browser_for, shop, "li@example.com")


def balance_of(app, shop, account_id) -> int:
    from app.ledger import services as ledger

    return run_in_shop(app, shop, ledger.wallet_balance, account_id)


# --- who may open them ----------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_a_visitor_not_signed_in_is_sent_to_sign_in_and_back(shop, browser_for, path):
    response = browser_for(shop.host).get(path)

    assert response.status_code == 302
    assert response.location.startswith("/account/login?next=")
    assert path.rstrip("/") in response.location


@pytest.mark.parametrize("path", PAGES)
def test_each_page_opens_for_the_signed_in_buyer(shop, buyer, path):
    assert buyer[1].get(path).status_code == 200


@pytest.mark.parametrize("path", ["/account/wallet", "/account/recharge"])
def test_an_operator_session_has_no_wallet_here(shop, browser_for, path):
    browser = browser_for(shop.host)
    signed = browser.submit("/console/login", {"email": shop.owner_email, "password": PASSWORD})
    assert signed.status_code == 302

    assert browser.get(path).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_a_buyer_of_another_shop_is_a_stranger_here(app, shops, browser_for, path):
    _, bravo_buyer = signed_in_buyer(app, browser_for, shops["bravo"], "mei@example.com")
    here = bravo_buyer.on(shops["alpha"].host)

    response = here.get(path)

    assert response.status_code == 302 and "/account/login" in response.location


def test_each_buyer_sees_only_their_own_orders_and_entries(
    app, shop, catalogue, buyer, browser_for
):
    account, browser = buyer
    other, other_browser = signed_in_buyer(app, browser_for, shop, "wang@example.com")
    recharge(app, shop, account.id, 3_000)
    recharge(app, shop, other.id, 7_700)
    mine = paid_from_wallet(app, shop, account, catalogue.steam)
    theirs = paid_from_wallet(app, shop, other, catalogue.steam, quantity=2)

    orders = text(browser.get("/account/orders"))
    wallet = text(browser.get("/account/wallet"))

    assert mine in orders and theirs not in orders
    assert "¥17.50" in wallet and "¥77.00" not in wallet and theirs not in wallet
    assert theirs in text(other_browser.get("/account/orders"))


# --- the pages ----------------------------------------------------------------------------


def test_my_account_shows_the_balance_and_links_to_the_rest(app, shop, buyer):
    account, browser = buyer
    recharge(app, shop, account.id, 4_200)

    page = text(browser.get("/account/"))

    assert "li@example.com" in page and "¥42.00" in page
    for path in ("/account/orders", "/account/wallet", "/account/recharge"):
        assert f'href="{path}"' in page


def test_the_orders_list_pages_newest_first(app, shop, catalogue, buyer, monkeypatch):
    account, browser = buyer
    recharge(app, shop, account.id, 1_250 * 3)
    numbers = [paid_from_wallet(app, shop, account, catalogue.steam) for _ in range(3)]
    monkeypatch.setattr("app.accounts.views.ORDERS_PER_PAGE", 2)

    first = text(browser.get("/account/orders"))
    second = text(browser.get("/account/orders?page=2"))

    assert first.index(numbers[2]) < first.index(numbers[1]) and numbers[0] not in first
    assert numbers[0] in second and numbers[2] not in second
    assert 'href="/account/orders?page=2"' in first
    assert "Delivered" in first and STEAM in first


def test_no_orders_yet_says_so(shop, buyer):
    assert "No orders yet." in text(buyer[1].get("/account/orders"))


def test_the_balance_history_names_each_movement_and_links_its_order(app, shop, catalogue, buyer):
    account, browser = buyer
    recharge(app, shop, account.id, 5_000)
    number = paid_from_wallet(app, shop, account, catalogue.steam)

    page = text(browser.get("/account/wallet"))

    assert "¥37.50" in page
    assert "Recharge" in page and "+¥50.00" in page
    assert "Order payment" in page and "-¥12.50" in page
    assert f'<a href="/o/{number}">{number}</a>' in page
    assert "recharge via" not in page  # the ledger's own memo is not for buyers


def test_a_refund_to_the_balance_shows_as_a_refund(app, shop, catalogue, buyer):
    from app.orders import lookups, remedies

    account, browser = buyer
    recharge(app, shop, account.id, 5_000)
    number = paid_from_wallet(app, shop, account, catalogue.steam)
    run_in_shop(
        app,
        shop,
        lambda: remedies.refund(lookups.get_order(number).id, to="wallet", actor="operator test"),
    )

    page = text(browser.get("/account/wallet"))

    assert "Refund" in page and "+¥12.50" in page and "¥50.00" in page


def test_an_empty_wallet_says_nothing_moved_yet(shop, buyer):
    page = text(buyer[1].get("/account/wallet"))

    assert "¥0.00" in page and "Nothing has moved through your balance yet." in page


# --- recharging -----------------------------------------------------------------------------


def test_a_recharge_adds_the_amount_typed_and_says_the_new_balance(app, shop, buyer):
    account, browser = buyer

    response = browser.submit("/account/recharge", {"amount": "88.80", "provider": "sandbox"})

    assert response.status_code == 302 and response.location == "/account/wallet"
    assert balance_of(app, shop, account.id) == 8_880
    page = text(browser.get(response.location))
    assert "¥88.80 added. Your balance is ¥88.80." in page


@pytest.mark.parametrize(
    "typed, message",
    [
        ("twelve", "Write an amount like 12.50."),
        ("12.345", "Write an amount like 12.50."),
        ("-5", "Write an amount like 12.50."),
        ("0", "Recharge between ¥0.01 and ¥100,000.00 at a time."),
        ("100000.01", "Recharge between ¥0.01 and ¥100,000.00 at a time."),
    ],
)
def test_a_bad_amount_is_explained_and_kept_and_nothing_is_added(app, shop, buyer, typed, message):
    account, browser = buyer

    response = browser.submit("/account/recharge", {"amount": typed, "provider": "sandbox"})

    assert response.status_code == 200
    page = text(response)
    assert message in page and f'value="{typed}"' in page
    assert 'aria-invalid="true"' in page
    assert balance_of(app, shop, account.id) == 0


def test_an_empty_amount_asks_for_one(shop, buyer):
    page = text(buyer[1].submit("/account/recharge", {"amount": " ", "provider": "sandbox"}))

    assert "Enter how much to add." in page


def test_a_method_that_cannot_fill_a_wallet_here_is_refused(app, shop, buyer):
    account, browser = buyer

    for provider in ("wallet", "stripe", "nonsense"):
        page = text(browser.submit("/account/recharge", {"amount": "10", "provider": provider}))
        assert "This payment method is not available." in page and 'value="10"' in page
    assert balance_of(app, shop, account.id) == 0


def test_no_method_on_this_platform_says_recharging_is_not_available(app, shop, buyer, monkeypatch):
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDERS", ["wallet"])

    page = text(buyer[1].get("/account/recharge"))

    assert "Recharging is not available in this shop yet." in page and 'name="amount"' not in page


def test_a_recharge_goes_back_where_it_was_asked_from_and_nowhere_else(app, shop, buyer):
    _, browser = buyer
    page = "/account/recharge?amount=1250&next=/o/123/pay"

    form = text(browser.get(page))
    back = browser.submit(page, {"amount": "12.50", "next": "/o/123/pay", "provider": "sandbox"})
    away = browser.submit(
        "/account/recharge", {"amount": "1", "next": "https://evil.example/", "provider": "sandbox"}
    )

    assert 'value="12.50"' in form and 'value="/o/123/pay"' in form
    assert back.location == "/o/123/pay"
    assert away.location == "/account/wallet"


# --- the pay page and the balance --------------------------------------------------------------


def pay_page(browser, number: str) -> str:
    return text(browser.get(f"/o/{number}/pay"))


def test_a_balance_that_covers_the_order_is_offered_with_the_balance_shown(
    app, shop, catalogue, buyer
):
    account, browser = buyer
    recharge(app, shop, account.id, 2_000)
    number = unpaid(app, shop, account, catalogue.steam)

    page = pay_page(browser, number)

    assert "Pay from my balance" in page and "Your balance: ¥20.00" in page
    assert "short of this order" not in page
    paid = browser.submit(f"/o/{number}/pay", {"provider": "wallet"})
    assert paid.status_code == 302 and balance_of(app, shop, account.id) == 750


def test_an_empty_balance_is_not_offered_as_a_way_to_pay(app, shop, catalogue, buyer):
    account, browser = buyer
    number = unpaid(app, shop, account, catalogue.steam)

    page = pay_page(browser, number)

    assert "Pay from my balance" not in page and 'value="wallet"' not in page
    assert "Your balance: ¥0.00" in page and "That is ¥12.50 short of this order." in page
    link = re.search(r'href="(/account/recharge\?[^"]+)"[^>]*>\s*Recharge to pay', page)[1]
    assert "amount=1250" in link and f"next=/o/{number}/pay" in link.replace("%2F", "/")
    assert "Pay (sandbox)" in page  # the other ways stay


def test_a_short_balance_says_what_it_lacks_and_the_recharge_leads_back_to_pay(
    app, shop, catalogue, buyer
):
    account, browser = buyer
    recharge(app, shop, account.id, 1_000)
    number = unpaid(app, shop, account, catalogue.steam)

    page = pay_page(browser, number)
    link = re.search(r'href="(/account/recharge\?[^"]+)"', page)[1].replace("&amp;", "&")
    filled = browser.submit(
        link, {"amount": "2.50", "next": f"/o/{number}/pay", "provider": "sandbox"}
    )
    again = pay_page(browser, number)

    assert "Your balance: ¥10.00" in page and "That is ¥2.50 short of this order." in page
    assert 'value="2.50"' in text(browser.get(link))
    assert filled.location == f"/o/{number}/pay"
    assert "Pay from my balance" in again and "short of this order" not in again


def test_paying_from_a_short_balance_anyway_is_refused_readably(app, shop, catalogue, buyer):
    account, browser = buyer
    recharge(app, shop, account.id, 500)
    number = unpaid(app, shop, account, catalogue.steam)

    response = browser.submit(f"/o/{number}/pay", {"provider": "wallet"})

    assert response.status_code == 200
    assert "Your balance is too low for this order." in text(response)
    assert balance_of(app, shop, account.id) == 500


def test_a_guest_is_shown_no_balance(app, shop, catalogue, browser_for):
    guest = english(browser_for(shop.host), shop)
    html = guest.get(f"/buy/{catalogue.steam}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html)[1]
    placed = guest.submit(
        f"/buy/{catalogue.steam}",
        {"quantity": "1", "email": "guest@example.com", "idempotency_key": key},
    )

    page = text(guest.get(placed.location))

    assert "Your balance" not in page and "Recharge" not in page
    assert "Pay (sandbox)" in page


def test_the_product_pages_buy_box_carries_quantity_and_answers_to_the_buy_form(
    app, shop, catalogue, browser_for
):
    guest = english(browser_for(shop.host), shop)
    product = text(guest.get(f"/p/{catalogue.qq}"))

    form = text(guest.get(f"/buy/{catalogue.qq}?quantity=3&input-qq=12345678"))

    assert 'min="1" max="100"' in product and 'name="input-qq"' in product
    assert 'name="quantity" type="number" value="3"' in form or 'value="3"' in form
    assert 'name="input-qq" value="12345678"' in form
