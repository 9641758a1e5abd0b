"""The console's pricing pages as an owner uses them: agent tiers, price
rules, coupons, the agent settings, and a customer's role, tier and upline.

Forms create and change rows through the same services as the API; a bad
input is shown at its field in words, with everything typed kept and
nothing written; money is typed as 12.50 and times in the shop's time zone;
a product is found by part of its name, never listed whole. Every page
answers the owner, sends a stranger to sign in and is 404 to another
shop's owner for this shop's rows; staff see the pages but change nothing.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from app.extensions import db
from app.pricing.models import AgentTier, Coupon, PriceRule
from tests.console.support import audit_trail, console, text_of
from tests.factories import run_in_shop, shop_rows
from tests.pricing.support import (
    make_category,
    make_coupon,
    make_rule,
    make_tier,
    rows_of,
    set_standing,
)

pytestmark = pytest.mark.critical


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha")


@pytest.fixture
def owner(alpha, browser_for):
    return console(browser_for, alpha.host, alpha.owner_email)


@pytest.fixture
def staff(alpha, browser_for, make_member):
    make_member(alpha, "staff@alpha.example.com", "staff")
    return console(browser_for, alpha.host, "staff@alpha.example.com")


@pytest.fixture
def product(alpha, make_product):
    return make_product(alpha, name="Steam 钱包 ¥100", price=10_000)


def field_error(page: str, text: str) -> bool:
    """Whether ``text`` is shown as a field's error on ``page``."""
    return f'<small class="error">{text}</small>' in page


def input_value(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', page
    )
    return found[1] if found else ""


def selected(page: str, name: str) -> str:
    block = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)[1]
    chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', block)
    return (chosen[1] or chosen[2]) if chosen else ""


def options(page: str, name: str) -> list[str]:
    block = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)[1]
    return re.findall(r'value="([^"]*)"', block)


def set_time_zone(app, shop, zone: str) -> None:
    from tenants.models import Tenant
    from tenants.resolve import invalidate_resolution

    def write():
        db.session.execute(update(Tenant).where(Tenant.id == shop.id).values(timezone=zone))
        db.session.commit()
        invalidate_resolution()

    run_in_shop(app, shop, write)


# --- access ---------------------------------------------------------------------------

PAGES = (
    "/console/agent-tiers",
    "/console/agent-tiers/{tier}",
    "/console/price-rules",
    "/console/price-rules/new",
    "/console/price-rules/{rule}",
    "/console/coupons",
    "/console/coupons/new",
    "/console/coupons/{coupon}",
    "/console/agent-settings",
)
OWN_ROWS = ("{tier}", "{rule}", "{coupon}")
ACTIONS = (
    ("/console/agent-tiers/{tier}", {"name": "Taken", "rank": "1", "upgrade_kind": "manual"}),
    ("/console/agent-tiers/{tier}/delete", {}),
    ("/console/price-rules/{rule}", {"scope": "shop", "kind": "price", "price": "0.01"}),
    ("/console/price-rules/{rule}/delete", {}),
    ("/console/coupons/{coupon}", {"code": "TAKEN", "kind": "fixed", "amount": "999"}),
    ("/console/coupons/{coupon}/active", {"active": "0"}),
    ("/console/coupons/{coupon}/delete", {}),
    ("/console/customers/{account}/standing", {"role": "supplier"}),
)


@pytest.fixture
def world(app, make_shop, make_account, make_product):
    made = {}
    for slug in ("alpha", "bravo"):
        shop = make_shop(slug)
        product = make_product(shop, price=1_000)
        tier = make_tier(app, shop)
        made[slug] = (
            shop,
            {
                "tier": tier,
                "rule": make_rule(app, shop, product_id=product, price=900),
                "coupon": make_coupon(app, shop),
                "account": make_account(shop, f"agent@{slug}.example.com", "agent").id,
            },
        )
    return made


