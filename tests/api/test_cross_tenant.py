"""Shop A's key or session aimed at shop B: never B's data, never a write to B.

Every ``/api/v1`` endpoint has a row in ``ENDPOINTS`` and is tried four ways:
A's key on B's host (401: the key is not valid there), A's key or A's
operator session on A's host with B's ids (404, as if the ids did not exist),
A's own answers (none of B's data in them) and A's session cookie presented
to B's host (not signed in). After each try B's rows are re-read from the
database and must be exactly as before.
``test_every_api_endpoint_has_a_cross_tenant_case`` fails when an endpoint is
served that no cross-tenant table covers: this one, or a domain's own
``tests/<domain>/test_*cross_tenant*.py`` module, which declares the endpoints
it covers as a module-level set (or dict keyed by) ``(method, Flask rule)``
pairs, e.g. ``("GET", "/api/v1/products/<product_id>")``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.api.support import api_key_rows, csrf_header
from tests.factories import assert_problem, bearer, shop_rows

pytestmark = pytest.mark.critical


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {account} and {key} stand for ids of the shop aimed at
    body: dict | None = None
    public: bool = False  # answers without credentials
    ok: int = 200  # the status when a shop's owner calls it in their own shop
    shows: tuple[str, ...] = field(default=())  # the caller's own data its answer holds

    @property
    def takes_ids(self) -> bool:
        return "{" in self.path

    def url(self, shop: dict) -> str:
        return self.path.format(account=shop["buyer_id"], key=shop["spare_key_id"])

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/api/v1/shop"): Endpoint("GET", "/api/v1/shop", public=True, shows=("slug",)),
    ("GET", "/api/v1/me"): Endpoint("GET", "/api/v1/me", shows=("key_id",)),
    ("GET", "/api/v1/accounts"): Endpoint(
        "GET", "/api/v1/accounts", shows=("buyer_id", "agent_id")
    ),
    ("GET", "/api/v1/accounts/<account_id>"): Endpoint(
        "GET", "/api/v1/accounts/{account}", shows=("buyer_id",)
    ),
    ("PATCH", "/api/v1/accounts/<account_id>"): Endpoint(
        "PATCH",
        "/api/v1/accounts/{account}",
        body={"role": "agent", "display_name": "taken over", "is_active": False},
        shows=("buyer_id",),
    ),
    ("GET", "/api/v1/api-keys"): Endpoint(
        "GET", "/api/v1/api-keys", shows=("key_id", "spare_key_id", "key_prefix")
    ),
    ("POST", "/api/v1/api-keys"): Endpoint(
        "POST", "/api/v1/api-keys", body={"name": "intruder", "role": "owner"}, ok=201
    ),
    ("DELETE", "/api/v1/api-keys/<key_id>"): Endpoint(
        "DELETE", "/api/v1/api-keys/{key}", shows=("spare_key_id",)
    ),
}
ALL = list(ENDPOINTS.values())
WITH_IDS = [e for e in ALL if e.takes_ids]
WITHOUT_IDS = [e for e in ALL if not e.takes_ids]
NOT_API_ENDPOINTS = {"/api/v1/openapi.json", "/api/v1/docs"}


def call(browser, endpoint: Endpoint, target: dict, headers: dict | None = None):
    """``endpoint`` through ``browser``, aimed at ``target``'s ids."""
    return browser.open(
        endpoint.method, endpoint.url(target), json=endpoint.body, headers=headers or {}
    )


def assert_nothing_of(shop: dict, response, *, except_path: bool = False) -> None:
    """None of ``shop``'s data is in the answer (its ids in the echoed path aside)."""
    text = response.get_data(as_text=True)
    if except_path:
        text = text.replace(response.request.path, "")
    for marker in shop["markers"]:
        assert marker not in text, f"{marker!r} of {shop['slug']} leaked: {text}"


def copy_session(source, target_browser) -> None:
    """Present ``source``'s session cookie to ``target_browser``'s host, as a thief would."""
    cookie = source.client.get_cookie("kameng_session", domain=source.host)
    assert cookie is not None, "the source browser is not signed in"
    target_browser.client.set_cookie("kameng_session", cookie.value, domain=target_browser.host)


def _is_endpoint(pair) -> bool:
    return (
        isinstance(pair, tuple)
        and len(pair) == 2
        and all(isinstance(part, str) for part in pair)
        and pair[1].startswith("/api/v1/")
    )


def covered_by_cross_tenant_tables() -> dict[tuple[str, str], str]:
    """Every ``(method, rule)`` some cross-tenant test module covers, and where."""
    tests = Path(__file__).resolve().parents[1]
    covered = {pair: "tests/api/test_cross_tenant.py" for pair in ENDPOINTS}
    for path in sorted(tests.glob("**/test_*cross_tenant*.py")):
        if path.resolve() == Path(__file__).resolve():
            continue
        name = ".".join(path.relative_to(tests.parent).with_suffix("").parts)
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, dict | set | frozenset):
                for pair in value:
                    if _is_endpoint(pair):
                        covered.setdefault(pair, str(path.relative_to(tests.parent)))
    return covered


