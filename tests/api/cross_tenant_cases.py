"""The cross-tenant checks a domain's ``tests/<domain>/test_*cross_tenant*.py``
runs over its own endpoint table: shop A aimed at shop B's rows must never
see B's data nor change B.

A domain module declares its ``Endpoint`` table, a ``world`` fixture of two
shops (``alpha``, ``bravo``) with their ids, and a ``call(client, headers,
endpoint, ids)``; ``table_tests`` makes its three table tests, and
``assert_foreign_reference_refused`` checks bodies naming B's rows. Every
check reads B's rows before and after each try (``tests.factories.shop_rows``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.api.support import csrf_header
from tests.console.support import console
from tests.factories import assert_problem, bearer, shop_rows


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # ``{name}`` stands for the target shop's id of that name
    body: dict | None = None
    ok: int = 200

    def url(self, ids: dict) -> str:
        return self.path.format(**ids)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def rules_of(endpoints) -> set[tuple[str, str]]:
    """The ``(method, Flask rule)`` pairs a table covers (what
    ``tests/api/test_cross_tenant.py`` counts)."""
    return {(e.method, e.path.replace("{", "<").replace("}", "_id>")) for e in endpoints}


def caller_for(kind: str, shop, browser_for):
    """A client and its headers: the shop's owner key, or its owner's
    console session with the CSRF header."""
    if kind == "api key":
        return browser_for(shop.host), bearer(shop.key)
    browser = console(browser_for, shop.host, shop.owner_email)
    return browser, csrf_header(browser)


def assert_foreign_ids_not_found(app, call, client, headers, endpoint, a_ids, b, b_ids) -> None:
    """B's ids through A's caller: 404, B unchanged; A's own ids work."""
    before = shop_rows(app, b.id)

    response = call(client, headers, endpoint, b_ids)

    assert_problem(response, 404, "not-found")
    assert shop_rows(app, b.id) == before
    own = call(client, headers, endpoint, a_ids)
    assert own.status_code == endpoint.ok, own.get_data(as_text=True)
    assert shop_rows(app, b.id) == before


def assert_foreign_key_refused(app, call, browser_for, a, b, b_ids, endpoint) -> None:
    """A's key on B's host: 401, B unchanged."""
    before = shop_rows(app, b.id)

    response = call(browser_for(b.host), bearer(a.key), endpoint, b_ids)

    assert_problem(response, 401, "unauthorized")
    assert shop_rows(app, b.id) == before


def assert_lists_hold_none(call, browser_for, a, a_ids, b_ids, endpoint) -> None:
    """A's list answers name none of B's ids."""
    response = call(browser_for(a.host), bearer(a.key), endpoint, a_ids)

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    for name, value in b_ids.items():
        assert value not in text, f"bravo's {name} leaked"


def table_tests(endpoints, call):
    """The three tests of a domain's endpoint table, for its module to name:
    B's ids through A's key and A's console session are not found (A's own
    work), A's key on B's host is refused, and A's lists name none of B's."""

    @pytest.mark.parametrize("caller", ["api key", "operator session"])
    @pytest.mark.parametrize("endpoint", [e for e in endpoints if "{" in e.path], ids=str)
    def ids_not_found(app, world, browser_for, endpoint, caller):
        (a, a_ids), (b, b_ids) = world["alpha"], world["bravo"]
        client, headers = caller_for(caller, a, browser_for)
        assert_foreign_ids_not_found(app, call, client, headers, endpoint, a_ids, b, b_ids)

    @pytest.mark.parametrize("endpoint", endpoints, ids=str)
    def key_refused(app, world, browser_for, endpoint):
        (a, _a_ids), (b, b_ids) = world["alpha"], world["bravo"]
        assert_foreign_key_refused(app, call, browser_for, a, b, b_ids, endpoint)

    @pytest.mark.parametrize("endpoint", [e for e in endpoints if e.method == "GET"], ids=str)
    def lists_hold_none(world, browser_for, endpoint):
        (a, a_ids), (_b, b_ids) = world["alpha"], world["bravo"]
        assert_lists_hold_none(call, browser_for, a, a_ids, b_ids, endpoint)

    return ids_not_found, key_refused, lists_hold_none


def assert_foreign_reference_refused(app, browser_for, a, b, ids, method, path, body, field):
    """A body sent by A on A's host that names B's row (``ids`` fills the
    ``{name}`` placeholders): refused at ``field`` as naming nothing;
    neither shop changes (but for the key's last use)."""
    before_a, before_b = shop_rows(app, a.id), shop_rows(app, b.id)

    response = browser_for(a.host).open(
        method,
        path.format(**ids),
        json={k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()},
        headers=bearer(a.key),
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert list(problem["errors"]) == [field]
    assert "No such" in problem["errors"][field][0]
    assert _written(shop_rows(app, a.id)) == _written(before_a)
    assert shop_rows(app, b.id) == before_b


def _written(rows: dict) -> dict:
    return {table: found for table, found in rows.items() if table != "api_keys"}