@pytest.mark.parametrize("page", PAGES)
def test_each_page_answers_the_owner_and_sends_a_stranger_to_sign_in(world, browser_for, page):
    shop, ids = world["alpha"]
    owner = console(browser_for, shop.host, shop.owner_email)

    assert owner.get(page.format(**ids)).status_code == 200
    stranger = browser_for(shop.host).get(page.format(**ids))
    assert stranger.status_code == 302 and "/console/login" in stranger.headers["Location"]


@pytest.mark.parametrize("page", [p for p in PAGES if any(r in p for r in OWN_ROWS)])
def test_another_shops_owner_finds_none_of_this_shops_rows(world, browser_for, page):
    (_alpha, alpha_ids), (bravo, bravo_ids) = world["alpha"], world["bravo"]
    bravo_owner = console(browser_for, bravo.host, bravo.owner_email)

    assert bravo_owner.get(page.format(**bravo_ids)).status_code == 200
    assert bravo_owner.get(page.format(**alpha_ids)).status_code == 404


@pytest.mark.parametrize(("action", "form"), ACTIONS, ids=[a for a, _f in ACTIONS])
def test_another_shops_owner_changes_none_of_this_shops_rows(app, world, browser_for, action, form):
    (alpha, alpha_ids), (bravo, _bravo_ids) = world["alpha"], world["bravo"]
    bravo_owner = console(browser_for, bravo.host, bravo.owner_email)
    before = shop_rows(app, alpha.id)

    answer = bravo_owner.submit("/console/agent-tiers", form, action=action.format(**alpha_ids))

    assert answer.status_code == 404
    assert shop_rows(app, alpha.id) == before


def test_staff_see_pricing_but_change_nothing(app, world, browser_for, make_member):
    shop, ids = world["alpha"]
    make_member(shop, "staff@alpha.example.com", "staff")
    staff = console(browser_for, shop.host, "staff@alpha.example.com")
    before = shop_rows(app, shop.id)

    for page in PAGES:
        if page.endswith("/new"):
            assert staff.get(page.format(**ids)).status_code == 403
            continue
        answer = staff.get(page.format(**ids))
        assert answer.status_code == 200, page
        assert "only the owner changes" in text_of(answer) or "/delete" not in text_of(answer)
    for action, form in ACTIONS:
        answer = staff.submit("/console/agent-tiers", form, action=action.format(**ids))
        assert answer.status_code == 403, action
    assert staff.submit("/console/agent-tiers", {"name": "Staff tier"}).status_code == 403
    assert staff.submit("/console/agent-settings", {"agent_depth": "0"}).status_code == 403
    nav = text_of(staff.get("/console/"))
    assert "Agent tiers" in nav and "Price rules" in nav and "Coupons" in nav
    assert shop_rows(app, shop.id) == before


# --- agent tiers ----------------------------------------------------------------------


def test_the_owner_adds_a_tier_with_a_fee_typed_as_money(app, alpha, owner):
    answer = owner.submit(
        "/console/agent-tiers",
        {"name": "金牌代理", "rank": "30", "upgrade_kind": "fee", "upgrade_amount": "99.50"},
    )

    assert answer.status_code == 302
    page = text_of(owner.get(answer.headers["Location"]))
    assert "Tier 金牌代理 added." in page and "Pays a fee of ¥99.50" in page
    tiers = rows_of(app, alpha, AgentTier)
    assert [(t["name"], t["rank"], t["upgrade_kind"], t["upgrade_amount"]) for t in tiers] == [
        ("金牌代理", 30, "fee", 9_950)
    ]
    assert audit_trail(app, alpha)[-1][1] == "tier.created"
    log = text_of(owner.get("/console/audit"))
    assert "Added an agent tier" in log and "Agent tier 金牌代理" in log


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "upgrade_kind": "manual"}, "name", "Give the tier a name."),
        (
            {"name": "Gold", "upgrade_kind": "fee", "upgrade_amount": "12.345"},
            "upgrade_amount",
            "Write an amount like 12.50.",
        ),
        (
            {"name": "Gold", "upgrade_kind": "fee", "upgrade_amount": ""},
            "upgrade_amount",
            "Give an amount above zero for a fee or a recharge total.",
        ),
        (
            {"name": "Gold", "rank": "first", "upgrade_kind": "manual"},
            "rank",
            "Write a whole number, like 10.",
        ),
        (
            {"name": "Gold", "rank": "5000", "upgrade_kind": "manual"},
            "rank",
            "Must be at most 1000.",
        ),
    ],
)
def test_a_bad_tier_is_shown_at_its_field_with_what_was_typed(
    app, alpha, owner, form, field, message
):
    answer = owner.submit("/console/agent-tiers", {"rank": "7", **form})

    assert answer.status_code == 422
    page = text_of(answer)
    assert field_error(page, message), page
    for key, value in {"rank": "7", **form}.items():
        if key != "upgrade_kind":
            assert input_value(page, key) == value
    assert rows_of(app, alpha, AgentTier) == []


