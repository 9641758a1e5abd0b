"""Shop A aimed at shop B's card stock: never B's codes or ids, never a change
to B.

Every card endpoint is tried with A's key and with A's operator session
carrying B's product, card, import and alert ids on A's host (404, as if the
ids did not exist; a bulk void ignores them, as it ignores unknown ids),
with A's key on B's host (401) and with A's session cookie presented to B's
host (not signed in there). After each try all of B's rows are re-read and
must be exactly as before. ``RULES`` is this module's cross-tenant table for
``tests/api/test_cross_tenant.py``'s coverage check.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.catalog.support import Api, card_rows
from tests.conftest import PASSWORD
from tests.factories import Shop, add_product, shop_rows

pytestmark = pytest.mark.critical


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {product}, {card}, {job} and {alert} stand for the target shop's ids
    body: str | dict | None = None
    ok: int = 200  # the status when a shop's owner calls it with its own ids

    def url(self, ids: dict) -> str:
        return self.path.format(**ids)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/api/v1/products/{product}/cards"),
    Endpoint("POST", "/api/v1/products/{product}/cards", "INTRUDER-1\nINTRUDER-2\n", ok=201),
    Endpoint("GET", "/api/v1/card-imports/{job}"),
    Endpoint("GET", "/api/v1/products/{product}/stock"),
    Endpoint("POST", "/api/v1/products/{product}/cards/export"),
    Endpoint("POST", "/api/v1/cards/{card}/reveal"),
    Endpoint("POST", "/api/v1/cards/void", {"ids": ["{card}"]}),
    Endpoint("GET", "/api/v1/stock-alerts"),
    Endpoint("POST", "/api/v1/stock-alerts/{alert}/acknowledge"),
]
WITH_IDS = [e for e in ENDPOINTS if "{" in e.path]
_FLASK_NAMES = {"product": "product_id", "card": "card_id", "job": "import_id", "alert": "alert_id"}
RULES = {  # Flask's spelling of each endpoint, for the coverage checks
    (e.method, e.path.format(**{k: f"<{v}>" for k, v in _FLASK_NAMES.items()})) for e in ENDPOINTS
}


def call(client: Api, endpoint: Endpoint, ids: dict):
    if isinstance(endpoint.body, str):
        return client.open(
            endpoint.method, endpoint.url(ids), data=endpoint.body, content_type="text/plain"
        )
    body = None
    if endpoint.body is not None:
        body = {"ids": [ids["card"]]}
    return client.open(endpoint.method, endpoint.url(ids), json=body)


def stock_shop(app, shop: Shop, client: Api) -> dict:
    """A card product with codes, one of them void (so a low-stock alert)."""
    product = add_product(app, shop, threshold=2)
    job = client.import_text(product, f"{shop.slug.upper()}-A\n{shop.slug.upper()}-B\nC-3\n")
    assert job.status_code == 201, job.get_data(as_text=True)
    cards = sorted(str(r["id"]) for r in card_rows(app, shop.tenant_id))
    assert client.post("/api/v1/cards/void", json={"ids": [cards[0]]}).status_code == 200
    [alert] = client.get("/api/v1/stock-alerts").get_json()["items"]
    return {
        "product": str(product),
        "card": cards[1],
        "job": job.get_json()["id"],
        "alert": alert["id"],
    }


@pytest.fixture
def shops(app, shops, api_for):
    """The shared shops ``alpha`` and ``bravo``, each stocked by ``stock_shop``."""
    return {slug: (shop, stock_shop(app, shop, api_for(shop))) for slug, shop in shops.items()}


@pytest.fixture
def operator_session(browser_for):
    """operator_session(shop) -> a Api signed in to the console, with its CSRF header."""

    def sign_in(shop: Shop) -> Api:
        browser = browser_for(shop.host)
        response = browser.submit(
            "/console/login", {"email": shop.owner_email, "password": PASSWORD}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        client = Api(browser, None)
        client.headers = {"X-CSRFToken": browser.csrf_token("/console/login")}
        return client

    return sign_in


def test_every_card_endpoint_has_a_case(app):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("cards_api."):
            served |= {(m, rule.rule) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == RULES


@pytest.mark.parametrize("caller", ["api key", "operator session"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_shop_b_ids_through_shop_a_are_not_found(
    app, shops, api_for, operator_session, endpoint, caller
):
    (a, a_ids), (b, b_ids) = shops["alpha"], shops["bravo"]
    client = api_for(a) if caller == "api key" else operator_session(a)
    before = shop_rows(app, b.tenant_id)

    response = call(client, endpoint, b_ids)

    text = response.get_data(as_text=True).replace(response.request.path, "")
    if endpoint.path == "/api/v1/cards/void":
        assert response.get_json() == {"voided": 0, "ignored": 1}
    elif endpoint.path == "/api/v1/stock-alerts":
        assert [i["id"] for i in response.get_json()["items"]] == [a_ids["alert"]]
    else:
        assert response.status_code == 404, text
        assert response.mimetype == "application/problem+json"
    for value in (*b_ids.values(), "BRAVO-A", "BRAVO-B"):
        assert value not in text
    assert shop_rows(app, b.tenant_id) == before
    # A's own ids work: the 404 is isolation, not a broken route.
    own = call(client, endpoint, a_ids)
    assert own.status_code == endpoint.ok, own.get_data(as_text=True)
    assert shop_rows(app, b.tenant_id) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_shop_a_key_on_shop_b_host_is_not_valid_there(app, shops, api_for, endpoint):
    (a, _), (b, b_ids) = shops["alpha"], shops["bravo"]
    before = shop_rows(app, b.tenant_id)

    response = call(api_for(b, key=a.key), endpoint, b_ids)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "BRAVO-A" not in response.get_data(as_text=True)
    assert shop_rows(app, b.tenant_id) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_shop_a_session_cookie_on_shop_b_host_is_not_signed_in(
    app, shops, api_for, operator_session, endpoint
):
    (a, _), (b, b_ids) = shops["alpha"], shops["bravo"]
    at_a = operator_session(a)
    cookie = at_a.browser.client.get_cookie("kameng_session", domain=a.host)
    thief = api_for(b, key=None)
    thief.browser.client.set_cookie("kameng_session", cookie.value, domain=b.host)
    thief.headers = dict(at_a.headers)  # A's CSRF token too
    before = shop_rows(app, b.tenant_id)

    response = call(thief, endpoint, b_ids)

    assert response.status_code == 401, response.get_data(as_text=True)
    assert shop_rows(app, b.tenant_id) == before
