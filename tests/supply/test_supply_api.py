"""The supply API (``/supply/v1/``) through a real HTTP server: a docking
partner reads the catalogue at its price and buys, idempotently, paying
from its wallet; refusals are problem documents."""

from __future__ import annotations

import time
import uuid

from tests.agents.money_support import add_tier, fill_wallet, place_in_chain
from tests.factories import codes
from tests.live import send
from tests.supply.support import (
    assert_problem,
    balance,
    open_supply,
    order_count,
    partner_of,
)


def test_catalogue_lists_products_on_sale_with_stock_and_inputs(docking):
    answer = docking["partner"].get("/supply/v1/catalogue?page=1")
    assert answer.status == 200, answer.body
    assert answer.getheader("X-Kameng-Protocol") == "1"
    items = {item["sku"]: item for item in answer.json["items"]}
    card, topup = items[str(docking["card"])], items[str(docking["topup"])]
    assert card["kind"] == "card" and card["stock"] == 5 and card["price"] == 1_000
    assert topup["stock"] is None and topup["input_fields"][0]["name"] == "phone"
    assert answer.json["total"] == 2 and answer.json["page"] == 1

    one = docking["partner"].get(f"/supply/v1/products/{docking['card']}")
    assert one.status == 200 and one.json["name"] == "Steam 10"
    assert_problem(docking["partner"].get(f"/supply/v1/products/{uuid.uuid4()}"), 404, "not-found")
    assert_problem(docking["partner"].get("/supply/v1/products/nope"), 404, "not-found")


def test_the_caller_sees_and_pays_its_tier_price(app, live, make_shop, make_product):
    shop = make_shop("alpha")
    product = make_product(shop, name="Steam 10", price=1_000, stock=codes("T", 3))
    gold = add_tier(app, shop, "gold", 1, product_id=product, price=700)
    agent_id = place_in_chain(app, shop, "gold@alpha.example.com", "agent", tier_id=gold)
    open_supply(app, shop)
    fill_wallet(app, shop, agent_id, 10_000)
    partner = partner_of(app, live, shop, "gold@alpha.example.com")

    item = partner.get(f"/supply/v1/products/{product}").json
    assert item["price"] == 700
    bought = partner.post(
        "/supply/v1/purchases", {"sku": str(product), "quantity": 2, "key": "gold-0001"}
    )
    assert bought.status == 201, bought.body
    assert bought.json["price"] == 1_400
    assert balance(app, shop, agent_id) == 10_000 - 1_400


def test_a_card_purchase_answers_its_codes_and_a_replay_buys_nothing_more(app, docking):
    partner, shop = docking["partner"], docking["shop"]
    request = {"sku": str(docking["card"]), "quantity": 2, "key": "order-item-42"}
    first = partner.post("/supply/v1/purchases", request)
    assert first.status == 201, first.body
    assert first.json["status"] == "delivered"
    assert len(first.json["codes"]) == 2 and first.json["codes"][0]["code"].startswith("ST-")
    assert first.json["price"] == 2_000 and first.json["key"] == "order-item-42"
    after_first = balance(app, shop, partner.account_id)
    assert after_first == 50_000 - 2_000

    again = partner.post("/supply/v1/purchases", request)
    assert again.status == 200, again.body
    assert again.json == first.json
    assert order_count(app, shop) == 1
    assert balance(app, shop, partner.account_id) == after_first

    reused = partner.post("/supply/v1/purchases", {**request, "quantity": 1})
    assert_problem(reused, 409, "idempotency-key-reused")
    assert order_count(app, shop) == 1

    by_ref = partner.get(f"/supply/v1/purchases/{first.json['ref']}")
    assert by_ref.status == 200 and by_ref.json == first.json
    by_key = partner.get("/supply/v1/purchases?key=order-item-42")
    assert by_key.status == 200 and by_key.json["ref"] == first.json["ref"]


def test_a_top_up_answers_pending(app, docking):
    partner = docking["partner"]
    bought = partner.post(
        "/supply/v1/purchases",
        {
            "sku": str(docking["topup"]),
            "quantity": 1,
            "inputs": {"phone": "13800138000"},
            "key": "topup-0001",
        },
    )
    assert bought.status == 201, bought.body
    assert bought.json["status"] == "pending" and "codes" not in bought.json
    assert balance(app, docking["shop"], partner.account_id) == 50_000 - 2_000

    missing = partner.post(
        "/supply/v1/purchases", {"sku": str(docking["topup"]), "quantity": 1, "key": "topup-0002"}
    )
    assert_problem(missing, 422, "validation-failed")