def test_a_taken_tier_name_is_said_at_the_name(app, alpha, owner):
    make_tier(app, alpha, "Gold")

    answer = owner.submit("/console/agent-tiers", {"name": "Gold", "upgrade_kind": "manual"})

    assert answer.status_code == 409
    assert field_error(text_of(answer), "Another tier has this name.")


def test_a_tier_is_edited_and_deleted_saying_what_follows(app, alpha, owner, make_account, product):
    tier = make_tier(app, alpha, "Gold", 10)
    agent = make_account(alpha, "agent@example.com", "agent")
    set_standing(app, alpha, agent.id, tier_id=tier)
    make_rule(app, alpha, product_id=product, tier_id=tier, price=8_000)
    page = f"/console/agent-tiers/{tier}"
    form = text_of(owner.get(page))
    assert input_value(form, "name") == "Gold" and input_value(form, "rank") == "10"

    saved = owner.submit(page, {"name": "Gold+", "rank": "11", "upgrade_kind": "manual"})
    assert saved.status_code == 302
    listed = text_of(owner.get("/console/agent-tiers"))
    assert "Gold+" in listed
    assert (
        "Its 1 accounts will pay retail prices, and its 1 price rules are deleted with it."
        in listed
    )

    gone = owner.submit(page, {}, action=f"{page}/delete")
    assert "1 accounts now pay retail prices, 1 of its price rules were deleted" in text_of(
        owner.get(gone.headers["Location"])
    )
    assert rows_of(app, alpha, AgentTier) == [] and rows_of(app, alpha, PriceRule) == []


# --- price rules ----------------------------------------------------------------------


def test_a_rule_for_a_product_from_its_page_with_a_price_typed_as_money(app, alpha, owner, product):
    product_page = text_of(owner.get(f"/console/products/{product}"))
    assert f"/console/price-rules?product_id={product}" in product_page
    new = f"/console/price-rules/new?product_id={product}"
    form = text_of(owner.get(new))
    assert selected(form, "scope") == "product" and selected(form, "product_id") == str(product)
    assert "Steam 钱包 ¥100" in form

    answer = owner.submit(
        new,
        {
            "scope": "product",
            "product_id": str(product),
            "tier_id": "",
            "kind": "price",
            "price": "80.00",
            "min_quantity": "1",
            "priority": "0",
        },
        action="/console/price-rules/new",
    )

    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/console/price-rules?product_id={product}")
    listed = text_of(owner.get(answer.headers["Location"]))
    assert "Price rule added." in listed and "¥80.00" in listed and "Steam 钱包 ¥100" in listed
    assert [
        (r["product_id"], r["price"], r["tier_id"]) for r in rows_of(app, alpha, PriceRule)
    ] == [(product, 8_000, None)]


