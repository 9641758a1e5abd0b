"""Input no field's own validation catches is refused with a problem
document, never a 500: NUL bytes (PostgreSQL refuses them in text, SQLite
does not, so several of these fail only on PostgreSQL), unpaired
surrogates, integers past 64 bits, JSON nested past the parser, lookup
tokens that are not ASCII, a limit no SQL integer holds.

Each case here was a 500 that schemathesis (``test_fuzz_openapi.py``) or a
probe of the same classes found; ``app.core.request_input`` answers most of
them at the door, the rest are fixed where they were."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.factories import assert_problem, bearer


@pytest.fixture
def alpha(shops):
    return shops["alpha"]


@pytest.fixture
def product_id(alpha, make_product):
    return str(make_product(alpha["tenant"], stock=["BAD-1", "BAD-2", "BAD-3"]))


@pytest.fixture
def order(browser_for, alpha, product_id):
    """An unpaid order of alpha's: its number and lookup token."""
    response = browser_for(alpha["host"]).post(
        "/api/v1/orders",
        json={"product_id": product_id, "quantity": 1, "email": "buyer@example.com"},
        headers=bearer(alpha["key"]),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def api(browser_for, alpha):
    return browser_for(alpha["host"])


def unacceptable(response) -> dict:
    """``response`` is the 400 ``unacceptable-input`` problem; its ``errors``."""
    body = assert_problem(response, 400, "unacceptable-input")
    assert "NUL" in body["detail"]
    return body["errors"]


def category_names(app, tenant_id) -> list[str]:
    from app.catalog.models import Category
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(tenant_id):
        names = list(db.session.scalars(select(Category.name)))
        db.session.remove()
    return names


# --- NUL bytes --------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_order_number_with_a_nul_byte_is_400_not_a_database_error(api, alpha, method):
    path = "/api/v1/orders/a%00b" + ("/pay" if method == "POST" else "")
    json_body = {"provider": "sandbox"} if method == "POST" else None
    for headers in ({}, bearer(alpha["key"])):
        errors = unacceptable(api.open(method, path, json=json_body, headers=headers))
        assert errors == {"path": ["contains a NUL character or an unpaired surrogate"]}


def test_an_order_page_with_a_nul_byte_is_a_400_page(api):
    response = api.get("/o/a%00b")
    assert response.status_code == 400
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("query", ["email=a%00b", "status=paid&email=x%00"])
def test_a_query_value_with_a_nul_byte_is_400_naming_it(api, alpha, query):
    errors = unacceptable(api.get(f"/api/v1/orders?{query}", headers=bearer(alpha["key"])))
    assert list(errors) == ["query.email"]


def test_a_search_with_a_nul_byte_is_400(api):
    assert list(unacceptable(api.get("/api/v1/products?q=a%00b"))) == ["query.q"]


def test_a_json_field_with_a_nul_byte_is_400_and_nothing_is_written(app, api, alpha):
    response = api.post(
        "/api/v1/categories", json={"name": "Steam\x00"}, headers=bearer(alpha["key"])
    )
    assert unacceptable(response) == {
        "json.name": ["contains a NUL character or an unpaired surrogate"]
    }
    assert category_names(app, alpha["tenant"].id) == []


def test_a_nul_byte_deep_in_a_body_or_in_a_key_is_found(api, alpha, product_id):
    body = {
        "product_id": product_id,
        "quantity": 1,
        "email": "buyer@example.com",
        "inputs": {"account": "12\x0034", "a\x00": "x"},
    }
    errors = unacceptable(api.post("/api/v1/orders", json=body, headers=bearer(alpha["key"])))
    assert set(errors) == {"json.inputs.account", "json.inputs.'a\\x00'"}


def test_an_idempotency_key_with_a_nul_byte_is_400_and_places_no_order(app, api, alpha, product_id):
    from tests.factories import shop_rows

    response = api.post(
        "/api/v1/orders",
        json={"product_id": product_id, "quantity": 1, "email": "buyer@example.com"},
        headers={**bearer(alpha["key"]), "Idempotency-Key": "key\x00" + "k" * 40},
    )
    assert list(unacceptable(response)) == ["header.Idempotency-Key"]
    assert shop_rows(app, alpha["tenant"].id)["orders"] == []


def test_an_upload_named_with_a_nul_byte_is_400(api, alpha, product_id):
    response = api.post(
        f"/api/v1/products/{product_id}/cards",
        data={"file": (io.BytesIO(b"CODE-1\n"), "codes\x00.txt")},
        content_type="multipart/form-data",
        headers=bearer(alpha["key"]),
    )
    assert list(unacceptable(response)) == ["files.file"]


def test_a_form_field_with_a_nul_byte_is_a_400_page(api):
    token = api.csrf_token("/lookup")
    response = api.post(
        "/lookup", data={"csrf_token": token, "email": "b@example.com", "number": "1\x002"}
    )
    assert response.status_code == 400
    assert response.mimetype == "text/html"


# --- other text and numbers no database stores --------------------------------


def test_an_unpaired_surrogate_in_json_is_400_on_every_database(api):
    # The JSON escape is valid; the Python string it makes cannot be encoded.
    response = api.post(
        "/api/v1/orders/lookup",
        data='{"email": "b@example.com", "number": "\\ud800"}',
        content_type="application/json",
    )
    assert unacceptable(response) == {
        "json.number": ["contains a NUL character or an unpaired surrogate"]
    }


@pytest.mark.parametrize("number", [str(2**63), str(-(2**63) - 1), "1e400", "NaN", "Infinity"])
def test_a_json_number_no_column_holds_is_400(api, alpha, product_id, number):
    response = api.post(
        "/api/v1/orders",
        data=f'{{"product_id": "{product_id}", "quantity": {number}, "email": "b@example.com"}}',
        content_type="application/json",
        headers=bearer(alpha["key"]),
    )
    assert unacceptable(response) == {
        "json.quantity": ["is a number outside signed 64 bits, or not finite"]
    }


def test_json_nested_past_the_parser_is_400_not_a_recursion_error(api, alpha):
    response = api.post(
        "/api/v1/categories",
        data="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        headers=bearer(alpha["key"]),
    )
    assert unacceptable(response) == {"json": ["nests deeper than 64 levels"]}
    nested = {"name": "ok"}
    for _ in range(70):
        nested = {"parent": nested}
    response = api.post("/api/v1/categories", json=nested, headers=bearer(alpha["key"]))
    assert list(unacceptable(response)) == ["json" + ".parent" * 64]


def test_json_that_is_merely_malformed_is_still_the_endpoints_400(api, alpha):
    response = api.post(
        "/api/v1/categories",
        data='{"name": ',
        content_type="application/json",
        headers=bearer(alpha["key"]),
    )
    body = assert_problem(response, 400, "bad-request")
    assert body["errors"] == {"json": ["Invalid JSON body."]}


def test_ordinary_text_passes_untouched(app, api, alpha):
    name = "Steam 钱包 ¥100 — \U0001f3ae"
    response = api.post("/api/v1/categories", json={"name": name}, headers=bearer(alpha["key"]))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert category_names(app, alpha["tenant"].id) == [name]


# --- lookup tokens that are not ASCII -------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        {"headers": {"X-Lookup-Token": "\u00ff\u00fe"}},  # a header decodes as Latin-1
        {"query_string": {"token": "é"}},
    ],
)
def test_a_lookup_token_that_is_not_ascii_is_no_match_not_a_500(api, order, how):
    number = order["number"]
    assert_problem(api.get(f"/api/v1/orders/{number}", **how), 404, "not-found")
    paid = api.post(f"/api/v1/orders/{number}/pay", json={"provider": "sandbox"}, **how)
    assert_problem(paid, 404, "not-found")
    # The real token still opens it.
    opened = api.get(f"/api/v1/orders/{number}", headers={"X-Lookup-Token": order["lookup_token"]})
    assert opened.status_code == 200


