"""Every API error is an RFC 9457 problem document a client can act on, and
the OpenAPI description matches what the API serves."""

from __future__ import annotations

import json
import re

import pytest

from tests.api.support import api_key_rows, csrf_header
from tests.api.test_cross_tenant import ENDPOINTS
from tests.factories import assert_problem, bearer


@pytest.fixture
def alpha(shops):
    return shops["alpha"]


@pytest.fixture
def api(browser_for, alpha):
    """A client of alpha's API, with alpha's owner key."""

    class Client:
        browser = browser_for(alpha["host"])

        def open(self, method, path, key=alpha["key"], **kw):
            headers = {**bearer(key), **kw.pop("headers", {})} if key else kw.pop("headers", {})
            return self.browser.open(method, path, headers=headers, **kw)

    return Client()


# --- 401 -----------------------------------------------------------------


def test_no_credentials_is_401_asking_for_a_bearer_key(api):
    response = api.open("GET", "/api/v1/me", key=None)
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Bearer" in body["detail"] or body["title"] == "Authentication required"


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer ", "Bearer km_00000000_not-a-real-key", "Bearer nonsense"],
)
def test_a_bad_authorization_header_is_401_even_on_the_public_endpoint(api, authorization):
    for path in ("/api/v1/me", "/api/v1/shop"):
        response = api.open("GET", path, key=None, headers={"Authorization": authorization})
        assert_problem(response, 401, "unauthorized")


def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_401(api, alpha):
    forged = alpha["key"][:-4] + ("AAAA" if not alpha["key"].endswith("AAAA") else "BBBB")
    assert_problem(api.open("GET", "/api/v1/me", key=forged), 401, "unauthorized")


# --- 403 -----------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/api/v1/api-keys", None),
        ("POST", "/api/v1/api-keys", {"name": "escalate", "role": "owner"}),
        ("PATCH", "/api/v1/accounts/{buyer_id}", {"role": "agent"}),
    ],
)
def test_a_staff_key_on_an_owner_only_endpoint_is_403(
    app, api, alpha, make_api_key, method, path, body
):
    staff_key = make_api_key(alpha["tenant"], "staff")
    keys_before = api_key_rows(app, alpha["tenant"].id)

    response = api.open(method, path.format(**alpha), key=staff_key, json=body)

    problem = assert_problem(response, 403, "forbidden")
    assert "role" in problem["detail"]
    # The staff key itself is fine: what it may do, it can.
    assert api.open("GET", "/api/v1/accounts", key=staff_key).status_code == 200
    keys_after = api_key_rows(app, alpha["tenant"].id)
    assert [k["id"] for k in keys_after] == [k["id"] for k in keys_before]


def test_a_buyer_session_cannot_list_the_shops_accounts(buyer_session, alpha):
    browser = buyer_session(alpha)
    assert browser.get("/api/v1/me").get_json()["roles"] == ["customer"]
    assert_problem(browser.get("/api/v1/accounts"), 403, "forbidden")


# --- 404 and 405 ----------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/v1/no-such-thing"),
        ("GET", "/api/v1/accounts/not-a-uuid"),
        ("PATCH", "/api/v1/accounts/12345"),
        ("DELETE", "/api/v1/api-keys/not-a-uuid"),
        ("GET", "/api/v1/accounts/00000000-0000-7000-8000-000000000000"),
        ("DELETE", "/api/v1/api-keys/00000000-0000-7000-8000-000000000000"),
    ],
)
def test_unknown_paths_and_ids_are_404_problems(api, method, path):
    json_body = {} if method == "PATCH" else None
    assert_problem(api.open(method, path, json=json_body), 404, "not-found")


def test_a_method_the_endpoint_lacks_is_405_with_allow(api):
    response = api.open("PUT", "/api/v1/shop")
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert "PUT" not in response.headers["Allow"]


def test_the_api_on_the_platform_host_is_a_404_problem(platform, alpha):
    for path in ("/api/v1/shop", "/api/v1/me"):
        response = platform.get(path, headers=bearer(alpha["key"]))
        body = assert_problem(response, 404, "unknown-shop")
        assert "shop" in body["detail"]


def test_the_api_on_an_unknown_shop_host_is_a_404_problem(browser_for, alpha):
    response = browser_for("nosuch.localhost").get("/api/v1/shop")
    assert_problem(response, 404, "unknown-shop")