def test_a_product_is_found_by_name_keeping_what_was_typed(app, alpha, owner, make_product):
    for n in range(30):
        make_product(alpha, name=f"QQ 币 {n:02d}", price=100 + n)
    make_product(alpha, name="Steam 钱包 ¥50", price=5_000)
    form = text_of(owner.get("/console/price-rules/new"))
    assert options(form, "product_id") == [""]  # no catalogue in the page

    found = owner.submit(
        "/console/price-rules/new",
        {
            "scope": "shop",
            "product_search": "qq 币",
            "find": "1",
            "kind": "price",
            "price": "0.99",
            "priority": "5",
        },
    )

    page = text_of(found)
    assert found.status_code == 200
    assert len(options(page, "product_id")) == 1 + 20  # at most 20 offered
    assert "Found 20: choose one below." in page
    assert selected(page, "scope") == "product"
    assert input_value(page, "price") == "0.99" and input_value(page, "priority") == "5"
    one = text_of(
        owner.submit(
            "/console/price-rules/new", {"product_search": "steam", "find": "1", "kind": "price"}
        )
    )
    assert "Steam 钱包 ¥50" in one and selected(one, "product_id") != ""  # the one match is chosen
    assert rows_of(app, alpha, PriceRule) == []


def test_times_are_typed_and_shown_in_the_shops_time_zone(app, alpha, owner):
    set_time_zone(app, alpha, "Asia/Shanghai")

    answer = owner.submit(
        "/console/price-rules/new",
        {
            "scope": "shop",
            "kind": "percent",
            "percent_off": "15",
            "starts_at": "2030-05-01T09:30",
            "ends_at": "2030-05-03T00:00",
            "min_quantity": "1",
        },
    )

    assert answer.status_code == 302
    (rule,) = rows_of(app, alpha, PriceRule)
    assert rule["starts_at"] == datetime(2030, 5, 1, 1, 30, tzinfo=UTC)
    assert rule["ends_at"] == datetime(2030, 5, 2, 16, 0, tzinfo=UTC)
    assert rule["percent_off"] == 15 and rule["price"] is None
    listed = text_of(owner.get("/console/price-rules"))
    assert (
        "2030-05-01 09:30 – 2030-05-03 00:00" in listed and "15% off" in listed and "Sale" in listed
    )
    form = text_of(owner.get(f"/console/price-rules/{rule['id']}"))
    assert input_value(form, "starts_at") == "2030-05-01T09:30"
    assert selected(form, "kind") == "percent"


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"kind": "price", "price": "12.345"}, "price", "Write an amount like 12.50."),
        ({"kind": "price", "price": ""}, "price", "Give an amount, like 12.50."),
        (
            {"kind": "percent", "percent_off": ""},
            "percent_off",
            "Give the percent off, a whole number from 1 to 100.",
        ),
        ({"kind": "percent", "percent_off": "150"}, "percent_off", "Must be at most 100."),
        (
            {"kind": "price", "price": "1", "min_quantity": "0"},
            "min_quantity",
            "Must be at least 1.",
        ),
        (
            {
                "kind": "price",
                "price": "1",
                "starts_at": "2030-05-02T00:00",
                "ends_at": "2030-05-01T00:00",
            },
            "ends_at",
            "Must end after it starts.",
        ),
        (
            {"kind": "price", "price": "1", "starts_at": "someday"},
            "starts_at",
            "Choose a date and a time.",
        ),
        (
            {"kind": "price", "price": "1", "scope": "product"},
            "product_id",
            "Find the product and choose it.",
        ),
        ({"kind": "price", "price": "1", "scope": "category"}, "category_id", "Choose a category."),
    ],
)
def test_a_bad_rule_is_shown_at_its_field_with_what_was_typed(
    app, alpha, owner, form, field, message
):
    typed = {"scope": "shop", "min_quantity": "3", "priority": "2", **form}

    answer = owner.submit("/console/price-rules/new", typed)

    assert answer.status_code == 422
    page = text_of(answer)
    assert field_error(page, message), page
    for key in ("price", "percent_off", "min_quantity", "priority", "starts_at", "ends_at"):
        if key in typed:
            assert input_value(page, key) == typed[key]
    assert rows_of(app, alpha, PriceRule) == []