def test_an_order_page_with_a_token_that_is_not_ascii_is_a_404_page(api, order):
    response = api.get(f"/o/{order['number']}?t=%C3%BF")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# --- bounded query integers -----------------------------------------------------


def test_a_card_export_limit_past_any_sql_integer_is_422(api, alpha, product_id):
    response = api.post(
        f"/api/v1/products/{product_id}/cards/export?limit={2**63}",
        headers=bearer(alpha["key"]),
    )
    body = assert_problem(response, 422, "validation-failed")
    assert list(body["errors"]) == ["limit"]


def test_every_integer_parameter_of_the_api_has_a_maximum(api):
    """The class of the export limit's bug: an integer the database is handed
    unbounded. Query, path and header integers are bounded in the description
    (and so by their schema); JSON integers by ``app.core.request_input``."""
    spec = api.get("/api/v1/openapi.json").get_json()
    unbounded = []
    for path, operations in spec["paths"].items():
        shared = operations.get("parameters", [])
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for parameter in shared + operation.get("parameters", []):
                schema = parameter.get("schema", {})
                types = schema.get("type")
                if "integer" in (types if isinstance(types, list) else [types]):
                    if "maximum" not in schema:
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


def test_a_provider_that_sends_no_webhooks_has_no_webhook_address(app, shop, browser_for):
    """Only providers that post events have /api/v1/webhooks/<name>; the
    others answer 404, not 'not configured' (a 503 is for a part that is down)."""
    client = browser_for(shop.host)
    for provider in ("sandbox", "wallet", "nobody"):
        answer = client.post(f"/api/v1/webhooks/{provider}", json={})
        assert answer.status_code == 404, (provider, answer.status_code)
