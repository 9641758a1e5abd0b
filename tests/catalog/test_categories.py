"""Categories: two levels, ordered, never deleted while they hold anything."""

from __future__ import annotations

import pytest

from app.catalog import categories
from app.core.errors import Conflict, ValidationFailed
from tests.catalog.support import (
    category,
    product,
)


def _field_errors(excinfo) -> dict:
    return excinfo.value.errors


# --- services ---------------------------------------------------------------


def test_categories_list_tops_by_sort_each_followed_by_its_children(shop, in_shop):
    def build():
        games = category("Games", sort=2)
        phone = category("Phone credit", sort=1)
        category("Steam", parent_id=games, sort=5)
        category("Battle.net", parent_id=games, sort=1)
        category("China Mobile", parent_id=phone)
        return [(c.name, c.parent_id is not None) for c in categories.list_categories()]

    assert in_shop(shop, build) == [
        ("Phone credit", False),
        ("China Mobile", True),
        ("Games", False),
        ("Battle.net", True),
        ("Steam", True),
    ]


def test_a_child_cannot_have_children(shop, in_shop):
    def build():
        games = category("Games")
        steam = category("Steam", parent_id=games)
        with pytest.raises(ValidationFailed) as excinfo:
            category("Steam Wallet", parent_id=steam)
        return _field_errors(excinfo)

    assert "two levels" in in_shop(shop, build)["parent_id"][0]


def test_a_parent_with_children_stays_on_top(shop, in_shop):
    def build():
        games = category("Games")
        category("Steam", parent_id=games)
        other = category("Other")
        with pytest.raises(ValidationFailed) as excinfo:
            categories.update_category(games, {"parent_id": other})
        return _field_errors(excinfo)

    assert "stays a top category" in in_shop(shop, build)["parent_id"][0]


def test_a_category_is_not_its_own_parent(shop, in_shop):
    def build():
        games = category("Games")
        with pytest.raises(ValidationFailed) as excinfo:
            categories.update_category(games, {"parent_id": str(games)})
        return _field_errors(excinfo)

    assert in_shop(shop, build) == {"parent_id": ["A category cannot be its own parent."]}


def test_category_needs_a_name_and_a_whole_sort(shop, in_shop):
    def build():
        with pytest.raises(ValidationFailed) as excinfo:
            categories.create_category({"name": "  ", "sort": 1.5, "colour": "red"})
        return _field_errors(excinfo)

    errors = in_shop(shop, build)
    assert set(errors) == {"name", "sort", "colour"}


def test_moving_a_child_to_the_top(shop, in_shop):
    def build():
        games = category("Games")
        steam = category("Steam", parent_id=games)
        return categories.update_category(steam, {"parent_id": None}).parent_id

    assert in_shop(shop, build) is None


def test_deleting_a_category_with_children_or_products_is_refused(shop, in_shop):
    def build():
        games = category("Games")
        steam = category("Steam", parent_id=games)
        product("Steam ¥100", category_id=str(steam))
        with pytest.raises(Conflict) as with_children:
            categories.delete_category(games)
        with pytest.raises(Conflict) as with_products:
            categories.delete_category(steam)
        return with_children.value.detail, with_products.value.detail

    children, products = in_shop(shop, build)
    assert "subcategories" in children
    assert "1 product" in products


# --- API --------------------------------------------------------------------


def test_operator_creates_renames_and_deletes_a_category(api):
    created = api.post("/api/v1/categories", json={"name": "游戏点卡", "sort": 3})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["name"] == "游戏点卡" and body["parent_id"] is None and body["sort"] == 3

    child = api.post("/api/v1/categories", json={"name": "Steam", "parent_id": body["id"]})
    assert child.status_code == 201
    assert child.get_json()["parent_id"] == body["id"]

    renamed = api.patch(f"/api/v1/categories/{body['id']}", json={"name": "Game cards"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Game cards"
    listed = api.get("/api/v1/categories").get_json()["items"]
    assert [c["name"] for c in listed] == ["Game cards", "Steam"]

    refused = api.delete(f"/api/v1/categories/{body['id']}")
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert "subcategories" in refused.get_json()["detail"]

    assert api.delete(f"/api/v1/categories/{child.get_json()['id']}").status_code == 204
    assert api.delete(f"/api/v1/categories/{body['id']}").status_code == 204
    assert api.get(f"/api/v1/categories/{body['id']}").status_code == 404


def test_invalid_category_answers_with_field_errors(api):
    response = api.post("/api/v1/categories", json={"name": "", "parent_id": "nope"})

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert set(errors) == {"name", "parent_id"}


def test_categories_are_for_operators(shop, api_for, make_shop):
    anonymous = api_for(shop, key=None)
    assert anonymous.get("/api/v1/categories").status_code == 401
    assert anonymous.post("/api/v1/categories", json={"name": "x"}).status_code == 401
    assert api_for(shop).get("/api/v1/categories").get_json()["items"] == []

    staff = api_for(make_shop("bravo", key_role="staff"))
    assert staff.post("/api/v1/categories", json={"name": "Staff made"}).status_code == 201
    listed = staff.get("/api/v1/categories").get_json()["items"]
    assert [c["name"] for c in listed] == ["Staff made"]


def test_unknown_category_id_is_not_found(api):
    assert api.get("/api/v1/categories/not-a-uuid").status_code == 404
    assert (
        api.patch(
            "/api/v1/categories/018f0000-0000-7000-8000-000000000000", json={"name": "x"}
        ).status_code
        == 404
    )
