"""Products: three kinds, integer money, quantities, statuses, top-up inputs,
and deletion that never loses card history."""

from __future__ import annotations

import pytest

from app.catalog import services
from app.catalog.inputs import validate_inputs
from app.core.errors import Conflict, ValidationFailed
from tests.catalog.support import (
    cards,
    product,
)

QQ = {"name": "qq", "label": "QQ number", "pattern": "[1-9][0-9]{4,11}"}


def errors_of(data: dict, product_id=None) -> dict:
    with pytest.raises(ValidationFailed) as excinfo:
        if product_id is None:
            services.create_product(data)
        else:
            services.update_product(product_id, data)
    return excinfo.value.errors


# --- services: validation -----------------------------------------------------


@pytest.mark.parametrize(
    "price, message",
    [
        (12.5, "whole number of minor units"),
        (12.0, "whole number of minor units"),
        ("1250", "whole number of minor units"),
        (True, "whole number of minor units"),
        (None, "whole number of minor units"),
        (-1, "negative"),
    ],
)
def test_price_and_cost_are_whole_non_negative_minor_units(shop, in_shop, price, message):
    errors = in_shop(shop, errors_of, {"name": "Steam", "price": price, "cost": price})

    assert set(errors) == {"price", "cost"}
    assert message in errors["price"][0]


def test_a_new_product_needs_a_name_and_a_price(shop, in_shop):
    errors = in_shop(shop, errors_of, {"kind": "card"})

    assert set(errors) == {"name", "price"}


def test_every_bad_field_is_named_at_once(shop, in_shop):
    errors = in_shop(
        shop,
        errors_of,
        {
            "name": "x" * 121,
            "price": 100,
            "kind": "voucher",
            "status": "live",
            "min_quantity": 0,
            "low_stock_threshold": -5,
            "category_id": "not-an-id",
            "colour": "red",
        },
    )

    assert set(errors) == {
        "name",
        "kind",
        "status",
        "min_quantity",
        "low_stock_threshold",
        "category_id",
        "colour",
    }


def test_min_quantity_may_not_exceed_max_quantity_even_in_a_partial_change(shop, in_shop):
    def build():
        pid = product(min_quantity=1, max_quantity=5)
        return errors_of({"min_quantity": 6}, pid)

    assert in_shop(shop, build) == {"max_quantity": ["Must be at least min_quantity."]}


def test_a_category_of_another_shop_or_none_at_all_is_refused(shop, in_shop):
    errors = in_shop(
        shop,
        errors_of,
        {"name": "x", "price": 1, "category_id": "018f0000-0000-7000-8000-000000000000"},
    )

    assert errors == {"category_id": ["No such category."]}


def test_a_top_up_on_sale_needs_an_input_field(shop, in_shop):
    def build():
        refused = errors_of(
            {"name": "QQ coins", "price": 100, "kind": "topup", "status": "on_sale"}
        )
        draft = services.create_product({"name": "QQ coins", "price": 100, "kind": "topup"})
        on_sale = services.update_product(draft.id, {"status": "on_sale", "input_fields": [QQ]})
        return refused, on_sale.status, on_sale.input_fields, on_sale.stock

    refused, status, fields, stock = in_shop(shop, build)
    assert "input_fields" in refused
    assert status == "on_sale"
    assert fields == [
        {
            "name": "qq",
            "label": "QQ number",
            "required": True,
            "pattern": "[1-9][0-9]{4,11}",
            "min_length": 0,
            "max_length": 128,
        }
    ]
    assert stock is None  # top-ups are not counted


@pytest.mark.parametrize(
    "spec, key, message",
    [
        ({"name": "qq", "label": "QQ", "pattern": "[0-9"}, "pattern", "Not a valid regular"),
        ({"name": "qq", "label": "QQ", "pattern": r"(a)\1"}, "pattern", "Back-references"),
        ({"name": "qq", "label": "QQ", "pattern": "(?=1)[0-9]+"}, "pattern", "lookaround"),
        ({"name": "qq", "label": "QQ", "pattern": "(a{1,30}){1,30}" * 3}, "pattern", "complex"),
        ({"name": "qq", "label": "QQ", "pattern": "x" * 201}, "pattern", "At most 200"),
        ({"name": "QQ number", "label": "QQ"}, "name", "Lower-case letters"),
        ({"name": "qq"}, "label", "label"),
        ({"name": "qq", "label": "QQ", "required": "yes"}, "required", "true or false"),
        ({"name": "qq", "label": "QQ", "min_length": 5, "max_length": 3}, "max_length", "min"),
        ({"name": "qq", "label": "QQ", "max_length": 10_000}, "max_length", "0 to 128"),
        ({"name": "qq", "label": "QQ", "placeholder": "123"}, "placeholder", "Unknown"),
    ],
)
def test_input_fields_are_checked_on_save(shop, in_shop, spec, key, message):
    errors = in_shop(
        shop, errors_of, {"name": "QQ coins", "price": 100, "kind": "topup", "input_fields": [spec]}
    )

    assert message in errors["input_fields"]["0"][key][0]


def test_two_input_fields_may_not_share_a_name(shop, in_shop):
    errors = in_shop(
        shop,
        errors_of,
        {"name": "x", "price": 1, "kind": "topup", "input_fields": [QQ, QQ]},
    )

    assert errors["input_fields"] == {"1": {"name": ["Two fields have this name."]}}


