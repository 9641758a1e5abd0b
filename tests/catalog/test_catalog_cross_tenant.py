"""Shop A aimed at shop B's catalogue: never B's data, never a change to B.

Every catalogue endpoint is tried with A's key or A's operator session and
B's category, product and image ids on A's host (404, as if the ids did not
exist), with A's key on B's host (401: the key is not valid there) and with
A's session cookie presented to B's host (not signed in there). After each
try B's rows and image files are re-read and must be exactly as before.
``test_every_catalog_endpoint_has_a_case`` fails when an endpoint is added
to the catalogue blueprint without a row in ``ENDPOINTS``; ``RULES`` (the
``(method, Flask rule)`` pairs covered here) is what
``tests/api/test_cross_tenant.py`` reads to count these endpoints covered.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.catalog.support import (
    PNG_1X1,
    catalog_rows,
    category,
    product,
    upload_files,
)

pytestmark = pytest.mark.critical


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {category}, {product} and {image} stand for the target shop's ids
    body: dict | None = None
    upload: bool = False
    ok: int = 200  # the status when the shop's own key calls it with its own ids

    def url(self, ids: dict) -> str:
        return self.path.format(**ids)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/api/v1/categories"),
    Endpoint("POST", "/api/v1/categories", {"name": "Intruder"}, ok=201),
    Endpoint("GET", "/api/v1/categories/{category}"),
    Endpoint("PATCH", "/api/v1/categories/{category}", {"name": "Taken over", "sort": 9}),
    Endpoint("DELETE", "/api/v1/categories/{category}", ok=204),
    Endpoint("GET", "/api/v1/products"),
    Endpoint("POST", "/api/v1/products", {"name": "Intruder", "price": 1}, ok=201),
    Endpoint("GET", "/api/v1/products/{product}"),
    Endpoint("PATCH", "/api/v1/products/{product}", {"price": 1, "cost": 0, "status": "off_sale"}),
    Endpoint("DELETE", "/api/v1/products/{product}", ok=204),
    Endpoint("POST", "/api/v1/products/{product}/images", upload=True, ok=201),
    Endpoint("DELETE", "/api/v1/products/{product}/images/{image}", ok=204),
]
WITH_IDS = [e for e in ENDPOINTS if "{" in e.path]
RULES = {  # Flask's spelling of each endpoint, for the coverage checks
    (e.method, e.path.replace("{", "<").replace("}", "_id>")) for e in ENDPOINTS
}


def call(api, endpoint: Endpoint, ids: dict):
    if endpoint.upload:
        return api.upload(endpoint.url(ids).split("/")[4], PNG_1X1)
    return api.open(endpoint.method, endpoint.url(ids), json=endpoint.body)


@pytest.fixture
def shops(shops, in_shop, api_for):
    """The shared shops ``alpha`` and ``bravo``, each with a category (holding nothing), a product in
    another category, and an image of that product."""

    def build():
        empty = category("Empty")
        games = category("Games")
        return {
            "category": empty,
            "games": games,
            "product": product("Steam ¥100", price=1250, cost=900, category_id=str(games)),
        }

    made = {}
    for slug, shop in shops.items():
        ids = in_shop(shop, build)
        image = api_for(shop).upload(ids["product"], PNG_1X1)
        assert image.status_code == 201
        ids["image"] = image.get_json()["id"]
        made[slug] = (shop, {k: str(v) for k, v in ids.items()})
    return made


def snapshot(app, shop) -> tuple:
    return catalog_rows(app, shop.tenant_id), upload_files(app, shop.tenant_id)


def test_every_catalog_endpoint_has_a_case(app):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("catalog_api."):
            served |= {(m, rule.rule) for m in rule.methods - {"HEAD", "OPTIONS"}}

    assert served == RULES


@pytest.mark.parametrize("caller", ["api key", "operator session"])
@pytest.mark.parametrize("endpoint", WITH_IDS, ids=str)
def test_shop_b_ids_through_shop_a_are_not_found(
    app, shops, api_for, console_api, endpoint, caller
):
    (a, a_ids), (b, b_ids) = shops["alpha"], shops["bravo"]
    api = api_for(a) if caller == "api key" else console_api(a)
    before = snapshot(app, b)

    response = call(api, endpoint, b_ids)

    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    for value in b_ids.values():
        assert value not in response.get_data(as_text=True).replace(response.request.path, "")
    assert snapshot(app, b) == before
    # A's own ids work: the 404 is isolation, not a broken route.
    own = call(api, endpoint, a_ids)
    assert own.status_code == endpoint.ok, own.get_data(as_text=True)
    assert snapshot(app, b) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_shop_a_key_on_shop_b_host_is_not_valid_there(app, shops, api_for, endpoint):
    (a, _), (b, b_ids) = shops["alpha"], shops["bravo"]
    before = snapshot(app, b)

    response = call(api_for(b, key=a.key), endpoint, b_ids)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "Steam" not in response.get_data(as_text=True)
    assert snapshot(app, b) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_shop_a_session_cookie_on_shop_b_host_is_not_signed_in(
    app, shops, api_for, console_api, endpoint
):
    (a, _), (b, b_ids) = shops["alpha"], shops["bravo"]
    at_a = console_api(a)
    cookie = at_a.browser.client.get_cookie("kameng_session", domain=a.host)
    thief = api_for(b, key=None)
    thief.browser.client.set_cookie("kameng_session", cookie.value, domain=b.host)
    thief.headers = dict(at_a.headers)  # A's CSRF token too
    before = snapshot(app, b)

    response = call(thief, endpoint, b_ids)

    if endpoint.method == "GET" and endpoint.path.startswith("/api/v1/products"):
        # Public: the answer anyone gets at B, never B's operator view.
        assert response.status_code == 200
        assert response.get_json() == call(api_for(b, key=None), endpoint, b_ids).get_json()
        assert "cost" not in response.get_data(as_text=True)
    else:
        assert response.status_code == 401, response.get_data(as_text=True)
    assert snapshot(app, b) == before


def test_shop_a_listings_hold_only_shop_a_data(app, shops, api_for):
    (a, a_ids), (_, b_ids) = shops["alpha"], shops["bravo"]

    for caller in (api_for(a), api_for(a, key=None)):
        listing = caller.get("/api/v1/products")
        assert [i["id"] for i in listing.get_json()["items"]] == [a_ids["product"]]
        for value in b_ids.values():
            assert value not in listing.get_data(as_text=True)
    categories = api_for(a).get("/api/v1/categories").get_data(as_text=True)
    assert a_ids["games"] in categories and b_ids["games"] not in categories
    filtered = api_for(a).get(f"/api/v1/products?category_id={b_ids['games']}")
    assert filtered.get_json()["items"] == []


def test_shop_b_category_cannot_be_given_to_shop_a_products(app, shops, api_for):
    (a, a_ids), (b, b_ids) = shops["alpha"], shops["bravo"]
    before = snapshot(app, b)
    api = api_for(a)

    moved = api.patch(f"/api/v1/products/{a_ids['product']}", json={"category_id": b_ids["games"]})
    created = api.post(
        "/api/v1/products", json={"name": "x", "price": 1, "category_id": b_ids["games"]}
    )
    child = api.post("/api/v1/categories", json={"name": "x", "parent_id": b_ids["games"]})

    assert moved.status_code == created.status_code == child.status_code == 422
    assert moved.get_json()["errors"] == {"category_id": ["No such category."]}
    assert child.get_json()["errors"] == {"parent_id": ["No such category."]}
    assert snapshot(app, b) == before


def test_shop_b_pages_and_images_are_not_found_on_shop_a_host(app, shops, api_for):
    (a, a_ids), (_, b_ids) = shops["alpha"], shops["bravo"]
    at_a = api_for(a, key=None)

    assert at_a.get(f"/media/{b_ids['image']}").status_code == 404
    assert at_a.get(f"/p/{b_ids['product']}").status_code == 404
    assert at_a.get(f"/media/{a_ids['image']}").data == PNG_1X1
    assert at_a.get(f"/p/{a_ids['product']}").status_code == 200


def test_shop_b_image_under_shop_a_product_is_not_found(app, shops, api_for):
    (a, a_ids), (b, b_ids) = shops["alpha"], shops["bravo"]
    before = snapshot(app, b)

    response = api_for(a).delete(f"/api/v1/products/{a_ids['product']}/images/{b_ids['image']}")

    assert response.status_code == 404
    assert snapshot(app, b) == before