def test_every_problem_of_a_rule_is_shown_at_once(app, alpha, owner):
    answer = owner.submit(
        "/console/price-rules/new",
        {"scope": "shop", "kind": "price", "price": "abc", "min_quantity": "0"},
    )

    page = text_of(answer)
    assert field_error(page, "Write an amount like 12.50.")
    assert field_error(page, "Must be at least 1.")


def test_rules_are_filtered_by_tier_and_paged(app, alpha, owner, product):
    tier = make_tier(app, alpha, "Gold")
    for n in range(51):
        make_rule(app, alpha, product_id=product, price=5_000 + n)
    make_rule(app, alpha, tier_id=tier, percent_off=3)

    first = text_of(owner.get("/console/price-rules"))
    second = text_of(owner.get("/console/price-rules?page=2"))
    gold = text_of(owner.get(f"/console/price-rules?tier_id={tier}"))

    assert "52 in all" in first and "Page 1 of 2" in first
    assert second.count("/delete") == 2
    assert "1 in all" in gold and "3% off" in gold and "The whole shop" in gold


def test_a_rule_is_changed_from_a_price_to_a_percent_and_deleted(app, alpha, owner, product):
    rule = make_rule(app, alpha, product_id=product, price=9_000)
    page = f"/console/price-rules/{rule}"
    form = text_of(owner.get(page))
    assert input_value(form, "price") == "90.00"

    saved = owner.submit(
        page,
        {
            "scope": "product",
            "product_id": str(product),
            "kind": "percent",
            "percent_off": "10",
            "price": "90.00",
            "min_quantity": "1",
            "priority": "0",
        },
    )

    assert saved.status_code == 302
    (row,) = rows_of(app, alpha, PriceRule)
    assert (row["price"], row["percent_off"]) == (None, 10)
    deleted = owner.submit(page, {}, action=f"{page}/delete")
    assert "Price rule deleted." in text_of(owner.get(deleted.headers["Location"]))
    assert rows_of(app, alpha, PriceRule) == []


# --- coupons --------------------------------------------------------------------------


def test_the_owner_adds_a_percent_coupon_stored_upper_case(app, alpha, owner):
    category = make_category(app, alpha, "Games")

    answer = owner.submit(
        "/console/coupons/new",
        {
            "code": "spring",
            "kind": "percent",
            "percent": "15",
            "min_spend": "50.00",
            "scope": "category",
            "category_id": str(category),
            "max_uses": "100",
            "active": "y",
        },
    )

    assert answer.status_code == 302
    listed = text_of(owner.get("/console/coupons"))
    assert "Coupon SPRING added." in listed and "15% off" in listed and "¥50.00" in listed
    assert "Games" in listed and "0 of 100" in listed
    (coupon,) = rows_of(app, alpha, Coupon)
    assert (coupon["code"], coupon["kind"], coupon["amount"], coupon["min_spend"]) == (
        "SPRING",
        "percent",
        15,
        5_000,
    )
    assert coupon["category_id"] == category and coupon["active"] is True


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"code": "ab", "kind": "fixed", "amount": "5"},
            "code",
            "3 to 32 letters, digits, - or _.",
        ),
        ({"code": "SALE", "kind": "fixed", "amount": "0"}, "amount", "Must be at least 1."),
        (
            {"code": "SALE", "kind": "fixed", "amount": "five"},
            "amount",
            "Write an amount like 12.50.",
        ),
        ({"code": "SALE", "kind": "percent", "percent": "101"}, "percent", "Must be at most 100."),
        (
            {"code": "SALE", "kind": "fixed", "amount": "5", "max_uses": "0"},
            "max_uses",
            "Must be at least 1.",
        ),
        (
            {
                "code": "SALE",
                "kind": "fixed",
                "amount": "5",
                "starts_at": "2030-01-02T00:00",
                "expires_at": "2030-01-01T00:00",
            },
            "expires_at",
            "Must end after it starts.",
        ),
    ],
)
def test_a_bad_coupon_is_shown_at_its_field_with_what_was_typed(
    app, alpha, owner, form, field, message
):
    answer = owner.submit("/console/coupons/new", {"scope": "shop", **form})

    assert answer.status_code == 422
    page = text_of(answer)
    assert field_error(page, message), page
    for key, value in form.items():
        if key != "kind":
            assert input_value(page, key) == value
    assert rows_of(app, alpha, Coupon) == []


