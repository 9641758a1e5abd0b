"""The anonymous storefront cache (``app/storefront/pagecache.py``): a page is
kept and served again, and every write that changes what it shows — a price,
a sale, an import, a suspension — shows on the next visit. Signed-in
visitors, API keys, other shops and other languages never get a copy that
is not theirs."""

from __future__ import annotations

import re
import time

import pytest

from app.extensions import db
from tests.catalog.support import cards, product
from tests.conftest import PASSWORD, end_outer_transaction

pytestmark = pytest.mark.critical

EN = {"Accept-Language": "en"}


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def warm(browser, path: str, headers=EN):
    """Visit until the page comes from the cache: at most three visits (the
    first visit of a host only learns which shop it is, the next stores the
    page). The copy served is the page the app made."""
    answers = [browser.get(path, headers=headers)]
    while answers[-1].headers.get("X-Cache") != "hit":
        assert len(answers) < 3, [a.headers.get("X-Cache") for a in answers]
        assert answers[-1].headers.get("X-Cache") == "miss"
        answers.append(browser.get(path, headers=headers))
    assert len(answers) >= 2 and answers[-1].get_data() == answers[-2].get_data()
    return answers[-1]


@pytest.fixture
def wallet(shop, in_shop):
    product_id = in_shop(shop, product, "Steam Wallet ¥100", price=1250)
    in_shop(shop, cards, product_id, 3)
    return product_id


def test_an_anonymous_page_is_served_again_from_the_cache(shop, wallet, browser_for):
    browser = browser_for(shop.host)

    page = text(warm(browser, f"/p/{wallet}"))

    assert "Steam Wallet ¥100" in page and "¥12.50" in page and "In stock: 3" in page
    assert browser.get(f"/p/{wallet}", headers=EN).headers["X-Content-Type-Options"] == "nosniff"
    home = warm(browser, "/")
    assert "Steam Wallet ¥100" in text(home)
    assert warm(browser, "/api/v1/products").get_json()["items"][0]["price"] == 1250


def test_a_price_change_shows_on_the_next_visit(shop, wallet, api, browser_for):
    browser = browser_for(shop.host)
    warm(browser, f"/p/{wallet}")
    warm(browser, "/api/v1/products")

    assert api.patch(f"/api/v1/products/{wallet}", json={"price": 990}).status_code == 200

    page = browser.get(f"/p/{wallet}", headers=EN)
    assert page.headers["X-Cache"] == "miss" and "¥9.90" in text(page)
    listed = browser.get("/api/v1/products", headers=EN).get_json()
    assert listed["items"][0]["price"] == 990


def test_a_sale_and_an_import_change_the_stock_shown(shop, wallet, browser_for, in_shop):
    from app.orders import checkout

    browser = browser_for(shop.host)
    warm(browser, f"/p/{wallet}")

    in_shop(
        shop,
        checkout.create_order,
        product_id=wallet,
        quantity=1,
        email="buyer@example.com",
    )
    assert "In stock: 2" in text(browser.get(f"/p/{wallet}", headers=EN))
    again = browser.get(f"/p/{wallet}", headers=EN)
    assert again.headers["X-Cache"] == "hit" and "In stock: 2" in text(again)

    in_shop(shop, cards, wallet, 4, "MORE")
    assert "In stock: 6" in text(browser.get(f"/p/{wallet}", headers=EN))


def test_a_product_taken_off_sale_is_gone_at_once(shop, wallet, api, browser_for):
    browser = browser_for(shop.host)
    warm(browser, f"/p/{wallet}")

    api.patch(f"/api/v1/products/{wallet}", json={"status": "off_sale"})

    assert browser.get(f"/p/{wallet}", headers=EN).status_code == 404
    assert browser.get("/api/v1/products", headers=EN).get_json()["items"] == []


def test_a_suspended_shop_is_not_served_from_the_cache(app, shop, wallet, browser_for):
    from tenants.provisioning import suspend_shop

    browser = browser_for(shop.host)
    warm(browser, f"/p/{wallet}")

    end_outer_transaction()
    with app.app_context():
        suspend_shop(shop.slug, "unpaid")
        db.session.remove()

    answer = browser.get(f"/p/{wallet}", headers=EN)
    assert answer.status_code == 403 and "X-Cache" not in answer.headers