def test_every_api_endpoint_has_a_cross_tenant_case(app):
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule in NOT_API_ENDPOINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((method, rule.rule))
    missing = sorted(served - set(covered_by_cross_tenant_tables()))
    assert not missing, (
        f"no cross-tenant case for {missing}: add one to ENDPOINTS here, or to the "
        "domain's tests/<domain>/test_<domain>_cross_tenant.py (see this module's docs)"
    )
    gone = sorted(set(ENDPOINTS) - served)
    assert not gone, f"ENDPOINTS lists endpoints the app no longer serves: {gone}"


@pytest.mark.parametrize("endpoint", ALL, ids=str)
def test_shop_a_key_on_shop_b_host_is_not_valid_there(app, shops, browser_for, endpoint):
    a, b = shops["alpha"], shops["bravo"]
    before_a, before_b = shop_rows(app, a["tenant"].id), shop_rows(app, b["tenant"].id)

    response = call(browser_for(b["host"]), endpoint, b, bearer(a["key"]))

    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "not valid for this shop" in body["detail"]
    assert_nothing_of(b, response, except_path=True)
    assert shop_rows(app, b["tenant"].id) == before_b
    assert shop_rows(app, a["tenant"].id) == before_a  # not even A's last-used time


@pytest.mark.parametrize("caller", ["api key", "operator session"])
@pytest.mark.parametrize("endpoint", WITH_IDS, ids=str)
def test_shop_b_ids_through_shop_a_are_not_found(
    app, shops, browser_for, console_session, endpoint, caller
):
    a, b = shops["alpha"], shops["bravo"]
    if caller == "api key":
        browser, headers = browser_for(a["host"]), bearer(a["key"])
    else:
        browser = console_session(a)
        headers = csrf_header(browser)
    before_b = shop_rows(app, b["tenant"].id)

    response = call(browser, endpoint, b, headers)

    assert_problem(response, 404, "not-found")
    assert_nothing_of(b, response, except_path=True)
    assert shop_rows(app, b["tenant"].id) == before_b
    # The same call with A's own ids works: the 404 above is isolation, not a broken route.
    own = call(browser, endpoint, a, headers)
    assert own.status_code == endpoint.ok, own.get_data(as_text=True)
    for name in endpoint.shows:
        assert a[name] in own.get_data(as_text=True)
    assert shop_rows(app, b["tenant"].id) == before_b


@pytest.mark.parametrize("endpoint", WITHOUT_IDS, ids=str)
def test_shop_a_answers_hold_only_shop_a_data(app, shops, browser_for, endpoint):
    a, b = shops["alpha"], shops["bravo"]
    before_b = shop_rows(app, b["tenant"].id)
    keys_of_a = len(api_key_rows(app, a["tenant"].id))

    response = call(browser_for(a["host"]), endpoint, a, bearer(a["key"]))

    assert response.status_code == endpoint.ok, response.get_data(as_text=True)
    assert_nothing_of(b, response)
    for name in endpoint.shows:
        assert a[name] in response.get_data(as_text=True)
    assert shop_rows(app, b["tenant"].id) == before_b
    if endpoint.method == "POST":  # the new key is A's
        assert len(api_key_rows(app, a["tenant"].id)) == keys_of_a + 1


@pytest.mark.parametrize("who", ["operator", "buyer"])
@pytest.mark.parametrize("endpoint", ALL, ids=str)
def test_shop_a_session_cookie_on_shop_b_host_is_not_signed_in(
    app, shops, browser_for, console_session, buyer_session, endpoint, who
):
    a, b = shops["alpha"], shops["bravo"]
    at_a = console_session(a) if who == "operator" else buyer_session(a)
    headers = csrf_header(at_a, "/console/login" if who == "operator" else "/account/login")
    me = at_a.get("/api/v1/me")
    assert me.status_code == 200 and me.get_json()["kind"] != "anonymous"  # a live session
    at_b = browser_for(b["host"])
    copy_session(at_a, at_b)
    before_b = shop_rows(app, b["tenant"].id)

    response = call(at_b, endpoint, b, headers)

    if endpoint.public:
        assert response.status_code == 200
        assert response.get_json() == browser_for(b["host"]).get(endpoint.url(b)).get_json()
        assert_nothing_of(a, response)
    else:
        assert_problem(response, 401, "unauthorized")
    assert shop_rows(app, b["tenant"].id) == before_b
    assert at_b.get("/api/v1/me").status_code == 401


def test_shop_b_key_revoked_through_shop_a_keeps_working_at_shop_b(app, shops, browser_for):
    a, b = shops["alpha"], shops["bravo"]
    response = browser_for(a["host"]).delete(
        f"/api/v1/api-keys/{b['key_id']}", headers=bearer(a["key"])
    )
    assert_problem(response, 404, "not-found")
    me = browser_for(b["host"]).get("/api/v1/me", headers=bearer(b["key"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == b["key_id"]


def test_shop_b_account_patched_through_shop_a_still_signs_in_at_shop_b(
    app, shops, browser_for, buyer_session
):
    a, b = shops["alpha"], shops["bravo"]
    response = browser_for(a["host"]).patch(
        f"/api/v1/accounts/{b['buyer_id']}", json={"is_active": False}, headers=bearer(a["key"])
    )
    assert_problem(response, 404, "not-found")
    browser = buyer_session(b)
    assert browser.get("/api/v1/me").get_json()["id"] == b["buyer_id"]
