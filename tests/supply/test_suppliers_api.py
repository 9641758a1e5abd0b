"""The suppliers API as an operator's program uses it: suppliers of each
kind created, listed, vetted, suspended, blacklisted and deleted; the
secret sealed at rest and never answered; every bad field named and
nothing written; staff who read but do not change; every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.console.support import audit_trail
from tests.factories import assert_problem, run_in_shop
from tests.pricing.support import api

pytestmark = pytest.mark.critical

HTTP = {
    "name": "Upstream",
    "kind": "http",
    "base_url": "https://up.example.com/supply/v1/",
    "key_id": "sk_live_1",
    "secret": "s3cret-value",
}


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha", key_role="owner", staff_key=True)


@pytest.fixture
def owner(alpha, browser_for):
    return api(browser_for, alpha)


@pytest.fixture
def staff(alpha, browser_for):
    return api(browser_for, alpha, alpha.staff_key)


def refused(response, *fields, status=422, slug="validation-failed") -> dict:
    body = assert_problem(response, status, slug)
    assert sorted(body.get("errors", {})) == sorted(fields), body
    return body


def supplier_rows(app, shop) -> list[dict]:
    from app.supply.models import Supplier

    return run_in_shop(
        app,
        shop,
        lambda: [
            {"name": s.name, "secret": s.secret, "kid": s.secret_key_id, "id": s.id}
            for s in db.session.scalars(select(Supplier))
        ],
    )


def test_an_http_supplier_is_created_with_its_secret_sealed_and_never_answered(app, alpha, owner):
    made = owner.post("/api/v1/suppliers", json=HTTP)

    assert made.status_code == 201, made.get_data(as_text=True)
    body = made.get_json()
    assert body["status"] == "vetting"
    assert body["base_url"] == "https://up.example.com/supply/v1"
    assert body["has_secret"] is True
    assert "secret" not in body
    assert "s3cret-value" not in made.get_data(as_text=True)
    assert body["score"] == {
        "attempts": 0,
        "success_bps": 10_000,
        "p50_ms": 0,
        "p95_ms": 0,
        "flagged": False,
    }
    [row] = supplier_rows(app, alpha)
    assert b"s3cret-value" not in row["secret"]

    def clear():
        from app.supply.models import Supplier
        from app.supply.suppliers import reveal_secret

        return reveal_secret(db.session.get(Supplier, row["id"]))

    assert run_in_shop(app, alpha, clear) == "s3cret-value"
    listed = owner.get("/api/v1/suppliers").get_json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "Upstream"
    assert "s3cret-value" not in owner.get(f"/api/v1/suppliers/{body['id']}").get_data(as_text=True)
    [(actor, action, subject, detail)] = [
        t for t in audit_trail(app, alpha) if t[1].startswith("supplier.")
    ]
    assert action == "supplier.created" and "secret" not in detail


def test_an_account_supplier_names_a_supplier_account(app, alpha, owner, make_account):
    seller = make_account(alpha, "seller@alpha.example.com", "supplier")
    buyer = make_account(alpha, "buyer@alpha.example.com", "customer")

    wrong = owner.post(
        "/api/v1/suppliers", json={"name": "Cards", "kind": "account", "account_id": str(buyer.id)}
    )
    refused(wrong, "account_id")
    missing = owner.post("/api/v1/suppliers", json={"name": "Cards", "kind": "account"})
    refused(missing, "account_id")
    made = owner.post(
        "/api/v1/suppliers",
        json={"name": "Cards", "kind": "account", "account_id": str(seller.id), "deposit": 5000},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["account_id"] == str(seller.id)
    assert made.get_json()["has_secret"] is False


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"base_url": "http://up.example.com"}, ["base_url"]),
        ({"base_url": "ftp://up.example.com"}, ["base_url"]),
        ({"base_url": "https://u:p@up.example.com"}, ["base_url"]),
        ({"key_id": ""}, ["key_id"]),
        ({"secret": None}, ["secret"]),
        ({"kind": "carrier-pigeon"}, ["kind"]),
        ({"status": "great"}, ["status"]),
        ({"deposit": -1}, ["deposit"]),
        ({"deposit": 12.5}, ["deposit"]),
        ({"markup_percent": -1}, ["markup_percent"]),
        ({"markup_percent": "20"}, ["markup_percent"]),
        ({"name": "  "}, ["name"]),
        ({"colour": "red"}, ["colour"]),
        ({"account_id": "not-an-id"}, ["account_id"]),
    ],
)
def test_every_bad_field_is_named_and_nothing_is_written(app, alpha, owner, change, fields):
    refused(owner.post("/api/v1/suppliers", json={**HTTP, **change}), *fields)
    assert supplier_rows(app, alpha) == []


def test_http_on_localhost_is_allowed_outside_production(owner):
    made = owner.post(
        "/api/v1/suppliers", json={**HTTP, "base_url": "http://supply.localhost:8000/supply/v1"}
    )
    assert made.status_code == 201, made.get_data(as_text=True)


def test_vetting_suspending_and_blacklisting_are_audited(app, alpha, owner):
    ident = owner.post("/api/v1/suppliers", json=HTTP).get_json()["id"]

    for status in ("active", "suspended", "blacklisted"):
        changed = owner.patch(f"/api/v1/suppliers/{ident}", json={"status": status})
        assert changed.status_code == 200 and changed.get_json()["status"] == status

    statuses = [d["status"] for _, a, _, d in audit_trail(app, alpha) if a == "supplier.status"]
    assert statuses == [
        ["vetting", "active"],
        ["active", "suspended"],
        ["suspended", "blacklisted"],
    ]
    listed = owner.get("/api/v1/suppliers?status=blacklisted").get_json()
    assert [s["id"] for s in listed["items"]] == [ident]
    assert owner.get("/api/v1/suppliers?status=active").get_json()["total"] == 0


def test_a_new_secret_replaces_the_old_and_a_blank_one_keeps_it(app, alpha, owner):
    ident = owner.post("/api/v1/suppliers", json=HTTP).get_json()["id"]
    [before] = supplier_rows(app, alpha)

    kept = owner.patch(f"/api/v1/suppliers/{ident}", json={"secret": "", "note": "ok"})
    assert kept.status_code == 200
    assert supplier_rows(app, alpha)[0]["secret"] == before["secret"]
    owner.patch(f"/api/v1/suppliers/{ident}", json={"secret": "another"})
    assert supplier_rows(app, alpha)[0]["secret"] != before["secret"]
    refused(owner.patch(f"/api/v1/suppliers/{ident}", json={"kind": "platform"}), "kind")


def test_a_taken_name_is_a_conflict(owner):
    owner.post("/api/v1/suppliers", json=HTTP)
    refused(owner.post("/api/v1/suppliers", json=HTTP), "name", status=409, slug="conflict")


def test_deleting_a_supplier_takes_its_sources(app, alpha, owner, make_product):
    product = make_product(alpha)
    ident = owner.post("/api/v1/suppliers", json=HTTP).get_json()["id"]
    linked = owner.post(
        f"/api/v1/products/{product}/sources", json={"supplier_id": ident, "sku": "A1"}
    )
    assert linked.status_code == 201

    assert owner.delete(f"/api/v1/suppliers/{ident}").status_code == 204
    assert owner.get(f"/api/v1/products/{product}/sources").get_json()["items"] == []
    assert_problem(owner.get(f"/api/v1/suppliers/{ident}"), 404, "not-found")


def test_staff_read_suppliers_but_do_not_change_them(app, alpha, owner, staff):
    ident = owner.post("/api/v1/suppliers", json=HTTP).get_json()["id"]

    assert staff.get("/api/v1/suppliers").status_code == 200
    assert staff.get(f"/api/v1/suppliers/{ident}").status_code == 200
    assert_problem(staff.post("/api/v1/suppliers", json={**HTTP, "name": "B"}), 403)
    assert_problem(staff.patch(f"/api/v1/suppliers/{ident}", json={"status": "active"}), 403)
    assert_problem(staff.delete(f"/api/v1/suppliers/{ident}"), 403)
