"""Shop A's key, operator session, buyer session or lookup token aimed at
shop B's orders: always 404 (or 401 for a credential that is not valid
there), never B's data, and B's rows exactly as before.

``ENDPOINTS`` lists every orders endpoint (``tests/api/test_cross_tenant.py``
checks that each ``/api/v1`` route is covered by such a table). Each test
also makes the same call with A's own ids and expects it to work, so a 404
is isolation, not a broken route.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.api.support import csrf_header
from tests.conftest import PASSWORD
from tests.factories import (
    add_product,
    add_stock,
    assert_problem,
    bearer,
    codes,
    run_in_shop,
    shop_rows,
)
from tests.orders.support import order_body, order_id, pay, placed

pytestmark = pytest.mark.critical


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {number}: an order of the shop aimed at; {failed}: its failed order
    body: dict | None = None
    operator: bool = False  # needs orders.view / orders.manage
    token: bool = False  # a buyer's endpoint, opened by the lookup token
    ok: int = 200

    def url(self, shop: dict, token_of: dict | None = None) -> str:
        path = self.path.format(number=shop["pending"]["number"], failed=shop["failed"]["number"])
        if self.token:
            target = shop["pending"] if "{number}" in self.path else shop["failed"]
            path += f"?token={(token_of or {}).get(target['number'], '')}"
        return path

    def data(self, shop: dict) -> dict | None:
        if self.path == "/api/v1/orders" and self.method == "POST":
            return order_body(shop["product_id"], email=f"x@{shop['slug']}.example.com")
        if self.path.endswith("/lookup"):
            return {"email": shop["pending"]["email"], "number": shop["pending"]["number"]}
        return self.body

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS: dict[tuple[str, str], Case] = {
    ("POST", "/api/v1/orders"): Case("POST", "/api/v1/orders", ok=201),
    ("GET", "/api/v1/orders"): Case("GET", "/api/v1/orders", operator=True),
    ("POST", "/api/v1/orders/lookup"): Case("POST", "/api/v1/orders/lookup"),
    ("GET", "/api/v1/orders/<number>"): Case("GET", "/api/v1/orders/{number}", token=True),
    ("POST", "/api/v1/orders/<number>/pay"): Case(
        "POST", "/api/v1/orders/{number}/pay", body={"provider": "sandbox"}, token=True
    ),
    ("GET", "/api/v1/tickets"): Case("GET", "/api/v1/tickets", operator=True),
    ("POST", "/api/v1/orders/<number>/retry"): Case(
        "POST", "/api/v1/orders/{failed}/retry", operator=True
    ),
    # The shop's own failed order has no source holding it: 409, not 404.
    ("POST", "/api/v1/orders/<number>/switch-source"): Case(
        "POST", "/api/v1/orders/{failed}/switch-source", operator=True, ok=409
    ),
    ("POST", "/api/v1/orders/<number>/deliver"): Case(
        "POST", "/api/v1/orders/{failed}/deliver", body={"content": "BY-HAND"}, operator=True
    ),
    ("POST", "/api/v1/orders/<number>/refund"): Case(
        "POST", "/api/v1/orders/{failed}/refund", body={"to": "original"}, operator=True
    ),
}
ALL = list(ENDPOINTS.values())


def _failed_order(app, shop: dict, client) -> dict:
    """A paid order whose delivery failed (its code vanished), with a ticket
    open and fresh stock in the shop again."""
    from sqlalchemy import update

    from app.catalog.models import Card
    from app.extensions import db
    from app.orders import fulfilment

    order = placed(client, shop["product_id"], email=f"failed@{shop['slug']}.example.com")
    assert pay(client, order).status_code == 200
    ident = order_id(app, shop["tenant"], order["number"])

    def lose_codes():
        db.session.execute(
            update(Card).where(Card.order_id == ident).values(status="void", order_id=None)
        )
        db.session.commit()
        return fulfilment.fulfil(ident)

    assert run_in_shop(app, shop["tenant"], lose_codes) == "failed"
    add_stock(app, shop["tenant"], shop["product_id"], codes(f"{shop['slug']}-again", 2))
    return order


@pytest.fixture
def shops(app, two_shops, browser_for):
    """``two_shops`` (owner key, buyer), each selling a card product, with a
    pending order and a failed one (ticket open), and the strings that would
    give each shop's orders away."""
    for slug, shop in two_shops.items():
        shop["slug"] = slug
        shop["host"] = f"{slug}.localhost"
        shop["product_id"] = add_product(app, shop["tenant"], stock=codes(slug.upper(), 3))
        client = browser_for(shop["host"])
        shop["pending"] = placed(client, shop["product_id"], email=f"pending@{slug}.example.com")
        shop["failed"] = _failed_order(app, shop, client)
        shop["tokens"] = {o["number"]: o["lookup_token"] for o in (shop["pending"], shop["failed"])}
        shop["markers"] = [
            str(shop["tenant"].id),
            str(shop["product_id"]),
            shop["pending"]["number"],
            shop["failed"]["number"],
            shop["pending"]["lookup_token"],
            shop["failed"]["lookup_token"],
            f"@{slug}.example.com",
        ]
    return two_shops


