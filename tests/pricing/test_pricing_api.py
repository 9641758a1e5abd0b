"""The pricing API as an operator's program uses it: agent tiers, price
rules and coupons created, listed, changed and deleted; every bad field
answered with a problem document naming it and nothing written; the limits
of a shop; staff who read but do not change; every change on the audit
record; and a coupon's uses counted as orders take and give them back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from app.extensions import db
from app.pricing.models import MAX_COUPONS, MAX_PRICE_RULES, MAX_TIERS, Coupon, PriceRule
from tests.console.support import audit_trail
from tests.factories import assert_problem, run_in_shop
from tests.pricing.support import api, make_category, make_coupon, make_rule, make_tier, rows_of

pytestmark = pytest.mark.critical


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha", key_role="owner", staff_key=True)


@pytest.fixture
def owner(alpha, browser_for):
    return api(browser_for, alpha)


@pytest.fixture
def staff(alpha, browser_for):
    return api(browser_for, alpha, alpha.staff_key)


@pytest.fixture
def product(alpha, make_product):
    return str(make_product(alpha, price=10_000, cost=6_000))


def refused(response, *fields, status=422, slug="validation-failed") -> dict:
    """The problem document of a refusal naming exactly ``fields``."""
    body = assert_problem(response, status, slug)
    assert sorted(body.get("errors", {})) == sorted(fields), body
    return body


def later(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


# --- agent tiers --------------------------------------------------------------------


def test_an_owner_creates_lists_changes_and_deletes_a_tier(app, alpha, owner):
    made = owner.post(
        "/api/v1/agent-tiers",
        json={"name": "金牌代理", "rank": 30, "upgrade": {"kind": "fee", "amount": 9_900}},
    )
    assert made.status_code == 201, made.get_json()
    tier = made.get_json()
    assert tier["name"] == "金牌代理" and tier["rank"] == 30
    assert tier["upgrade"] == {"kind": "fee", "amount": 9_900}
    assert (tier["accounts"], tier["price_rules"]) == (0, 0)
    owner.post("/api/v1/agent-tiers", json={"name": "铜牌代理", "rank": 10})

    listed = owner.get("/api/v1/agent-tiers").get_json()["items"]
    assert [t["name"] for t in listed] == ["金牌代理", "铜牌代理"]  # best first
    assert listed[1]["upgrade"] == {"kind": "manual", "amount": 0}

    changed = owner.patch(f"/api/v1/agent-tiers/{tier['id']}", json={"upgrade": {"amount": 5_000}})
    assert changed.get_json()["upgrade"] == {"kind": "fee", "amount": 5_000}
    manual = owner.patch(f"/api/v1/agent-tiers/{tier['id']}", json={"upgrade": {"kind": "manual"}})
    assert manual.get_json()["upgrade"] == {"kind": "manual", "amount": 0}

    gone = owner.delete(f"/api/v1/agent-tiers/{tier['id']}")
    assert gone.status_code == 200
    assert gone.get_json() == {
        "name": "金牌代理",
        "accounts_to_retail": 0,
        "price_rules_deleted": 0,
    }
    assert owner.get(f"/api/v1/agent-tiers/{tier['id']}").status_code == 404
    actions = [row[1] for row in audit_trail(app, alpha)]
    assert actions == [
        "tier.created",
        "tier.created",
        "tier.updated",
        "tier.updated",
        "tier.deleted",
    ]


def test_a_change_that_changes_nothing_is_not_recorded(app, alpha, owner):
    tier = make_tier(app, alpha, "Silver", 5)

    again = owner.patch(f"/api/v1/agent-tiers/{tier}", json={"name": "Silver", "rank": 5})

    assert again.status_code == 200
    assert [row[1] for row in audit_trail(app, alpha)] == ["tier.created"]


BAD_TIERS = [
    pytest.param({"rank": 1}, ["name"], id="no-name"),
    pytest.param({"name": "   "}, ["name"], id="blank-name"),
    pytest.param({"name": "x" * 41}, ["name"], id="name-too-long"),
    pytest.param({"name": 7}, ["name"], id="name-not-text"),
    pytest.param({"name": "A", "rank": -1}, ["rank"], id="negative-rank"),
    pytest.param({"name": "A", "rank": 1001}, ["rank"], id="rank-too-high"),
    pytest.param({"name": "A", "rank": True}, ["rank"], id="rank-boolean"),
    pytest.param({"name": "A", "rank": "1"}, ["rank"], id="rank-text"),
    pytest.param({"name": "A", "upgrade": {"kind": "gift"}}, ["upgrade"], id="unknown-kind"),
    pytest.param({"name": "A", "upgrade": {"kind": "fee"}}, ["upgrade"], id="fee-without-amount"),
    pytest.param(
        {"name": "A", "upgrade": {"kind": "recharge_total", "amount": 0}},
        ["upgrade"],
        id="recharge-total-of-zero",
    ),
    pytest.param(
        {"name": "A", "upgrade": {"kind": "fee", "amount": 12.5}}, ["upgrade"], id="amount-decimal"
    ),
    pytest.param({"name": "A", "upgrade": "fee"}, ["upgrade"], id="upgrade-not-an-object"),
    pytest.param(
        {"name": "A", "upgrade": {"kind": "fee", "amount": 1, "extra": 1}},
        ["upgrade"],
        id="upgrade-unknown-field",
    ),
    pytest.param({"name": "A", "colour": "gold"}, ["colour"], id="unknown-field"),
]


@pytest.mark.parametrize(("body", "fields"), BAD_TIERS)
def test_a_bad_tier_is_refused_naming_the_field(app, alpha, owner, body, fields):
    response = owner.post("/api/v1/agent-tiers", json=body)

    refused(response, *fields)
    assert rows_of(app, alpha, _tier_model()) == []


def test_a_fee_without_an_amount_says_so_at_the_amount(owner):
    body = refused(
        owner.post("/api/v1/agent-tiers", json={"name": "A", "upgrade": {"kind": "fee"}}),
        "upgrade",
    )
    assert body["errors"]["upgrade"] == {
        "amount": ["Give an amount above zero for a fee or a recharge total."]
    }


def test_a_taken_tier_name_is_a_conflict(app, alpha, owner):
    make_tier(app, alpha, "Gold")
    other = make_tier(app, alpha, "Silver")

    refused(
        owner.post("/api/v1/agent-tiers", json={"name": "Gold"}),
        "name",
        status=409,
        slug="conflict",
    )
    refused(
        owner.patch(f"/api/v1/agent-tiers/{other}", json={"name": " Gold "}),
        "name",
        status=409,
        slug="conflict",
    )
    assert sorted(t["name"] for t in rows_of(app, alpha, _tier_model())) == ["Gold", "Silver"]


def test_a_shop_holds_at_most_twenty_tiers(app, alpha, owner):
    for n in range(MAX_TIERS):
        make_tier(app, alpha, f"Tier {n}", n)

    refused(
        owner.post("/api/v1/agent-tiers", json={"name": "One more"}),
        "tiers",
        status=409,
        slug="conflict",
    )
    assert len(rows_of(app, alpha, _tier_model())) == MAX_TIERS


def test_deleting_a_tier_moves_its_accounts_to_retail_and_drops_its_rules(
    app, alpha, owner, make_account, product
):
    from app.pricing.rules import Audience, price_of

    tier = make_tier(app, alpha, "Gold")
    agents = [make_account(alpha, f"a{n}@example.com", "agent") for n in range(2)]
    for agent in agents:
        owner.patch(f"/api/v1/accounts/{agent.id}", json={"tier_id": str(tier)})
    make_rule(app, alpha, product_id=uuid.UUID(product), tier_id=tier, price=8_000)
    everyone = make_rule(app, alpha, product_id=uuid.UUID(product), percent_off=5)

    def agent_price():
        from app.catalog.models import Product

        return price_of(db.session.get(Product, uuid.UUID(product)), Audience.of(agents[0].id))

    assert run_in_shop(app, alpha, agent_price) == 8_000
    assert owner.get(f"/api/v1/agent-tiers/{tier}").get_json()["accounts"] == 2

    gone = owner.delete(f"/api/v1/agent-tiers/{tier}").get_json()

    assert gone == {"name": "Gold", "accounts_to_retail": 2, "price_rules_deleted": 1}
    assert run_in_shop(app, alpha, agent_price) == 9_500  # retail, less everyone's 5 %
    for agent in agents:
        assert owner.get(f"/api/v1/accounts/{agent.id}").get_json()["tier_id"] is None
    assert [r["id"] for r in rows_of(app, alpha, PriceRule)] == [everyone]


def test_staff_read_tiers_rules_and_coupons_but_change_none(app, alpha, staff, product):
    tier = make_tier(app, alpha)
    rule = make_rule(app, alpha, price=100)
    coupon = make_coupon(app, alpha)
    for path in ("/api/v1/agent-tiers", "/api/v1/price-rules", "/api/v1/coupons"):
        assert staff.get(path).status_code == 200
    for path in (f"/api/v1/price-rules/{rule}", f"/api/v1/coupons/{coupon}"):
        assert staff.get(path).status_code == 200

    writes = [
        staff.post("/api/v1/agent-tiers", json={"name": "Mine"}),
        staff.patch(f"/api/v1/agent-tiers/{tier}", json={"rank": 99}),
        staff.delete(f"/api/v1/agent-tiers/{tier}"),
        staff.post("/api/v1/price-rules", json={"percent_off": 90}),
        staff.patch(f"/api/v1/price-rules/{rule}", json={"price": 1}),
        staff.delete(f"/api/v1/price-rules/{rule}"),
        staff.post("/api/v1/coupons", json={"code": "STAFF", "amount": 1}),
        staff.patch(f"/api/v1/coupons/{coupon}", json={"amount": 9_999}),
        staff.delete(f"/api/v1/coupons/{coupon}"),
    ]
    for response in writes:
        assert_problem(response, 403, "forbidden")
    assert len(audit_trail(app, alpha)) == 3  # the three made above, nothing by staff


def _tier_model():
    from app.pricing.models import AgentTier

    return AgentTier


# --- price rules --------------------------------------------------------------------


def test_rules_for_a_product_a_category_and_the_shop_fall_in_their_stages(
    app, alpha, owner, product
):
    tier = str(make_tier(app, alpha))
    category = str(make_category(app, alpha))
    made = [
        owner.post(
            "/api/v1/price-rules", json={"product_id": product, "tier_id": tier, "price": 8_000}
        ),
        owner.post(
            "/api/v1/price-rules",
            json={"category_id": category, "percent_off": 5, "min_quantity": 10},
        ),
        owner.post(
            "/api/v1/price-rules",
            json={
                "percent_off": 20,
                "starts_at": later(days=-1),
                "ends_at": later(days=1),
                "priority": 3,
            },
        ),
    ]
    assert [r.status_code for r in made] == [201, 201, 201]
    first, second, third = (r.get_json() for r in made)
    assert (first["stage"], second["stage"], third["stage"]) == ("audience", "quantity", "sale")
    assert first["price"] == 8_000 and first["percent_off"] is None and first["tier_id"] == tier
    assert second["category_id"] == category and second["product_id"] is None
    assert third["priority"] == 3 and third["allow_below_cost"] is False
    assert third["starts_at"].endswith("+00:00")
    assert [row[1] for row in audit_trail(app, alpha)][-3:] == ["price_rule.created"] * 3


def test_a_rule_makes_the_tier_pay_its_price(app, alpha, owner, make_account, product):
    from app.catalog.models import Product
    from app.pricing.rules import RETAIL, Audience, price_of

    tier = str(make_tier(app, alpha))
    agent = make_account(alpha, "agent@example.com", "agent")
    owner.patch(f"/api/v1/accounts/{agent.id}", json={"tier_id": tier})
    owner.post("/api/v1/price-rules", json={"product_id": product, "tier_id": tier, "price": 7_500})

    def prices():
        row = db.session.get(Product, uuid.UUID(product))
        return price_of(row, Audience.of(agent.id)), price_of(row, RETAIL)

    assert run_in_shop(app, alpha, prices) == (7_500, 10_000)


BAD_RULES = [
    pytest.param({}, ["price"], id="neither-price-nor-percent"),
    pytest.param({"price": 100, "percent_off": 10}, ["percent_off"], id="price-and-percent"),
    pytest.param({"price": -1}, ["price"], id="negative-price"),
    pytest.param({"price": "12.50"}, ["price"], id="price-as-text"),
    pytest.param({"price": 12.5}, ["price"], id="price-decimal"),
    pytest.param({"percent_off": 0}, ["percent_off"], id="percent-zero"),
    pytest.param({"percent_off": 101}, ["percent_off"], id="percent-over-100"),
    pytest.param({"percent_off": 1.5}, ["percent_off"], id="percent-decimal"),
    pytest.param({"price": 1, "min_quantity": 0}, ["min_quantity"], id="quantity-zero"),
    pytest.param({"price": 1, "priority": "high"}, ["priority"], id="priority-text"),
    pytest.param({"price": 1, "allow_below_cost": "yes"}, ["allow_below_cost"], id="flag-text"),
    pytest.param(
        {
            "price": 1,
            "starts_at": "2030-01-02T00:00:00+00:00",
            "ends_at": "2030-01-01T00:00:00+00:00",
        },
        ["ends_at"],
        id="ends-before-it-starts",
    ),
    pytest.param({"price": 1, "starts_at": "2030-01-01T09:00:00"}, ["starts_at"], id="no-offset"),
    pytest.param({"price": 1, "ends_at": "next week"}, ["ends_at"], id="time-not-a-time"),
    pytest.param({"price": 1, "product_id": "nope"}, ["product_id"], id="product-not-an-id"),
    pytest.param(
        {"price": 1, "product_id": str(uuid.uuid4())}, ["product_id"], id="no-such-product"
    ),
    pytest.param({"price": 1, "tier_id": str(uuid.uuid4())}, ["tier_id"], id="no-such-tier"),
    pytest.param({"price": 1, "category_id": 5}, ["category_id"], id="category-a-number"),
    pytest.param({"price": 1, "shop": "all"}, ["shop"], id="unknown-field"),
]


@pytest.mark.parametrize(("body", "fields"), BAD_RULES)
def test_a_bad_rule_is_refused_naming_the_field(app, alpha, owner, body, fields):
    refused(owner.post("/api/v1/price-rules", json=body), *fields)
    assert rows_of(app, alpha, PriceRule) == []


def test_a_rule_for_a_product_and_a_category_at_once_is_refused(app, alpha, owner, product):
    category = str(make_category(app, alpha))
    body = refused(
        owner.post(
            "/api/v1/price-rules",
            json={"product_id": product, "category_id": category, "price": 1},
        ),
        "category_id",
    )
    assert body["errors"]["category_id"] == ["Choose a product or a category, not both."]


def test_patching_a_percent_clears_the_price_and_a_category_clears_the_product(
    app, alpha, owner, product
):
    category = str(make_category(app, alpha))
    rule = make_rule(app, alpha, product_id=uuid.UUID(product), price=9_000)

    changed = owner.patch(
        f"/api/v1/price-rules/{rule}", json={"percent_off": 10, "category_id": category}
    )

    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["price"], body["percent_off"]) == (None, 10)
    assert (body["product_id"], body["category_id"]) == (None, category)
    refused(owner.patch(f"/api/v1/price-rules/{rule}", json={"percent_off": None}), "price")
    later_end = owner.patch(f"/api/v1/price-rules/{rule}", json={"ends_at": later(days=3)})
    assert later_end.get_json()["stage"] == "sale"
    refused(
        owner.patch(f"/api/v1/price-rules/{rule}", json={"starts_at": later(days=4)}), "ends_at"
    )


def test_rules_are_listed_a_page_at_a_time_and_filtered(app, alpha, owner, product):
    tier = make_tier(app, alpha)
    for n in range(3):
        make_rule(app, alpha, product_id=uuid.UUID(product), price=9_000 - n)
    make_rule(app, alpha, tier_id=tier, percent_off=3)

    first = owner.get("/api/v1/price-rules?per_page=3").get_json()
    second = owner.get("/api/v1/price-rules?per_page=3&page=2").get_json()
    assert (first["total"], len(first["items"]), len(second["items"])) == (4, 3, 1)
    assert first["items"][0]["percent_off"] == 3  # newest first
    by_product = owner.get(f"/api/v1/price-rules?product_id={product}").get_json()
    assert [r["price"] for r in by_product["items"]] == [8_998, 8_999, 9_000]
    by_tier = owner.get(f"/api/v1/price-rules?tier_id={tier}").get_json()
    assert by_tier["total"] == 1
    assert owner.get(f"/api/v1/price-rules?tier_id={uuid.uuid4()}").get_json()["total"] == 0


def test_a_rule_is_deleted_and_recorded(app, alpha, owner):
    rule = make_rule(app, alpha, price=100)

    assert owner.delete(f"/api/v1/price-rules/{rule}").status_code == 204
    assert owner.get(f"/api/v1/price-rules/{rule}").status_code == 404
    assert owner.delete(f"/api/v1/price-rules/{rule}").status_code == 404
    assert [row[1] for row in audit_trail(app, alpha)] == [
        "price_rule.created",
        "price_rule.deleted",
    ]


def test_a_shop_holds_at_most_its_limit_of_rules(app, alpha, owner):
    def fill():
        db.session.execute(
            insert(PriceRule),
            [
                {"tenant_id": alpha.id, "id": uuid.uuid4(), "percent_off": 1}
                for _ in range(MAX_PRICE_RULES)
            ],
        )
        db.session.commit()

    run_in_shop(app, alpha, fill)

    refused(
        owner.post("/api/v1/price-rules", json={"price": 1}),
        "price_rules",
        status=409,
        slug="conflict",
    )


# --- coupons --------------------------------------------------------------------------


def test_an_owner_creates_a_coupon_stored_upper_case(app, alpha, owner, product):
    made = owner.post(
        "/api/v1/coupons",
        json={
            "code": " spring-2025 ",
            "kind": "percent",
            "amount": 15,
            "min_spend": 5_000,
            "product_id": product,
            "max_uses": 100,
            "max_uses_per_buyer": 1,
            "expires_at": later(days=30),
        },
    )

    assert made.status_code == 201, made.get_json()
    coupon = made.get_json()
    assert coupon["code"] == "SPRING-2025" and coupon["uses"] == 0 and coupon["active"] is True
    assert (coupon["kind"], coupon["amount"], coupon["min_spend"]) == ("percent", 15, 5_000)
    assert [row[1] for row in audit_trail(app, alpha)] == ["coupon.created"]


BAD_COUPONS = [
    pytest.param({"amount": 100}, ["code"], id="no-code"),
    pytest.param({"code": "AB", "amount": 100}, ["code"], id="code-too-short"),
    pytest.param({"code": "A" * 33, "amount": 100}, ["code"], id="code-too-long"),
    pytest.param({"code": "减价券", "amount": 100}, ["code"], id="code-not-latin"),
    pytest.param({"code": "NO SPACE", "amount": 100}, ["code"], id="code-with-space"),
    pytest.param({"code": "SALE"}, ["amount"], id="no-amount"),
    pytest.param({"code": "SALE", "amount": 0}, ["amount"], id="fixed-zero"),
    pytest.param({"code": "SALE", "kind": "percent", "amount": 101}, ["amount"], id="percent-over"),
    pytest.param({"code": "SALE", "kind": "gift", "amount": 1}, ["kind"], id="unknown-kind"),
    pytest.param(
        {"code": "SALE", "amount": 1, "min_spend": -1}, ["min_spend"], id="negative-spend"
    ),
    pytest.param({"code": "SALE", "amount": 1, "max_uses": 0}, ["max_uses"], id="no-uses"),
    pytest.param(
        {"code": "SALE", "amount": 1, "max_uses_per_buyer": "one"},
        ["max_uses_per_buyer"],
        id="per-buyer-text",
    ),
    pytest.param(
        {"code": "SALE", "amount": 1, "starts_at": later(days=2), "expires_at": later(days=1)},
        ["expires_at"],
        id="expires-before-it-starts",
    ),
    pytest.param({"code": "SALE", "amount": 1, "active": "no"}, ["active"], id="active-text"),
]


@pytest.mark.parametrize(("body", "fields"), BAD_COUPONS)
def test_a_bad_coupon_is_refused_naming_the_field(app, alpha, owner, body, fields):
    refused(owner.post("/api/v1/coupons", json=body), *fields)
    assert rows_of(app, alpha, Coupon) == []


def test_a_taken_code_in_any_case_is_a_conflict(app, alpha, owner):
    make_coupon(app, alpha, "SPRING")
    other = make_coupon(app, alpha, "AUTUMN")

    refused(
        owner.post("/api/v1/coupons", json={"code": "spring", "amount": 1}),
        "code",
        status=409,
        slug="conflict",
    )
    refused(
        owner.patch(f"/api/v1/coupons/{other}", json={"code": "Spring"}),
        "code",
        status=409,
        slug="conflict",
    )


def test_switching_a_coupon_off_and_changing_its_kind_asks_for_the_amount(app, alpha, owner):
    coupon = make_coupon(app, alpha, "BIG", amount=5_000)

    off = owner.patch(f"/api/v1/coupons/{coupon}", json={"active": False})
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert owner.get("/api/v1/coupons?active=false").get_json()["total"] == 1
    assert owner.get("/api/v1/coupons?active=true").get_json()["total"] == 0

    alone = refused(owner.patch(f"/api/v1/coupons/{coupon}", json={"kind": "percent"}), "amount")
    assert alone["errors"]["amount"] == ["Give the amount again for the new kind."]
    refused(
        owner.patch(f"/api/v1/coupons/{coupon}", json={"kind": "percent", "amount": 500}), "amount"
    )
    both = owner.patch(f"/api/v1/coupons/{coupon}", json={"kind": "percent", "amount": 20})
    assert (both.get_json()["kind"], both.get_json()["amount"]) == ("percent", 20)


def test_coupons_are_listed_newest_first_and_searched_by_part_of_the_code(app, alpha, owner):
    for code in ("SPRING", "SUMMER", "SPRING2"):
        make_coupon(app, alpha, code)

    found = owner.get("/api/v1/coupons?q=pring").get_json()
    assert [c["code"] for c in found["items"]] == ["SPRING2", "SPRING"]
    page = owner.get("/api/v1/coupons?per_page=2&page=2").get_json()
    assert (page["total"], [c["code"] for c in page["items"]]) == (3, ["SPRING"])


def test_a_shop_holds_at_most_its_limit_of_coupons(app, alpha, owner):
    def fill():
        db.session.execute(
            insert(Coupon),
            [
                {"tenant_id": alpha.id, "id": uuid.uuid4(), "code": f"C{n:06d}", "amount": 1}
                for n in range(MAX_COUPONS)
            ],
        )
        db.session.commit()

    run_in_shop(app, alpha, fill)

    refused(
        owner.post("/api/v1/coupons", json={"code": "ONEMORE", "amount": 1}),
        "coupons",
        status=409,
        slug="conflict",
    )


def order_with(app, shop, product, coupon: str, email: str) -> uuid.UUID:
    from app.orders import checkout

    def place():
        order, _ = checkout.create_order(
            product_id=uuid.UUID(product),
            quantity=1,
            email=email,
            caller=checkout.Caller("api_key", uuid.uuid4()),
            coupon=coupon,
        )
        db.session.commit()
        return order.id

    return run_in_shop(app, shop, place)


def test_a_coupon_at_its_limit_is_refused_until_an_order_gives_its_use_back(
    app, alpha, owner, make_product
):
    from app.orders.fulfilment import expire_due
    from app.orders.models import Order
    from app.pricing.coupons import CouponRefused

    product = str(make_product(alpha, price=10_000, stock=["ONE-1", "ONE-2", "ONE-3"]))
    coupon = make_coupon(app, alpha, "ONCE", amount=1_000, max_uses=1)

    first = order_with(app, alpha, product, "once", "first@example.com")
    assert owner.get(f"/api/v1/coupons/{coupon}").get_json()["uses"] == 1
    with pytest.raises(CouponRefused) as refusal:
        order_with(app, alpha, product, "ONCE", "second@example.com")
    assert refusal.value.extra["reason"] == "used_up"

    def expire_first():
        db.session.execute(
            update(Order)
            .where(Order.id == first)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        db.session.commit()
        return expire_due()

    assert run_in_shop(app, alpha, expire_first) == 1
    assert owner.get(f"/api/v1/coupons/{coupon}").get_json()["uses"] == 0
    third = order_with(app, alpha, product, "ONCE", "third@example.com")
    total = run_in_shop(
        app, alpha, lambda: db.session.scalar(select(Order.total).where(Order.id == third))
    )
    assert total == 9_000
    listed = owner.get("/api/v1/coupons").get_json()["items"]
    assert [(c["code"], c["uses"]) for c in listed] == [("ONCE", 1)]


def test_a_used_coupon_is_switched_off_not_deleted(app, alpha, owner, make_product):
    product = str(make_product(alpha, price=10_000, stock=["USED-1"]))
    used = make_coupon(app, alpha, "USED", amount=100)
    unused = make_coupon(app, alpha, "UNUSED", amount=100)
    order_with(app, alpha, product, "USED", "buyer@example.com")

    assert_problem(owner.delete(f"/api/v1/coupons/{used}"), 409, "conflict")
    assert owner.delete(f"/api/v1/coupons/{unused}").status_code == 204
    assert [c["code"] for c in rows_of(app, alpha, Coupon)] == ["USED"]
    assert [row[1] for row in audit_trail(app, alpha)][-1] == "coupon.deleted"