def test_a_taken_code_is_said_at_the_code(app, alpha, owner):
    make_coupon(app, alpha, "SPRING")

    answer = owner.submit(
        "/console/coupons/new", {"code": "Spring", "kind": "fixed", "amount": "1", "scope": "shop"}
    )

    assert answer.status_code == 409
    assert field_error(text_of(answer), "Another coupon has this code.")
    assert input_value(text_of(answer), "code") == "Spring"


def test_a_coupon_is_switched_off_and_on_and_its_uses_shown(app, alpha, owner, make_product):
    from app.orders import checkout

    product = make_product(alpha, price=10_000, stock=["USE-1"])
    coupon = make_coupon(app, alpha, "ONCE", max_uses=5)

    def place():
        checkout.create_order(
            product_id=product,
            quantity=1,
            email="b@example.com",
            caller=checkout.Caller("api_key", uuid.uuid4()),
            coupon="once",
        )
        db.session.commit()

    run_in_shop(app, alpha, place)
    listed = text_of(owner.get("/console/coupons"))
    assert "1 of 5" in listed
    assert f"/console/coupons/{coupon}/delete" not in listed  # used: switched off, not deleted

    off = owner.submit(
        "/console/coupons?state=on",
        {"active": "0", "back": "/console/coupons?state=on"},
        action=f"/console/coupons/{coupon}/active",
    )
    assert off.headers["Location"].endswith("/console/coupons?state=on")
    assert "Coupon ONCE is off: buyers are refused it." in text_of(
        owner.get("/console/coupons?state=off")
    )
    assert rows_of(app, alpha, Coupon)[0]["active"] is False
    owner.submit(
        "/console/coupons",
        {"active": "1", "back": "https://evil.example/"},
        action=f"/console/coupons/{coupon}/active",
    )
    assert rows_of(app, alpha, Coupon)[0]["active"] is True
    refused = owner.submit("/console/coupons", {}, action=f"/console/coupons/{coupon}/delete")
    assert "switch it off instead" in text_of(owner.get(refused.headers["Location"]))
    assert len(rows_of(app, alpha, Coupon)) == 1


def test_an_unused_coupon_is_edited_and_deleted(app, alpha, owner):
    coupon = make_coupon(app, alpha, "EDIT", amount=500)
    page = f"/console/coupons/{coupon}"
    assert input_value(text_of(owner.get(page)), "amount") == "5.00"

    saved = owner.submit(
        page, {"code": "EDIT", "kind": "fixed", "amount": "7.5", "scope": "shop", "active": "y"}
    )
    assert saved.status_code == 302
    assert rows_of(app, alpha, Coupon)[0]["amount"] == 750
    owner.submit(page, {}, action=f"{page}/delete")
    assert rows_of(app, alpha, Coupon) == []


# --- agent settings -------------------------------------------------------------------