@pytest.mark.critical
def test_the_api_of_a_suspended_shop_is_a_403_problem_saying_so(app, api, alpha):
    from tenants import provisioning

    with app.app_context():
        provisioning.suspend_shop("alpha", "unpaid")
    body = assert_problem(api.open("GET", "/api/v1/me"), 403, "shop-suspended")
    assert "suspended" in body["detail"]


# --- 400 and 422 ----------------------------------------------------------


def test_creating_a_key_without_a_name_is_422_naming_the_field(app, api, alpha):
    before = len(api_key_rows(app, alpha["tenant"].id))
    response = api.open("POST", "/api/v1/api-keys", json={"role": "staff"})
    body = assert_problem(response, 422, "validation-failed")
    assert list(body["errors"]) == ["name"]
    assert body["errors"]["name"]
    assert len(api_key_rows(app, alpha["tenant"].id)) == before


def test_creating_a_key_with_an_unknown_role_is_422(api):
    response = api.open("POST", "/api/v1/api-keys", json={"name": "x", "role": "god"})
    body = assert_problem(response, 422, "validation-failed")
    assert "role" in body["errors"]


def test_patching_an_account_with_a_bad_role_is_422_and_changes_nothing(api, alpha):
    path = f"/api/v1/accounts/{alpha['buyer_id']}"
    response = api.open("PATCH", path, json={"role": "emperor", "display_name": "Zed"})
    body = assert_problem(response, 422, "validation-failed")
    assert "Must be one of" in body["errors"]["role"][0]
    account = api.open("GET", path).get_json()
    assert account["role"] == "customer"
    assert account["display_name"] is None


def test_a_bad_query_argument_is_422_naming_it(api):
    response = api.open("GET", "/api/v1/accounts?per_page=0&role=wizard")
    body = assert_problem(response, 422, "validation-failed")
    assert set(body["errors"]) == {"per_page", "role"}


def test_a_malformed_json_body_is_400_bad_request_and_writes_nothing(app, api, alpha):
    before = len(api_key_rows(app, alpha["tenant"].id))
    response = api.open(
        "POST", "/api/v1/api-keys", data='{"name": "oops"', content_type="application/json"
    )
    body = assert_problem(response, 400, "bad-request")
    assert body["errors"] == {"json": ["Invalid JSON body."]}
    assert len(api_key_rows(app, alpha["tenant"].id)) == before


def test_patching_with_a_valid_body_answers_the_changed_account(api, alpha):
    path = f"/api/v1/accounts/{alpha['buyer_id']}"
    response = api.open("PATCH", path, json={"role": "agent", "display_name": "Top agent"})
    assert response.status_code == 200
    assert response.get_json()["role"] == "agent"
    assert api.open("GET", path).get_json()["display_name"] == "Top agent"
    listing = api.open("GET", "/api/v1/accounts?role=agent").get_json()
    assert alpha["buyer_id"] in {a["id"] for a in listing["items"]}


# --- session callers and CSRF ----------------------------------------------