def test_not_enough_balance_is_402_keeps_nothing_and_the_same_key_buys_once_topped_up(app, docking):
    partner, shop = docking["partner"], docking["shop"]
    request = {"sku": str(docking["card"]), "quantity": 1, "key": "poor-0001"}
    # Spend the wallet down to 5.00 on top-ups first.
    for n in range(24):
        partner.post(
            "/supply/v1/purchases",
            {
                "sku": str(docking["topup"]),
                "quantity": 1,
                "inputs": {"phone": "13800138000"},
                "key": f"spend-{n:04d}",
            },
        )
    assert balance(app, shop, partner.account_id) == 2_000
    orders = order_count(app, shop)
    fill = {"sku": str(docking["card"]), "quantity": 3, "key": "poor-0002"}
    refused = partner.post("/supply/v1/purchases", fill)
    assert_problem(refused, 402, "insufficient-funds")
    assert balance(app, shop, partner.account_id) == 2_000
    # Cards from own stock: no order, no held cards, the key not taken.
    assert order_count(app, shop) == orders
    assert partner.get("/supply/v1/purchases?key=poor-0002").status == 404

    fill_wallet(app, shop, partner.account_id, 5_000)
    paid = partner.post("/supply/v1/purchases", fill)
    assert paid.status == 201, paid.body
    assert paid.json["status"] == "delivered" and len(paid.json["codes"]) == 3
    assert balance(app, shop, partner.account_id) == 7_000 - 3_000
    assert partner.post("/supply/v1/purchases", request).status == 201


def test_bad_bodies_are_problem_documents(docking):
    partner = docking["partner"]
    short = partner.post("/supply/v1/purchases", {"sku": "x", "quantity": 1, "key": "short"})
    assert_problem(short, 422, "validation-failed")
    garbage = partner.request("POST", "/supply/v1/purchases", raw=b"{not json")
    assert garbage.status in (400, 422) and garbage.json["type"]
    large = partner.request("POST", "/supply/v1/purchases", raw=b"x" * (70 * 1024))
    assert_problem(large, 413, "supply-body-too-large")


def test_unknown_paths_and_methods_answer_json(docking):
    partner = docking["partner"]
    assert_problem(partner.get("/supply/v1/nothing-here"), 404, "not-found")
    wrong = partner.request("DELETE", "/supply/v1/catalogue")
    assert wrong.status == 405 and wrong.json["status"] == 405
    assert wrong.getheader("X-Kameng-Protocol") == "1"


# --- refusals of the signature --------------------------------------------


def test_an_unsigned_request_is_refused(docking):
    answer = send(docking["partner"].port, "GET", "/supply/v1/catalogue", host="alpha.localhost")
    answer.json = __import__("json").loads(answer.body)
    assert_problem(answer, 401, "supply-signature-missing")


def test_a_bad_signature_is_refused(docking):
    partner = docking["partner"]
    answer = partner.get("/supply/v1/catalogue", headers={"X-Kameng-Signature": "0" * 64})
    assert_problem(answer, 401, "supply-signature-invalid")
    # A body changed after signing.
    from app.supply import signing

    body = b'{"sku":"a","quantity":1,"key":"tampered-1"}'
    signed = signing.sign(partner.key_id, partner.secret, "POST", "/supply/v1/purchases", body)
    answer = send(
        partner.port,
        "POST",
        "/supply/v1/purchases",
        host=partner.shop.host,
        body=body.replace(b"1", b"9"),
        headers=signed,
    )
    answer.json = __import__("json").loads(answer.body)
    assert_problem(answer, 401, "supply-signature-invalid")


def test_a_stale_timestamp_is_refused(docking):
    import time

    from app.supply import signing

    partner = docking["partner"]
    path = "/supply/v1/catalogue"
    old = signing.sign(partner.key_id, partner.secret, "GET", path, b"", now=time.time() - 600)
    answer = partner.get(path, headers=old)
    assert_problem(answer, 401, "supply-request-stale")


def test_a_replayed_nonce_is_refused(docking):
    from app.supply import signing

    partner = docking["partner"]
    path = "/supply/v1/catalogue"
    once = signing.sign(partner.key_id, partner.secret, "GET", path, b"")
    assert partner.get(path, headers=once).status == 200
    assert_problem(partner.get(path, headers=once), 409, "supply-nonce-replayed")


def test_a_wrong_protocol_version_is_refused_naming_the_supported_ones(docking):
    answer = docking["partner"].get("/supply/v1/catalogue", headers={"X-Kameng-Protocol": "9"})
    body = assert_problem(answer, 400, "supply-protocol-unsupported")
    assert body["supported_versions"] == ["1"]


def test_unknown_and_revoked_keys_are_refused(app, docking):
    from app.supply import credentials
    from tests.factories import run_in_shop
    from tests.supply.support import Partner

    partner = docking["partner"]
    stranger = Partner(
        partner.port, partner.shop, "ks_" + "x" * 24, "secret", partner.account_id, uuid.uuid4()
    )
    assert_problem(stranger.get("/supply/v1/catalogue"), 401, "supply-key-unknown")
    run_in_shop(
        app,
        partner.shop,
        lambda: credentials.revoke_credential(partner.credential_id, actor="test"),
    )
    assert_problem(partner.get("/supply/v1/catalogue"), 401, "supply-key-unknown")


def test_a_closed_shop_refuses(app, docking):
    open_supply(app, docking["shop"], False)
    assert_problem(docking["partner"].get("/supply/v1/catalogue"), 403, "supply-closed")