def _assert_nothing_of(shop: dict, response) -> None:
    text = response.get_data(as_text=True).replace(response.request.path, "")
    for marker in shop["markers"]:
        assert marker not in text, f"{marker!r} of {shop['slug']} leaked: {text}"


def _call(client, case: Case, target: dict, headers: dict | None = None, token_of=None):
    return client.open(
        case.method, case.url(target, token_of), json=case.data(target), headers=headers or {}
    )


def _sign_in_operator(browser_for, shop):
    browser = browser_for(shop["host"])
    response = browser.submit(
        "/console/login", {"email": shop["owner_email"], "password": PASSWORD}
    )
    assert response.status_code == 302
    return browser, csrf_header(browser)


def _sign_in_buyer(browser_for, shop):
    browser = browser_for(shop["host"])
    response = browser.submit(
        "/account/login", {"email": shop["buyer"].email, "password": PASSWORD}
    )
    assert response.status_code == 302
    return browser, csrf_header(browser, "/account/login")


@pytest.mark.parametrize("case", ALL, ids=str)
def test_shop_a_key_on_shop_b_host_is_not_valid_there(app, shops, browser_for, case):
    a, b = shops["alpha"], shops["bravo"]
    before = shop_rows(app, b["tenant"].id)

    response = _call(browser_for(b["host"]), case, b, bearer(a["key"]), b["tokens"])

    assert_problem(response, 401, "unauthorized")
    _assert_nothing_of(b, response)
    assert shop_rows(app, b["tenant"].id) == before


@pytest.mark.parametrize("caller", ["api key", "operator session"])
@pytest.mark.parametrize("case", [c for c in ALL if c.operator or c.token], ids=str)
def test_shop_b_orders_through_shop_a_operators_are_not_found(
    app, shops, browser_for, case, caller
):
    a, b = shops["alpha"], shops["bravo"]
    if caller == "api key":
        client, headers = browser_for(a["host"]), bearer(a["key"])
    else:
        client, headers = _sign_in_operator(browser_for, a)
    before = shop_rows(app, b["tenant"].id)

    if "{" in case.path:
        # B's order numbers, even with B's own lookup tokens, through A's host.
        response = _call(client, case, b, headers, b["tokens"])
        assert_problem(response, 404, "not-found")
        _assert_nothing_of(b, response)
    else:
        response = _call(client, case, a, headers)
        assert response.status_code == case.ok, response.get_data(as_text=True)
        _assert_nothing_of(b, response)
    assert shop_rows(app, b["tenant"].id) == before
    if case.method == "POST" and case.token:
        return  # an operator does not pay buyers' orders; the buyer tests cover it
    own = _call(client, case, a, headers, a["tokens"])
    assert own.status_code == case.ok, own.get_data(as_text=True)
    assert shop_rows(app, b["tenant"].id) == before