def test_the_owner_saves_agent_settings_typed_as_people_write_them(app, alpha, owner):
    form = text_of(owner.get("/console/agent-settings"))
    assert selected(form, "agent_depth") == "3" and input_value(form, "withdraw_min") == "10.00"

    answer = owner.submit(
        "/console/agent-settings",
        {
            "agent_depth": "2",
            "commission_hold_days": "14",
            "first_order_percent": "5",
            "withdraw_min": "50",
            "withdraw_fee": "1.5",
        },
    )

    assert answer.status_code == 302
    page = text_of(owner.get("/console/agent-settings"))
    assert "Agent settings saved." in page
    assert (
        input_value(page, "withdraw_fee") == "1.5" and input_value(page, "withdraw_min") == "50.00"
    )

    def settings():
        from app.settings.agent_settings import agent_settings

        return agent_settings()

    assert run_in_shop(app, alpha, settings) == {
        "agent_depth": 2,
        "commission_hold_days": 14,
        "first_order_percent": 5,
        "withdraw_min": 5_000,
        "withdraw_fee_bps": 150,
    }
    assert audit_trail(app, alpha)[-1][1] == "shop.agent_settings"


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("commission_hold_days", "91", "A whole number from 0 to 90."),
        ("commission_hold_days", "a week", "Write a whole number, like 10."),
        ("first_order_percent", "95", "A whole number from 0 to 90."),
        ("withdraw_min", "10.001", "Write an amount like 12.50."),
        ("withdraw_fee", "60", "From 0 to 50 percent."),
        ("withdraw_fee", "1.234", "Write a percent with at most two decimals, like 1.5."),
    ],
)
def test_a_bad_agent_setting_is_shown_at_its_field_with_what_was_typed(
    app, alpha, owner, field, typed, message
):
    form = {
        "agent_depth": "1",
        "commission_hold_days": "7",
        "first_order_percent": "0",
        "withdraw_min": "10.00",
        "withdraw_fee": "0",
        field: typed,
    }

    answer = owner.submit("/console/agent-settings", form)

    assert answer.status_code == 422
    page = text_of(answer)
    assert field_error(page, message), page
    assert input_value(page, field) == typed
    assert audit_trail(app, alpha) == []


# --- a customer's role, tier and upline -------------------------------------------------


def test_the_owner_sets_a_customers_role_tier_and_upline_by_email(app, alpha, owner, make_account):
    tier = make_tier(app, alpha, "Gold")
    upline = make_account(alpha, "boss@example.com", "agent")
    buyer = make_account(alpha, "alice@example.com")
    page = f"/console/customers/{buyer.id}"

    answer = owner.submit(
        page,
        {"role": "agent", "tier_id": str(tier), "upline_email": "Boss@Example.com"},
        action=f"{page}/standing",
    )

    assert answer.status_code == 302
    shown = text_of(owner.get(page))
    assert (
        "Role, tier and upline saved." in shown and "Gold" in shown and "boss@example.com" in shown
    )
    boss = text_of(owner.get(f"/console/customers/{upline.id}"))
    assert '<span class="num">1</span><span>Direct downline</span>' in boss
    assert audit_trail(app, alpha)[-1][1] == "account.updated"


def test_an_upline_that_is_not_an_agent_is_refused_at_the_field(app, alpha, owner, make_account):
    buyer = make_account(alpha, "alice@example.com")
    make_account(alpha, "bob@example.com")
    page = f"/console/customers/{buyer.id}"

    answer = owner.submit(
        page,
        {"role": "agent", "tier_id": "", "upline_email": "bob@example.com"},
        action=f"{page}/standing",
    )

    assert answer.status_code == 422
    shown = text_of(answer)
    assert field_error(shown, "The upline must be an active agent.")
    assert input_value(shown, "upline_email") == "bob@example.com"
    assert selected(shown, "role") == "agent"
    unknown = text_of(
        owner.submit(
            page,
            {"role": "customer", "upline_email": "nobody@example.com"},
            action=f"{page}/standing",
        )
    )
    assert field_error(unknown, "No such account in this shop.")
    assert rows_of(app, alpha, type(buyer))[0]["role"] == "customer"  # nothing saved


def test_staff_see_a_customers_tier_but_not_the_form(app, alpha, staff, make_account):
    buyer = make_account(alpha, "alice@example.com")

    page = text_of(staff.get(f"/console/customers/{buyer.id}"))

    assert "Agent tier" in page and "Retail" in page
    assert "Save role, tier and upline" not in page


def test_a_chinese_owner_reads_the_pricing_pages_in_chinese(app, alpha, browser_for):
    owner = console(browser_for, alpha.host, alpha.owner_email, lang="zh_CN")
    page = text_of(owner.get("/console/agent-tiers"))
    assert owner.get("/console/agent-tiers").status_code == 200
    assert 'lang="zh-CN"' in page