def test_the_platform_host_has_no_supply_api(docking):
    partner = docking["partner"]
    answer = send(partner.port, "GET", "/supply/v1/catalogue", host="localhost")
    assert answer.status == 404
    assert answer.getheader("Content-Type").startswith("application/problem+json")


# --- across shops ---------------------------------------------------------


def test_a_credential_of_one_shop_is_unknown_at_another(app, live, docking, make_shop):
    bravo = make_shop("bravo")
    open_supply(app, bravo)
    partner = docking["partner"]
    from tests.supply.support import Partner

    at_bravo = Partner(
        live, bravo, partner.key_id, partner.secret, partner.account_id, partner.credential_id
    )
    assert_problem(at_bravo.get("/supply/v1/catalogue"), 401, "supply-key-unknown")


def test_another_credentials_purchases_are_not_found(app, live, docking, make_account):
    partner, shop = docking["partner"], docking["shop"]
    mine = partner.post(
        "/supply/v1/purchases", {"sku": str(docking["card"]), "quantity": 1, "key": "mine-0001"}
    )
    assert mine.status == 201
    other_agent = make_account(shop, "other@alpha.example.com", "agent")
    other = partner_of(app, live, shop, other_agent.email)
    assert_problem(other.get(f"/supply/v1/purchases/{mine.json['ref']}"), 404, "not-found")
    assert_problem(other.get("/supply/v1/purchases?key=mine-0001"), 404, "not-found")


def test_a_shops_own_orders_are_not_purchases(app, live, docking, make_shop, make_account):
    from tests.agents.money_support import buy

    bravo = make_shop("bravo")
    product = __import__("tests.factories", fromlist=["add_product"]).add_product(
        app, bravo, name="B card", price=500, stock=codes("B", 2)
    )
    buyer = make_account(bravo, "buyer@bravo.example.com", "agent")
    fill_wallet(app, bravo, buyer.id, 5_000)
    number = buy(app, bravo, buyer.id, product)
    partner = docking["partner"]
    assert_problem(partner.get(f"/supply/v1/purchases/{number}"), 404, "not-found")


def test_the_openapi_document_describes_the_supply_api(browser_for, docking):
    spec = browser_for(docking["shop"].host).get("/api/v1/openapi.json").get_json()
    scheme = spec["components"]["securitySchemes"]["supplySignature"]
    assert scheme["in"] == "header" and "X-Kameng-Nonce" in scheme["description"]
    for path in (
        "/supply/v1/catalogue",
        "/supply/v1/products/{sku}",
        "/supply/v1/purchases",
        "/supply/v1/purchases/{ref}",
    ):
        for operation in spec["paths"][path].values():
            if isinstance(operation, dict) and "responses" in operation:
                assert operation["security"] == [{"supplySignature": []}]
    post = spec["paths"]["/supply/v1/purchases"]["post"]
    assert {"201", "200"} <= set(post["responses"])


def test_a_request_notes_when_the_credential_was_last_used(app, docking):
    from app.supply import credentials
    from tests.factories import run_in_shop

    def last_used():
        return credentials.get_credential(docking["partner"].credential_id).credential.last_used_at

    assert run_in_shop(app, docking["shop"], last_used) is None
    assert docking["partner"].get("/supply/v1/catalogue").status == 200
    assert run_in_shop(app, docking["shop"], last_used) is not None


def test_with_redis_down_a_signed_request_is_503_and_changes_nothing(app, app_config, docking):
    """Nonces cannot be remembered without Redis: the request is refused
    (503 problem document), never let through unchecked."""
    from app import create_app
    from tests.live import free_port, serving
    from tests.supply.support import Partner

    served = create_app(
        {
            **app_config,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "REDIS_BREAKER_SECONDS": 0.5,
        }
    )
    partner = docking["partner"]
    with serving(served) as port:
        cut_off = Partner(
            port,
            partner.shop,
            partner.key_id,
            partner.secret,
            partner.account_id,
            partner.credential_id,
        )
        answer = cut_off.post(
            "/supply/v1/purchases", {"sku": str(docking["card"]), "quantity": 1, "key": "nored-01"}
        )
        assert_problem(answer, 503, "unavailable")
    assert order_count(app, docking["shop"]) == 0


def test_one_credential_is_held_to_its_requests_a_minute(app, docking, monkeypatch):
    """Past ``SUPPLY_RATE_PER_MINUTE`` a credential's requests answer 429
    with a problem document, and buy nothing."""
    monkeypatch.setitem(app.config, "SUPPLY_RATE_PER_MINUTE", 3)
    partner = docking["partner"]
    if time.time() % 60 > 50:  # the four requests fall in one counting minute
        time.sleep(60.5 - time.time() % 60)
    assert [partner.get("/supply/v1/catalogue").status for _ in range(3)] == [200, 200, 200]
    refused = partner.post(
        "/supply/v1/purchases", {"sku": str(docking["card"]), "quantity": 1, "key": "rate-0001"}
    )
    assert_problem(refused, 429, "rate-limited")
    assert order_count(app, docking["shop"]) == 0