@pytest.mark.parametrize("case", [c for c in ALL if not c.operator], ids=str)
def test_shop_b_orders_with_shop_a_buyer_credentials_are_not_found(app, shops, browser_for, case):
    """A guest of A holding A's lookup tokens, at B's host and at A's."""
    a, b = shops["alpha"], shops["bravo"]
    before = shop_rows(app, b["tenant"].id)
    at_a, at_b = browser_for(a["host"]), browser_for(b["host"])

    if case.path == "/api/v1/orders":  # B's product through A's host
        response = at_a.post("/api/v1/orders", json=case.data(b))
    elif case.path.endswith("/lookup"):  # B's email and number through A's host
        response = at_a.post("/api/v1/orders/lookup", json=case.data(b))
    else:
        # B's order at B's host with A's token in its place …
        swapped = {b["pending"]["number"]: a["pending"]["lookup_token"]}
        assert_problem(_call(at_b, case, b, token_of=swapped), 404, "not-found")
        # … and B's order, with B's real token, through A's host.
        response = _call(at_a, case, b, token_of=b["tokens"])
    assert_problem(response, 404, "not-found")
    _assert_nothing_of(b, response)
    assert shop_rows(app, b["tenant"].id) == before
    own = _call(at_a, case, a, token_of=a["tokens"])
    assert own.status_code == case.ok, own.get_data(as_text=True)


@pytest.mark.parametrize("who", ["operator", "buyer"])
@pytest.mark.parametrize("case", ALL, ids=str)
def test_shop_a_session_cookie_on_shop_b_host_is_not_signed_in(app, shops, browser_for, case, who):
    a, b = shops["alpha"], shops["bravo"]
    at_a, headers = (_sign_in_operator if who == "operator" else _sign_in_buyer)(browser_for, a)
    at_b = browser_for(b["host"])
    cookie = at_a.client.get_cookie("kameng_session", domain=a["host"])
    at_b.client.set_cookie("kameng_session", cookie.value, domain=b["host"])
    before = shop_rows(app, b["tenant"].id)

    response = _call(at_b, case, b, headers)  # no lookup token: only the session

    if case.operator:
        assert_problem(response, 401, "unauthorized")
    elif case.path == "/api/v1/orders":
        assert response.status_code == 201  # anyone may order, as a guest
        assert response.get_json()["payment_options"] == ["sandbox"]  # not signed in
    elif case.path.endswith("/lookup"):
        assert response.status_code == 200  # B's own buyer data, asked for by email
    else:
        assert_problem(response, 404, "not-found")
    if case.path == "/api/v1/orders" and case.method == "POST":
        return
    assert shop_rows(app, b["tenant"].id) == before


def test_shop_a_lists_hold_only_shop_a_orders(app, shops, browser_for):
    a, b = shops["alpha"], shops["bravo"]
    client = browser_for(a["host"])

    orders = client.get("/api/v1/orders", headers=bearer(a["key"]))
    tickets = client.get("/api/v1/tickets?status=all", headers=bearer(a["key"]))

    assert {o["number"] for o in orders.get_json()["items"]} == set(a["tokens"])
    assert [t["order_number"] for t in tickets.get_json()["items"]] == [a["failed"]["number"]]
    _assert_nothing_of(b, orders)
    _assert_nothing_of(b, tickets)


def test_a_buyer_of_shop_a_cannot_pay_from_their_wallet_at_shop_b(app, shops, browser_for):
    a, b = shops["alpha"], shops["bravo"]
    at_a, headers = _sign_in_buyer(browser_for, a)
    at_b = browser_for(b["host"])
    cookie = at_a.client.get_cookie("kameng_session", domain=a["host"])
    at_b.client.set_cookie("kameng_session", cookie.value, domain=b["host"])
    before = shop_rows(app, b["tenant"].id)

    response = at_b.post(
        f"/api/v1/orders/{b['pending']['number']}/pay?token={b['pending']['lookup_token']}",
        json={"provider": "wallet"},
        headers=headers,
    )

    assert_problem(response, 422, "validation-failed")  # not signed in at B: no wallet
    assert shop_rows(app, b["tenant"].id) == before