class _Product:
    input_fields = [
        {**QQ, "required": True, "min_length": 5, "max_length": 12},
        {"name": "server", "label": "Server", "required": False, "pattern": None},
    ]


def test_validate_inputs_returns_the_buyers_answers_stripped():
    assert validate_inputs(_Product, {"qq": " 123456 ", "server": ""}) == {"qq": "123456"}
    assert validate_inputs(_Product, {"qq": "10001", "server": "华东一区"}) == {
        "qq": "10001",
        "server": "华东一区",
    }


@pytest.mark.parametrize(
    "inputs, errors",
    [
        ({}, {"qq": ["QQ number is required."]}),
        ({"qq": "01234"}, {"qq": ["QQ number is not in the expected format."]}),
        ({"qq": "123"}, {"qq": ["Must be 5 to 12 characters."]}),
        ({"qq": 123456}, {"qq": ["Must be text."]}),
        ({"qq": "123456", "phone": "1"}, {"phone": ["This product asks for no such detail."]}),
        (["123456"], {"inputs": ["Must be an object."]}),
    ],
)
def test_validate_inputs_names_each_wrong_answer(inputs, errors):
    with pytest.raises(ValidationFailed) as excinfo:
        validate_inputs(_Product, inputs)

    assert excinfo.value.errors == errors


# --- services: kind, deletion -------------------------------------------------


def test_a_product_holding_cards_keeps_its_kind_and_is_not_deleted(shop, in_shop):
    def build():
        pid = product("Steam ¥50", price=5000)
        cards(pid, 3)
        with pytest.raises(Conflict):
            services.update_product(pid, {"kind": "manual"})
        with pytest.raises(Conflict) as refused:
            services.delete_product(pid)
        return refused.value.detail, services.get_product(pid).stock

    detail, stock = in_shop(shop, build)
    assert "set it off sale instead" in detail
    assert stock == 3


def test_a_product_without_cards_is_deleted(shop, in_shop):
    from app.core.errors import NotFound

    def build():
        pid = product("Gift card", kind="manual")
        services.delete_product(pid)
        with pytest.raises(NotFound):
            services.get_product(pid)

    in_shop(shop, build)


# --- API ----------------------------------------------------------------------


def test_operator_creates_reads_changes_and_deletes_a_product(api):
    games = api.post("/api/v1/categories", json={"name": "Games"}).get_json()["id"]
    created = api.post(
        "/api/v1/products",
        json={
            "name": "Steam Wallet ¥100",
            "kind": "card",
            "category_id": games,
            "price": 10_000,
            "cost": 9_200,
            "min_quantity": 1,
            "max_quantity": 10,
            "description": "Redeem in the Steam client.",
            "delivery_note": "Steam → Account → Add funds.",
            "low_stock_threshold": 5,
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert {k: body[k] for k in ("name", "kind", "category_id", "price", "cost", "status")} == {
        "name": "Steam Wallet ¥100",
        "kind": "card",
        "category_id": games,
        "price": 10_000,
        "cost": 9_200,
        "status": "draft",
    }
    assert body["stock"] == 0 and body["images"] == []

    changed = api.patch(
        f"/api/v1/products/{body['id']}", json={"price": 9_900, "status": "on_sale"}
    )
    assert changed.status_code == 200
    assert changed.get_json()["price"] == 9_900 and changed.get_json()["status"] == "on_sale"
    assert changed.get_json()["cost"] == 9_200  # untouched fields stay

    assert api.get(f"/api/v1/products/{body['id']}").get_json()["price"] == 9_900
    assert api.delete(f"/api/v1/products/{body['id']}").status_code == 204
    assert api.get(f"/api/v1/products/{body['id']}").status_code == 404


def test_invalid_product_is_a_problem_with_field_errors(api):
    response = api.post("/api/v1/products", json={"name": "Steam", "price": 99.5, "cost": -1})

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"].endswith("/validation-failed")
    assert set(body["errors"]) == {"price", "cost"}


def test_unknown_product_fields_are_refused(api):
    response = api.post("/api/v1/products", json={"name": "Steam", "price": 1, "stock": 999})

    assert response.status_code == 422
    assert "stock" in response.get_json()["errors"]


def test_deleting_a_product_with_cards_is_a_conflict(api, shop, in_shop):
    def build():
        pid = product()
        cards(pid, 2)
        return pid

    pid = in_shop(shop, build)

    response = api.delete(f"/api/v1/products/{pid}")

    assert response.status_code == 409
    assert "off sale" in response.get_json()["detail"]
    assert api.get(f"/api/v1/products/{pid}").get_json()["stock"] == 2


def test_writes_need_an_operator(shop, api_for):
    anonymous = api_for(shop, key=None)

    assert anonymous.post("/api/v1/products", json={"name": "x", "price": 1}).status_code == 401
    assert api_for(shop).get("/api/v1/products").get_json()["items"] == []


def test_staff_keys_manage_products(make_shop, api_for):
    staff = api_for(make_shop("bravo", key_role="staff"))

    response = staff.post("/api/v1/products", json={"name": "Staff made", "price": 1})

    assert response.status_code == 201
    [made] = staff.get("/api/v1/products").get_json()["items"]
    assert (made["id"], made["name"], made["price"]) == (response.get_json()["id"], "Staff made", 1)
