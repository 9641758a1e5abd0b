"""A product's sources through the API: linked, listed, changed and
unlinked; a blacklisted supplier refused; a product's limit; a pair it
has refused; staff who read but do not change; every change audited."""

from __future__ import annotations

import pytest

from app.supply.models import MAX_SOURCES_PER_PRODUCT
from tests.console.support import audit_trail
from tests.factories import assert_problem
from tests.pricing.support import api
from tests.supply.support import make_supplier

pytestmark = pytest.mark.critical


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha", key_role="owner", staff_key=True)


@pytest.fixture
def owner(alpha, browser_for):
    return api(browser_for, alpha)


@pytest.fixture
def product(alpha, make_product):
    return str(make_product(alpha, price=10_000))


@pytest.fixture
def supplier(app, alpha):
    return str(make_supplier(app, alpha))


def refused(response, *fields, status=422, slug="validation-failed") -> dict:
    body = assert_problem(response, status, slug)
    assert sorted(body.get("errors", {})) == sorted(fields), body
    return body


def test_an_owner_links_changes_and_unlinks_a_source(app, alpha, owner, product, supplier):
    made = owner.post(
        f"/api/v1/products/{product}/sources",
        json={"supplier_id": supplier, "sku": "STEAM-100", "cost": 8_000, "priority": 5},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    source = made.get_json()
    assert source["enabled"] is True and source["stock"] is None
    url = f"/api/v1/products/{product}/sources/{source['id']}"

    changed = owner.patch(url, json={"cost": 7_500, "enabled": False})
    assert changed.status_code == 200
    assert (changed.get_json()["cost"], changed.get_json()["enabled"]) == (7_500, False)
    listed = owner.get(f"/api/v1/products/{product}/sources").get_json()["items"]
    assert [s["sku"] for s in listed] == ["STEAM-100"]

    assert owner.delete(url).status_code == 204
    assert owner.get(f"/api/v1/products/{product}/sources").get_json()["items"] == []
    assert_problem(owner.patch(url, json={"cost": 1}), 404, "not-found")
    actions = [a for _, a, _, _ in audit_trail(app, alpha) if a.startswith("source.")]
    assert actions == ["source.added", "source.updated", "source.removed"]


def test_sources_are_listed_highest_priority_first(owner, product, supplier):
    for sku, priority in (("LOW", 1), ("HIGH", 9), ("MID", 5)):
        owner.post(
            f"/api/v1/products/{product}/sources",
            json={"supplier_id": supplier, "sku": sku, "priority": priority},
        )
    listed = owner.get(f"/api/v1/products/{product}/sources").get_json()["items"]
    assert [s["sku"] for s in listed] == ["HIGH", "MID", "LOW"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"sku": "A"}, ["supplier_id"]),
        ({"supplier_id": "{supplier}"}, ["sku"]),
        ({"supplier_id": "{supplier}", "sku": "A", "cost": -5}, ["cost"]),
        ({"supplier_id": "{supplier}", "sku": "A", "priority": 1001}, ["priority"]),
        ({"supplier_id": "{supplier}", "sku": "A", "enabled": "yes"}, ["enabled"]),
        ({"supplier_id": "not-an-id", "sku": "A"}, ["supplier_id"]),
        ({"supplier_id": "{supplier}", "sku": "A", "price": 1}, ["price"]),
    ],
)
def test_every_bad_field_is_named(owner, product, supplier, body, fields):
    body = {k: v.format(supplier=supplier) if isinstance(v, str) else v for k, v in body.items()}
    refused(owner.post(f"/api/v1/products/{product}/sources", json=body), *fields)
    assert owner.get(f"/api/v1/products/{product}/sources").get_json()["items"] == []


def test_an_account_supplier_needs_no_sku(app, alpha, owner, product, make_account):
    seller = make_account(alpha, "seller@alpha.example.com", "supplier")
    ident = make_supplier(app, alpha, name="Cards", kind="account", account_id=str(seller.id))

    made = owner.post(f"/api/v1/products/{product}/sources", json={"supplier_id": str(ident)})
    assert made.status_code == 201, made.get_data(as_text=True)


def test_a_blacklisted_supplier_cannot_be_linked(owner, product, supplier):
    owner.patch(f"/api/v1/suppliers/{supplier}", json={"status": "blacklisted"})

    body = refused(
        owner.post(
            f"/api/v1/products/{product}/sources", json={"supplier_id": supplier, "sku": "A"}
        ),
        "supplier_id",
    )
    assert "blacklisted" in body["errors"]["supplier_id"][0]


def test_a_product_holds_a_bounded_number_of_sources_without_repeats(owner, product, supplier):
    url = f"/api/v1/products/{product}/sources"
    assert owner.post(url, json={"supplier_id": supplier, "sku": "S0"}).status_code == 201
    refused(
        owner.post(url, json={"supplier_id": supplier, "sku": "S0"}),
        "sku",
        status=409,
        slug="conflict",
    )
    for n in range(1, MAX_SOURCES_PER_PRODUCT):
        assert owner.post(url, json={"supplier_id": supplier, "sku": f"S{n}"}).status_code == 201
    refused(
        owner.post(url, json={"supplier_id": supplier, "sku": "ONE-MORE"}),
        "sources",
        status=409,
        slug="conflict",
    )


def test_staff_read_sources_but_do_not_change_them(alpha, owner, browser_for, product, supplier):
    staff = api(browser_for, alpha, alpha.staff_key)
    url = f"/api/v1/products/{product}/sources"
    ident = owner.post(url, json={"supplier_id": supplier, "sku": "A"}).get_json()["id"]

    assert staff.get(url).status_code == 200
    assert_problem(staff.post(url, json={"supplier_id": supplier, "sku": "B"}), 403)
    assert_problem(staff.patch(f"{url}/{ident}", json={"cost": 1}), 403)
    assert_problem(staff.delete(f"{url}/{ident}"), 403)