def test_a_signed_in_buyer_is_never_served_a_copy_nor_leaves_one(
    shop, wallet, browser_for, make_account
):
    make_account(shop.tenant_id, "buyer@example.com")
    anonymous = browser_for(shop.host)
    warm(anonymous, f"/p/{wallet}")

    buyer = browser_for(shop.host)
    signed_in = buyer.submit("/account/login", {"email": "buyer@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    for _ in range(3):
        page = buyer.get(f"/p/{wallet}", headers=EN)
        assert "X-Cache" not in page.headers and "My account" in text(page)

    after = anonymous.get(f"/p/{wallet}", headers=EN)
    assert after.headers["X-Cache"] == "hit" and "My account" not in text(after)


def test_an_api_key_sees_its_own_answer(shop, wallet, api, api_for, in_shop):
    in_shop(shop, product, "Secret draft", price=1, status="draft")
    anonymous = api_for(shop, None)
    for _ in range(3):
        public = anonymous.get("/api/v1/products")
    assert public.headers["X-Cache"] == "hit"
    assert [p["name"] for p in public.get_json()["items"]] == ["Steam Wallet ¥100"]

    operator = api.get("/api/v1/products")

    assert "X-Cache" not in operator.headers
    names = {p["name"] for p in operator.get_json()["items"]}
    assert names == {"Steam Wallet ¥100", "Secret draft"}
    assert "cost" in operator.get_json()["items"][0]


def test_two_shops_never_share_a_copy(shop, wallet, make_shop, in_shop, browser_for):
    beta = make_shop("beta", key_role="owner")
    in_shop(beta, product, "Beta only card", price=500)

    alpha_list = warm(browser_for(shop.host), "/api/v1/products").get_json()
    beta_list = warm(browser_for(beta.host), "/api/v1/products").get_json()

    assert [p["name"] for p in alpha_list["items"]] == ["Steam Wallet ¥100"]
    assert [p["name"] for p in beta_list["items"]] == ["Beta only card"]
    # Alpha's product id on beta's host: not found, cached or not.
    for _ in range(3):
        assert browser_for(beta.host).get(f"/p/{wallet}").status_code == 404


def test_each_language_gets_its_own_copy(shop, wallet, browser_for):
    browser = browser_for(shop.host)
    english = text(warm(browser, f"/p/{wallet}", headers=EN))
    chinese = text(warm(browser, f"/p/{wallet}", headers={"Accept-Language": "zh-CN"}))

    assert "In stock: 3" in english and "库存：3" in chinese


def test_choosing_a_language_is_not_cached_and_the_choice_is_kept(shop, wallet, browser_for):
    browser = browser_for(shop.host)
    chosen = browser.get(f"/p/{wallet}?lang=en")
    assert "X-Cache" not in chosen.headers and "lang=en" in chosen.headers["Set-Cookie"]

    # The browser now sends ``lang=en``: cached apart from the default.
    assert "In stock: 3" in text(warm(browser, f"/p/{wallet}", headers={}))
    assert "库存：3" in text(warm(browser_for(shop.host), f"/p/{wallet}", headers={}))


def test_with_the_cache_off_nothing_is_kept(app, shop, wallet, browser_for, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)
    browser = browser_for(shop.host)

    answers = [browser.get(f"/p/{wallet}", headers=EN) for _ in range(3)]

    assert all(a.status_code == 200 and "X-Cache" not in a.headers for a in answers)


def test_without_redis_the_pages_still_answer(app, shop, wallet, browser_for, monkeypatch):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # A closed port, and no retries: every Redis call fails at once.
    down = redis.Redis(host="127.0.0.1", port=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setitem(app.extensions, "kameng_redis", down)
    browser = browser_for(shop.host)

    answers = [browser.get(f"/p/{wallet}", headers=EN) for _ in range(2)]

    assert all("In stock: 3" in text(a) and "X-Cache" not in a.headers for a in answers)


def _local(app):
    return app.extensions["kameng_page_cache"].local


def _copied_here(app, browser, path: str) -> None:
    """Visit until this process keeps its own copy (its invalidation listener
    subscribes in the background after the first request)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert browser.get(path, headers=EN).status_code == 200
        local = _local(app)
        if local.live and any(f"|{path}?" in key for key in local.entries):
            return
        time.sleep(0.05)
    raise AssertionError("no local copy within 10 s")


def test_a_copy_kept_in_this_process_is_served_without_redis(
    app, shop, wallet, browser_for, monkeypatch
):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    browser = browser_for(shop.host)
    _copied_here(app, browser, f"/p/{wallet}")
    down = redis.Redis(host="127.0.0.1", port=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setitem(app.extensions, "kameng_redis", down)

    answer = browser.get(f"/p/{wallet}", headers=EN)

    assert answer.headers["X-Cache"] == "hit" and "In stock: 3" in text(answer)


def test_a_change_made_by_another_process_reaches_this_process_copy(
    app, shop, wallet, browser_for, in_shop, worker, monkeypatch
):
    """The worker imports codes: its commit is announced on the channel, and
    this process drops its copy long before the copy would expire."""
    browser = browser_for(shop.host)
    _copied_here(app, browser, f"/p/{wallet}")
    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 1)

    assert in_shop(shop, cards, wallet, 4, "JOB") == "queued"

    deadline = time.monotonic() + 15  # the copy would live 30 s
    page = ""
    while time.monotonic() < deadline and "In stock: 7" not in page:
        time.sleep(0.1)
        page = text(browser.get(f"/p/{wallet}", headers=EN))
    assert "In stock: 7" in page


def test_a_domain_change_drops_every_copy(app, shop, wallet, browser_for, make_shop):
    """Which shop answers at a host changes with shop and domain changes, and
    the domain table is not one the pages show: a verified domain still drops
    every copy, this process's own and Redis's."""
    from tenants import provisioning

    beta = make_shop("beta", key_role="owner")
    browser = browser_for(shop.host)
    _copied_here(app, browser, "/")
    assert browser.get("/", headers=EN).headers["X-Cache"] == "hit"

    end_outer_transaction()
    with app.app_context():
        provisioning.add_custom_domain(beta.tenant_id, "beta-games.example")
        provisioning.mark_domain_verified(beta.tenant_id, "beta-games.example")
        db.session.remove()

    again = browser.get("/", headers=EN)
    assert again.headers["X-Cache"] == "miss" and "Steam Wallet ¥100" in text(again)
    assert "Shop beta" in text(browser_for("beta-games.example").get("/", headers=EN))


# --- the key space: only what a page reads, in one spelling -------------------------


def _page_keys(app, path: str) -> list[str]:
    """The copies Redis holds of ``path`` (every query and language)."""
    from app.core.redisconn import get_redis

    keys = [k.decode() for k in get_redis(app).scan_iter("kameng:page:*", count=1000)]
    return sorted(k for k in keys if f"|{path}?" in k)


def test_junk_query_strings_share_the_one_copy_of_a_page(app, shop, wallet, browser_for):
    browser = browser_for(shop.host)
    warm(browser, f"/p/{wallet}")

    answers = [browser.get(f"/p/{wallet}?utm_source=x{i}&ref={i}", headers=EN) for i in range(20)]
    answers += [browser.get(f"/?junk={i}", headers=EN) for i in range(20)]

    assert all(a.headers["X-Cache"] == "hit" for a in answers[1:20])
    assert all("In stock: 3" in text(a) for a in answers[:20])
    assert len(_page_keys(app, f"/p/{wallet}")) == 1
    assert len(_page_keys(app, "/")) == 1


def test_an_id_in_another_spelling_is_served_the_same_copy(app, shop, wallet, browser_for):
    browser = browser_for(shop.host)
    warm(browser, f"/p/{wallet}")

    shouted = browser.get(f"/p/{str(wallet).upper()}", headers=EN)
    braced = browser.get("/api/v1/products/{" + str(wallet).upper() + "}", headers=EN)

    assert shouted.headers["X-Cache"] == "hit" and "In stock: 3" in text(shouted)
    assert braced.status_code == 200 and braced.get_json()["name"] == "Steam Wallet ¥100"
    assert len(_page_keys(app, f"/p/{wallet}")) == 1


def test_the_product_list_is_kept_per_filter_and_page_but_not_per_junk(
    app, shop, wallet, browser_for
):
    browser = browser_for(shop.host)
    first = warm(browser, "/api/v1/products").get_json()

    same = [
        "/api/v1/products?page=1",
        "/api/v1/products?per_page=20&page=01",
        "/api/v1/products?tracking=abc",
        "/api/v1/products?q=%20%20",
        "/api/v1/products?status=draft",  # the public list ignores it
    ]
    for path in same:
        answer = browser.get(path, headers=EN)
        assert answer.headers["X-Cache"] == "hit", path
        assert answer.get_json() == first
    second = browser.get("/api/v1/products?page=2", headers=EN)
    refused = browser.get("/api/v1/products?page=nope", headers=EN)
    twice = browser.get("/api/v1/products?page=1&page=2", headers=EN)

    assert second.get_json()["items"] == [] and second.headers["X-Cache"] == "miss"
    assert refused.status_code == 422 and "X-Cache" not in refused.headers
    assert "X-Cache" not in twice.headers
    queries = [k.rsplit("|", 2)[1] for k in _page_keys(app, "/api/v1/products")]
    assert queries == ["/api/v1/products?page=1&per_page=20", "/api/v1/products?page=2&per_page=20"]


def test_junk_languages_share_one_copy_stored_under_the_language_resolved(
    app, shop, wallet, browser_for
):
    browser = browser_for(shop.host)
    warm(browser, f"/p/{wallet}")  # English

    english = [f"en-GB,en;q=0.{i}" for i in range(1, 10)] + ["EN", "fr;q=0.9, en;q=0.8"]
    unknown = [f"x-junk-{i}" for i in range(10)] + ["fr", "*"]
    for value in english:
        answer = browser.get(f"/p/{wallet}", headers={"Accept-Language": value})
        assert answer.headers["X-Cache"] == "hit" and "In stock: 3" in text(answer), value
    for value in unknown:  # none of ours: the shop's own language, Chinese
        answer = browser.get(f"/p/{wallet}", headers={"Accept-Language": value})
        assert "库存：3" in text(answer), value
    chinese = browser.get(f"/p/{wallet}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})

    assert "库存：3" in text(chinese)
    assert [k.rsplit("|", 1)[1] for k in _page_keys(app, f"/p/{wallet}")] == ["-", "en", "zh_CN"]


def test_the_lang_cookie_decides_the_language_the_copy_is_stored_under(
    app, shop, wallet, browser_for
):
    browser = browser_for(shop.host)
    browser.get(f"/p/{wallet}?lang=en")  # the cookie is set
    for i in range(5):
        answer = browser.get(f"/p/{wallet}", headers={"Accept-Language": f"zh-CN;q=0.{i + 1}"})
        assert "In stock: 3" in text(answer)

    assert [k.rsplit("|", 1)[1] for k in _page_keys(app, f"/p/{wallet}")] == ["en"]


def test_another_port_in_the_host_header_is_not_kept(app, shop, wallet, browser_for):
    browser = browser_for(shop.host)
    warm(browser, f"/p/{wallet}")

    for port in (8001, 8002, 8003):  # the server listens on 80
        sent = {"HTTP_HOST": f"{shop.host}:{port}"}
        answer = browser.get(f"/p/{wallet}", headers=EN, environ_overrides=sent)
        assert "In stock: 3" in text(answer) and "X-Cache" not in answer.headers

    assert len(_page_keys(app, f"/p/{wallet}")) == 1


def test_a_shop_keeps_no_more_in_redis_than_its_budget(app, shop, wallet, browser_for, monkeypatch):
    import uuid

    from app.core.redisconn import get_redis
    from app.storefront import pagecache

    browser = browser_for(shop.host)
    warm(browser, "/api/v1/products")
    browser.get(f"/api/v1/products?category_id={uuid.uuid4()}", headers=EN)
    redis = get_redis(app)
    one = min(redis.strlen(k) for k in _page_keys(app, "/api/v1/products"))  # the empty list
    used = int(redis.get(f"kameng:pages:bytes:{shop.tenant_id}"))
    monkeypatch.setattr(pagecache, "SHOP_BYTES_PER_WINDOW", used + 3 * one)

    answers = [
        browser.get(f"/api/v1/products?category_id={uuid.uuid4()}", headers=EN) for _ in range(20)
    ]

    assert all(a.status_code == 200 and a.get_json()["items"] == [] for a in answers)
    assert len(_page_keys(app, "/api/v1/products")) == 2 + 3