def test_session_api_writes_need_the_csrf_token(app, console_session, alpha):
    browser = console_session(alpha)
    before = len(api_key_rows(app, alpha["tenant"].id))

    refused = browser.post("/api/v1/api-keys", json={"name": "from the browser"})
    assert_problem(refused, 400, "csrf-failed")
    refused = browser.patch(
        f"/api/v1/accounts/{alpha['buyer_id']}",
        json={"role": "agent"},
        headers={"X-CSRFToken": "forged"},
    )
    assert_problem(refused, 400, "csrf-failed")
    assert len(api_key_rows(app, alpha["tenant"].id)) == before

    created = browser.post(
        "/api/v1/api-keys", json={"name": "from the browser"}, headers=csrf_header(browser)
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["key"].startswith("km_")
    assert len(api_key_rows(app, alpha["tenant"].id)) == before + 1
    # Reads need no token.
    assert browser.get("/api/v1/api-keys").status_code == 200


def test_api_key_writes_need_no_csrf_token(api):
    response = api.open("POST", "/api/v1/api-keys", json={"name": "ci"})
    assert response.status_code == 201


# --- OpenAPI --------------------------------------------------------------


def test_openapi_json_describes_every_endpoint_and_the_bearer_scheme(app, browser_for, alpha):
    response = browser_for(alpha["host"]).get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = json.loads(response.get_data(as_text=True))
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Kameng API"
    scheme = spec["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"

    served = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/v1/", "/supply/v1/"))
        and rule.endpoint.split(".")[0] != "api-docs"
    }
    assert served == set(spec["paths"])
    schemes = set(spec["components"]["securitySchemes"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for requirement in operation.get("security", []):
                assert set(requirement) <= schemes, f"{method} {path}: {requirement}"
    # The accounts endpoints (all but the public shop card) ask for the key.
    for (method, rule), endpoint in ENDPOINTS.items():
        operation = spec["paths"][rule.replace("<", "{").replace(">", "}")][method.lower()]
        if endpoint.public:
            assert "security" not in operation, rule
        else:
            assert operation["security"] == [{"apiKey": []}], f"{method} {rule}"


def test_api_docs_page_answers(browser_for, alpha):
    response = browser_for(alpha["host"]).get("/api/v1/docs")
    assert response.status_code == 200
    assert "swagger" in response.get_data(as_text=True).lower()


def test_api_docs_load_their_assets_from_the_platform_not_a_cdn(browser_for, alpha):
    browser = browser_for(alpha["host"])
    page = browser.get("/api/v1/docs").get_data(as_text=True)

    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/vendor/swagger-ui-dist/") for a in assets), assets
    for asset in assets:
        served = browser.get(asset)
        assert served.status_code == 200 and len(served.get_data()) > 1000, asset
        assert served.headers["Cache-Control"].startswith("public, max-age=")


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/swagger-ui-dist/5.35.0/LICENSE",
        "/vendor/../config.py",
        "/vendor/swagger-ui-dist/../../core/vendor.py",
        "/vendor/nothing-here.js",
    ],
)
def test_vendor_serves_only_its_own_scripts_and_styles(app, path):
    response = app.test_client().get(path, headers={"Host": "localhost"})
    assert response.status_code == 404


def test_the_description_gives_errors_as_the_problem_documents_sent(api):
    spec = api.open("GET", "/api/v1/openapi.json").get_json()
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["status"]["type"] == "integer"
    assert problem["additionalProperties"] is True  # extension members (RFC 9457)
    for name in ("DEFAULT_ERROR", "UNPROCESSABLE_ENTITY"):
        content = spec["components"]["responses"][name]["content"]
        assert content == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    # What is sent has those members and that type.
    sent = api.open("POST", "/api/v1/api-keys", json={"role": "staff"})
    assert sent.mimetype == "application/problem+json"
    body = sent.get_json()
    assert set(problem["required"]) <= set(body)
    assert isinstance(body["status"], int)


def test_a_new_orders_links_lead_to_reading_and_paying_it(api, alpha, make_product):
    """The links of the description (which clients and the stateful fuzzing
    follow) name parameters the answer really carries."""
    spec = api.open("GET", "/api/v1/openapi.json").get_json()
    operations = {
        operation["operationId"]: (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method != "parameters" and "operationId" in operation
    }
    product_id = str(make_product(alpha["tenant"], stock=["LINK-1"]))
    created = api.open(
        "POST",
        "/api/v1/orders",
        key=None,
        json={"product_id": product_id, "quantity": 1, "email": "links@example.com"},
    )
    assert created.status_code == 201
    links = spec["paths"]["/api/v1/orders"]["post"]["responses"]["201"]["links"]
    assert set(links) == {"GetOrder", "PayOrder"}

    def follow(link: dict) -> tuple[str, str, dict]:
        method, path = operations[link["operationId"]]
        query = {}
        for name, expression in link["parameters"].items():
            where, field = name.split(".")
            value = created.get_json()[expression.rsplit("/", 1)[1]]
            if where == "path":
                path = path.replace("{" + field + "}", value)
            else:
                query[field] = value
        return method, path, query

    method, path, query = follow(links["GetOrder"])
    read = api.open(method, path, key=None, query_string=query)
    assert read.status_code == 200 and read.get_json()["status"] == "pending_payment"
    method, path, query = follow(links["PayOrder"])
    paid = api.open(method, path, key=None, query_string=query, json={"provider": "sandbox"})
    assert paid.status_code == 200, paid.get_data(as_text=True)
    assert paid.get_json()["order"]["status"] in {"paid", "fulfilling", "delivered"}
