"""The operator's card endpoints: listing, counts, audited reveal and export,
void, stock alerts; who may call them; other shops' ids are not found."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from tests.catalog.support import card_rows, stock_counter
from tests.factories import add_product, assert_problem


def audit_rows(app, tenant_id) -> list[dict]:
    table = AuditEvent.__table__
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(
            select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.created_at)
        ).mappings()
        return [dict(r) for r in rows]


@pytest.fixture
def stocked(app, card_shop, card_product, api_for):
    """The card product with three cards: K1 (number only) and two number+password."""
    response = api_for(card_shop).import_text(card_product, "K1\nN2----P2\nN3 P3\n")
    assert response.status_code == 201
    return card_product


def card_ids(app, shop) -> list:
    return sorted(r["id"] for r in card_rows(app, shop.tenant_id))


def test_listing_shows_status_times_and_a_short_fingerprint_never_the_code(
    app, card_shop, stocked, api_for
):
    api = api_for(card_shop)
    body = api.get(f"/api/v1/products/{stocked}/cards").get_json()
    assert body["total"] == 3 and len(body["items"]) == 3
    item = body["items"][0]
    assert set(item) == {
        "id",
        "status",
        "created_at",
        "sold_at",
        "order_id",
        "reserved_until",
        "import_id",
        "fingerprint",
    }
    assert len(item["fingerprint"]) == 8
    text = api.get(f"/api/v1/products/{stocked}/cards").get_data(as_text=True)
    for secret in ("K1", "N2", "P2", "N3", "P3"):
        assert secret not in text


def test_listing_filters_by_status_and_pages(app, card_shop, stocked, api_for):
    api = api_for(card_shop)
    first = card_ids(app, card_shop)[0]
    assert api.post("/api/v1/cards/void", json={"ids": [str(first)]}).get_json()["voided"] == 1
    void = api.get(f"/api/v1/products/{stocked}/cards?status=void").get_json()
    assert [i["id"] for i in void["items"]] == [str(first)]
    page = api.get(f"/api/v1/products/{stocked}/cards?status=available&per_page=1&page=2")
    assert page.get_json()["total"] == 2 and len(page.get_json()["items"]) == 1
    assert_problem(
        api.get(f"/api/v1/products/{stocked}/cards?status=lost"), 422, "validation-failed"
    )


def test_stock_counts_by_status(app, card_shop, stocked, api_for):
    body = api_for(card_shop).get(f"/api/v1/products/{stocked}/stock").get_json()
    assert body == {
        "product_id": str(stocked),
        "available": 3,
        "reserved": 0,
        "sold": 0,
        "void": 0,
        "sellable": 3,
        "stock_available": 3,
        "low_stock_threshold": 0,
        "sold_out": False,
        "low": False,
    }


def test_owner_reveals_one_code_and_the_audit_log_says_so(app, card_shop, stocked, api_for):
    api = api_for(card_shop)
    cards = api.get(f"/api/v1/products/{stocked}/cards").get_json()["items"]
    revealed = {}
    for item in cards:
        response = api.post(f"/api/v1/cards/{item['id']}/reveal")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        revealed[item["id"]] = response.get_json()
    assert sorted(r["code"] for r in revealed.values()) == ["K1", "N2----P2", "N3----P3"]
    k1 = next(r for r in revealed.values() if r["code"] == "K1")
    assert (k1["number"], k1["password"]) == ("K1", None)

    events = [e for e in audit_rows(app, card_shop.tenant_id) if e["action"] == "card.reveal"]
    assert sorted(e["subject"] for e in events) == sorted(f"card:{i}" for i in revealed)
    assert all(e["actor"].startswith("api key ") for e in events)
    assert all("K1" not in str(e) and "P2" not in str(e) for e in events)


def test_owner_exports_available_codes_as_text_and_it_is_audited(app, card_shop, stocked, api_for):
    api = api_for(card_shop)
    first = card_ids(app, card_shop)[0]
    api.post("/api/v1/cards/void", json={"ids": [str(first)]})
    response = api.post(f"/api/v1/products/{stocked}/cards/export")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == "N2----P2\nN3----P3\n"  # the void K1 is not
    assert response.headers["X-Exported-Count"] == "2"
    limited = api.post(f"/api/v1/products/{stocked}/cards/export?limit=1")
    assert limited.get_data(as_text=True) == "N2----P2\n"
    exports = [e for e in audit_rows(app, card_shop.tenant_id) if e["action"] == "cards.export"]
    assert [e["detail"]["count"] for e in exports] == [2, 1]
    assert stock_counter(app, stocked) == 2  # exporting leaves them in stock


def test_an_export_reads_back_as_duplicates(app, card_shop, stocked, api_for):
    api = api_for(card_shop)
    text = api.post(f"/api/v1/products/{stocked}/cards/export").get_data()
    body = api.import_text(stocked, text).get_json()
    assert (body["imported"], body["duplicates"]) == (0, 3)


def test_staff_manage_stock_but_never_see_a_code(app, card_shop, stocked, api_for):
    staff = api_for(card_shop, card_shop.staff_key)
    listing = staff.get(f"/api/v1/products/{stocked}/cards")
    assert listing.status_code == 200
    assert listing.get_json()["total"] == 3
    assert not {"K1", "N2", "P2", "N3", "P3"} & set(re.findall(r"\w+", listing.get_data(True)))
    stock = staff.get(f"/api/v1/products/{stocked}/stock")
    assert stock.status_code == 200
    assert stock.get_json()["sold_out"] is False
    card = card_ids(app, card_shop)[0]
    assert_problem(staff.post(f"/api/v1/cards/{card}/reveal"), 403, "forbidden")
    assert_problem(staff.post(f"/api/v1/products/{stocked}/cards/export"), 403, "forbidden")
    assert [e for e in audit_rows(app, card_shop.tenant_id) if "reveal" in e["action"]] == []


def test_void_goes_through_stock_and_is_audited(app, card_shop, stocked, api_for):
    api = api_for(card_shop)
    ids = [str(i) for i in card_ids(app, card_shop)]
    response = api.post("/api/v1/cards/void", json={"ids": [ids[0], ids[1], ids[0]]})
    assert response.get_json() == {"voided": 2, "ignored": 0}
    again = api.post("/api/v1/cards/void", json={"ids": ids[:2]}).get_json()
    assert again == {"voided": 0, "ignored": 2}
    assert stock_counter(app, stocked) == 1
    events = [e for e in audit_rows(app, card_shop.tenant_id) if e["action"] == "cards.void"]
    assert len(events) == 1 and events[0]["detail"]["count"] == 2
    assert_problem(api.post("/api/v1/cards/void", json={"ids": []}), 422, "validation-failed")


def test_stock_alerts_are_listed_and_acknowledged(app, card_shop, api_for):
    product = add_product(app, card_shop, threshold=2)
    api = api_for(card_shop)
    api.import_text(product, "A1\nA2\nA3\n")
    ids = [str(i) for i in card_ids(app, card_shop)]
    api.post("/api/v1/cards/void", json={"ids": ids[:1]})  # 2: low
    api.post("/api/v1/cards/void", json={"ids": ids[1:]})  # 0: sold out
    alerts = api.get("/api/v1/stock-alerts").get_json()
    assert alerts["total"] == 2
    assert [(a["kind"], a["stock"], a["threshold"]) for a in alerts["items"]] == [
        ("sold_out", 0, 2),
        ("low", 2, 2),
    ]
    first = alerts["items"][0]["id"]
    seen = api.post(f"/api/v1/stock-alerts/{first}/acknowledge").get_json()
    assert seen["acknowledged_at"]
    assert api.post(f"/api/v1/stock-alerts/{first}/acknowledge").get_json() == seen
    assert api.get("/api/v1/stock-alerts").get_json()["total"] == 1
    every = api.get("/api/v1/stock-alerts?include_acknowledged=true").get_json()
    assert every["total"] == 2
    stock = api.get(f"/api/v1/products/{product}/stock").get_json()
    assert stock["sold_out"] is True


def test_other_shops_cards_products_imports_and_alerts_are_not_found(
    app, card_shop, other_card_shop, api_for
):
    theirs = add_product(app, other_card_shop, threshold=1)
    them = api_for(other_card_shop)
    job = them.import_text(theirs, "THEIRS-1\nTHEIRS-2\n").get_json()
    their_card, their_other = card_ids(app, other_card_shop)
    them.post("/api/v1/cards/void", json={"ids": [str(their_other)]})  # 1 left: low
    their_alert = them.get("/api/v1/stock-alerts").get_json()["items"][0]["id"]
    before = card_rows(app, other_card_shop.tenant_id)

    me = api_for(card_shop)
    for method, path in [
        ("GET", f"/api/v1/products/{theirs}/cards"),
        ("GET", f"/api/v1/products/{theirs}/stock"),
        ("POST", f"/api/v1/products/{theirs}/cards/export"),
        ("POST", f"/api/v1/cards/{their_card}/reveal"),
        ("GET", job["url"]),
        ("POST", f"/api/v1/stock-alerts/{their_alert}/acknowledge"),
    ]:
        response = me.open(method, path)
        body = assert_problem(response, 404, "not-found")
        assert "THEIRS" not in response.get_data(as_text=True), body
    assert me.post("/api/v1/cards/void", json={"ids": [str(their_card)]}).get_json() == {
        "voided": 0,
        "ignored": 1,
    }
    assert me.get("/api/v1/stock-alerts").get_json()["total"] == 0
    assert card_rows(app, other_card_shop.tenant_id) == before
    assert audit_rows(app, card_shop.tenant_id) == []


def test_card_endpoints_need_an_operator(app, card_shop, stocked, api_for):
    anonymous = api_for(card_shop, None)
    card = card_ids(app, card_shop)[0]
    for method, path in [
        ("GET", f"/api/v1/products/{stocked}/cards"),
        ("GET", f"/api/v1/products/{stocked}/stock"),
        ("POST", f"/api/v1/cards/{card}/reveal"),
        ("POST", f"/api/v1/products/{stocked}/cards/export"),
        ("GET", "/api/v1/stock-alerts"),
    ]:
        assert_problem(anonymous.open(method, path), 401, "unauthorized")
