"""Browsing a shop: search over product names and category pages, paged
in the database at the theme's page size; the themes' settings change
what the pages show; anonymous pages are kept by the page cache and a
change shows on the next visit; another shop's ids are not found."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.extensions import db
from tests.factories import run_in_shop
from tests.storefront.support import (
    QQ,
    SOLD_OUT,
    STEAM,
    build_catalogue,
    english,
    text,
    use_theme,
)


def add_products(app, shop, count: int, *, name: str = "VIP 月卡", category=None, start: int = 0):
    """``count`` products on sale named ``<name> <n>`` (top-ups: no stock
    to import), in ``category``."""
    from app.catalog import services

    def make():
        for n in range(start, start + count):
            services.create_product(
                {
                    "name": f"{name} {n:03d}",
                    "price": 100 + n,
                    "kind": "manual",
                    "status": "on_sale",
                    "sort": n,
                    "category_id": str(category) if category else None,
                }
            )

    run_in_shop(app, shop, make)


@pytest.fixture
def catalogue(app, shop):
    return build_catalogue(app, shop)


@pytest.fixture
def guest(shop, browser_for):
    return english(browser_for(shop.host), shop)


# --- search -----------------------------------------------------------------------


def test_search_finds_products_on_sale_by_part_of_the_name_in_any_case(app, shop, catalogue, guest):
    from app.catalog import services

    run_in_shop(
        app, shop, services.create_product, {"name": "Steam draft", "price": 1, "status": "draft"}
    )

    page = text(guest.get("/search?q=sTeAm"))
    chinese = text(guest.get("/search?q=直充"))

    assert STEAM in page and "¥12.50" in page
    assert "Steam draft" not in page and QQ not in page
    assert "Results for “sTeAm”" in page and 'value="sTeAm"' in page
    assert QQ in chinese and STEAM not in chinese


def test_a_search_that_finds_nothing_says_so_and_a_blank_one_asks_for_words(shop, catalogue, guest):
    assert "No product on sale matches “xbox”." in text(guest.get("/search?q=xbox"))
    assert "Type part of a product name" in text(guest.get("/search?q=+++"))
    assert STEAM not in text(guest.get("/search"))


def test_a_search_treats_percent_and_underscore_as_letters(app, shop, catalogue, guest):
    add_products(app, shop, 1, name="100% 充值")

    assert "100% 充值" in text(guest.get("/search?q=100%25"))
    assert "No product on sale matches" in text(guest.get("/search?q=_"))


def test_a_search_too_long_is_refused_readably(shop, catalogue, guest):
    response = guest.get("/search?q=" + "a" * 101)

    assert response.status_code == 200
    assert "Search for at most 100 characters." in text(response)


def test_search_results_are_paged_at_the_themes_page_size(app, shop, guest):
    add_products(app, shop, 30)

    first = text(guest.get("/search?q=VIP"))  # default theme: 24 a page
    second = text(guest.get("/search?q=VIP&page=2"))
    beyond = text(guest.get("/search?q=VIP&page=9"))

    assert "VIP 月卡 000" in first and "VIP 月卡 023" in first and "VIP 月卡 024" not in first
    assert "1–24 of 30" in first
    assert 'href="/search?page=2&amp;q=VIP"' in first
    assert "VIP 月卡 024" in second and "VIP 月卡 029" in second and "VIP 月卡 000" not in second
    assert "There is nothing on this page." in beyond
    assert "1–24 of 30" in text(guest.get("/search?q=VIP&page=nonsense"))  # read as page 1


# --- categories -----------------------------------------------------------------------


def test_a_top_category_shows_its_childrens_products_and_links_to_them(shop, catalogue, guest):
    page = text(guest.get(f"/c/{catalogue.games}"))

    assert STEAM in page and SOLD_OUT in page and QQ not in page
    assert f'href="/c/{catalogue.steam_category}"' in page


def test_a_child_category_leads_back_to_its_parent(shop, catalogue, guest):
    page = text(guest.get(f"/c/{catalogue.steam_category}"))

    assert STEAM in page and SOLD_OUT not in page
    assert f'<a href="/c/{catalogue.games}">游戏点卡</a>' in page


def test_an_unknown_or_malformed_category_is_not_found(shop, catalogue, guest):
    assert guest.get("/c/not-an-id").status_code == 404
    assert guest.get("/c/0190d6f4-0000-7000-8000-000000000000").status_code == 404


def test_another_shops_category_is_not_found_here(app, shops, browser_for, make_product):
    other = build_catalogue(app, shops["bravo"])
    guest = english(browser_for(shops["alpha"].host), shops["alpha"])

    assert guest.get(f"/c/{other.games}").status_code == 404
    assert STEAM not in text(guest.get("/search?q=Steam"))
    assert guest.get(f"/p/{other.steam}").status_code == 404


def test_the_home_page_links_every_category_and_offers_search(shop, catalogue, guest):
    page = text(guest.get("/"))

    assert f'href="/c/{catalogue.games}"' in page and f'href="/c/{catalogue.phone}"' in page
    assert 'action="/search"' in page and 'name="q"' in page


# --- the themes' settings -------------------------------------------------------------


def test_classic_pages_a_category_by_its_rows_per_page(app, shop, guest):
    from app.catalog import categories

    cards = run_in_shop(app, shop, lambda: categories.create_category({"name": "月卡"}).id)
    add_products(app, shop, 12, category=cards)
    use_theme(app, shop, "classic", rows_per_page=10)

    first = text(guest.get(f"/c/{cards}"))
    second = text(guest.get(f"/c/{cards}?page=2"))

    assert first.count('<tr class="row') == 10 and "1–10 of 12" in first
    assert f'rel="next" href="/c/{cards}?page=2"' in first
    assert second.count('<tr class="row') == 2 and "VIP 月卡 011" in second
    assert f'rel="prev" href="/c/{cards}?page=1"' in second


def test_classic_shows_the_stock_column_and_counts_unless_told_not_to(app, shop, catalogue, guest):
    use_theme(app, shop, "classic")
    shown = text(guest.get("/"))
    use_theme(app, shop, "classic", show_stock=False, show_category_counts=False)
    hidden = text(guest.get("/"))

    assert "In stock: 5" in shown and '<span class="count">' in shown
    assert "In stock: 5" not in hidden and '<span class="count">' not in hidden
    assert "Sold out" in hidden  # a sold-out row still says so on its button


def test_grid_honours_columns_images_and_card_style(app, shop, catalogue, guest):
    use_theme(app, shop, "grid")
    default = text(guest.get("/"))
    use_theme(app, shop, "grid", columns=4, card_style="outlined", show_images=False)
    chosen = text(guest.get("/"))

    assert "--columns: 3;" in default and 'class="shop theme-grid cards-raised"' in default
    assert 'class="tile-picture tile-letter"' in default  # no picture: the name's first letter
    assert "--columns: 4;" in chosen and "cards-outlined" in chosen
    assert "tile-picture" not in chosen


def test_a_setting_no_longer_valid_reads_as_the_default(app, shop, catalogue, guest):
    use_theme(app, shop, "grid", columns=9, card_style="<script>")

    page = text(guest.get("/"))

    assert "--columns: 3;" in page and "cards-raised" in page and "<script>" not in page


def test_a_shop_whose_theme_is_gone_shows_the_default_theme(app, shop, catalogue, guest):
    use_theme(app, shop, "no-such-theme")

    page = text(guest.get("/"))
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)[1]

    assert STEAM in page and 'class="hero"' in page  # default's home page
    assert guest.get(stylesheet).status_code == 200  # default's stylesheet stands in


# --- the page cache ----------------------------------------------------------------------


def _warm(browser, path: str):
    answers = [browser.get(path, headers={"Accept-Language": "en"})]
    while answers[-1].headers.get("X-Cache") != "hit":
        assert len(answers) < 3, [a.headers.get("X-Cache") for a in answers]
        answers.append(browser.get(path, headers={"Accept-Language": "en"}))
    return answers[-1]


@pytest.mark.critical
def test_category_and_search_pages_are_kept_per_page_and_query_and_changes_show_at_once(
    app, shop, catalogue, browser_for
):
    from app.catalog import services

    browser = browser_for(shop.host)  # no cookie: an anonymous visitor
    category = _warm(browser, f"/c/{catalogue.games}")
    search = _warm(browser, "/search?q=Steam")
    other = browser.get("/search?q=QQ", headers={"Accept-Language": "en"})

    assert STEAM in text(category) and STEAM in text(search)
    assert other.headers.get("X-Cache") != "hit" and QQ in text(other)

    run_in_shop(app, shop, services.update_product, catalogue.steam, {"price": 2000})

    assert "¥20.00" in text(browser.get(f"/c/{catalogue.games}"))
    assert "¥20.00" in text(browser.get("/search?q=Steam"))


# --- statements per page --------------------------------------------------------------------


@contextmanager
def counting(app):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


#: Statements a transaction's bounds add (SQLite's ``BEGIN IMMEDIATE``);
#: PostgreSQL's driver begins without one.
BOUNDS = ("BEGIN", "COMMIT", "ROLLBACK")


def selects_only(seen: list[str]) -> list[str]:
    """The SELECTs among ``seen``; fails on any other statement but a
    transaction's bounds (a read page writes nothing)."""
    words = [s.lstrip().split(None, 1)[0].upper() for s in seen]
    assert all(w in ("SELECT", "WITH", *BOUNDS) for w in words), seen
    return [s for s, w in zip(seen, words, strict=True) if w not in BOUNDS]


@pytest.mark.parametrize("theme", ["default", "classic", "grid"])
def test_list_pages_take_two_selects_for_few_or_many_products(
    app, shop, browser_for, theme, monkeypatch
):
    """Uncached, each list page runs at most two SELECTs whatever the shop
    holds: the category tree with its counts, and the page of products with
    their stock, images, total and price rules (the API's list: that one)."""
    from app.catalog import categories

    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)  # count the app's own work
    use_theme(app, shop, theme)
    cards = run_in_shop(app, shop, lambda: categories.create_category({"name": "月卡"}).id)
    guest = english(browser_for(shop.host), shop)
    paths = (
        "/",
        f"/c/{cards}",
        f"/c/{cards}?page=2",  # past the last page with few products
        "/search?q=VIP",
        "/search?q=VIP&page=2",
        "/api/v1/products",
        f"/api/v1/products?category_id={cards}&q=VIP&page=2&per_page=2",
        "/api/v1/products?page=90",
    )

    def statements() -> dict[str, int]:
        found = {}
        for path in paths:
            guest.get(path)  # warm the host cache
            with counting(app) as seen:
                assert guest.get(path).status_code == 200
            found[path] = len(selects_only(seen))
        return found

    add_products(app, shop, 3, category=cards)
    few = statements()
    add_products(app, shop, 60, category=cards, start=3)  # two pages in every theme
    many = statements()

    assert many == few
    assert max(many.values()) <= 2, many
    assert many["/api/v1/products"] == many["/api/v1/products?page=90"] == 1, many
    past = guest.get("/api/v1/products?page=90").get_json()
    assert past["items"] == [] and past["total"] == 63  # the total, even past the last page


def test_list_pages_show_rule_prices_and_totals_read_in_their_one_statement(
    app, shop, browser_for, monkeypatch
):
    """The rules read inside the page's statement price the page as a
    product page does: a product's rule, a category's, a sale for the
    whole shop; the total counts every match, not the page's."""
    from datetime import UTC, datetime, timedelta

    from app.catalog import categories, services
    from tests.pricing.support import add_rule

    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)
    cards = run_in_shop(app, shop, lambda: categories.create_category({"name": "月卡"}).id)
    add_products(app, shop, 30, category=cards)  # 100 … 129 fen
    add_products(app, shop, 2, name="Loose")  # no category: 100, 101
    ids = run_in_shop(
        app, shop, lambda: {v.name: v.id for v in services.list_products(per_page=100)[0]}
    )
    now = datetime.now(UTC)
    add_rule(app, shop, product_id=ids["VIP 月卡 000"], price=55)
    add_rule(app, shop, category_id=cards, percent_off=10)
    hour = timedelta(hours=1)
    add_rule(app, shop, percent_off=50, starts_at=now - hour, ends_at=now + hour)
    guest = english(browser_for(shop.host), shop)

    listed = guest.get(f"/api/v1/products?category_id={cards}&per_page=2").get_json()
    loose = guest.get("/api/v1/products?q=Loose").get_json()
    page = text(guest.get(f"/c/{cards}"))
    searched = text(guest.get("/search?q=VIP+月卡+001"))
    shown = {item["name"]: item["price"] for item in listed["items"] + loose["items"]}

    assert listed["total"] == 30 and len(listed["items"]) == 2
    assert shown["VIP 月卡 000"] < 55 and shown["Loose 000"] == 50  # the sale on top
    assert shown["VIP 月卡 001"] < shown["Loose 001"] < 101  # the category's too
    for name in ("VIP 月卡 000", "VIP 月卡 001", "Loose 000", "Loose 001"):
        single = guest.get(f"/api/v1/products/{ids[name]}").get_json()
        assert single["price"] == shown[name], name  # as the product's own read prices it
    assert f"¥{shown['VIP 月卡 000'] / 100:.2f}" in page and "1–24 of 30" in page
    assert f"¥{shown['VIP 月卡 001'] / 100:.2f}" in searched


@pytest.mark.parametrize("theme", ["default", "classic", "grid"])
def test_the_product_page_reads_the_product_and_its_prices_in_one_select(
    app, shop, browser_for, theme, monkeypatch, make_product
):
    """Uncached, a product page runs one SELECT: the product with its stock,
    its sources' stock, its images and the price rules that may touch it."""
    from app.catalog import images

    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)
    use_theme(app, shop, theme)
    product = make_product(shop, name="Steam 100", stock=["S-1", "S-2"])
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
        b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
        b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    import io

    for _ in range(2):
        run_in_shop(app, shop, lambda: images.add_image(product, io.BytesIO(png)))
    guest = english(browser_for(shop.host), shop)
    path = f"/p/{product}"
    guest.get(path)  # warm the host cache
    with counting(app) as seen:
        page = guest.get(path)
    assert page.status_code == 200 and "Steam 100" in page.get_data(as_text=True)
    assert len(selects_only(seen)) == 1, seen
    from app.catalog import browse

    shown = run_in_shop(app, shop, lambda: [i.id for i in browse.product_page(product).images])
    assert len(shown) == 2  # both images, read in that one product query


def test_the_page_numbers_a_pager_links(app):
    from app.core.pagination import Pager, requested_page

    assert Pager(1, 10, 0).pages == 1 and Pager(1, 10, 0).first_row == 0
    assert Pager(3, 10, 95).window() == [1, 2, 3, 4, 5, None, 10]
    assert Pager(10, 10, 95).window() == [1, None, 8, 9, 10]
    assert (Pager(10, 10, 95).first_row, Pager(10, 10, 95).last_row) == (91, 95)
    assert Pager(10, 10, 95).next is None and Pager(1, 10, 95).previous is None
    assert [requested_page(v) for v in ("2", "0", "-3", "x", None, "9" * 30)] == [
        2,
        1,
        1,
        1,
        1,
        1_000_000,
    ]


def test_a_category_tree_counts_products_on_sale_and_leaves_out_empty_ones(app, shop, catalogue):
    from app.catalog import browse, categories

    run_in_shop(app, shop, categories.create_category, {"name": "Empty"})

    tree = run_in_shop(
        app,
        shop,
        lambda: [
            (n.name, n.count, [(c.name, c.count) for c in n.children])
            for n in browse.category_tree()
        ],
    )

    assert tree == [("游戏点卡", 2, [("Steam", 1)]), ("话费充值", 1, [])]


def test_pages_link_the_search_with_the_query_in_one_spelling(shop, catalogue, guest):
    page = guest.get("/search?q=Steam").get_data(as_text=True)
    assert re.search(r'<input type="search" name="q" value="Steam"', page)


@pytest.mark.critical
def test_statements_built_once_are_bound_to_each_shop_in_turn(app, shops, browser_for, monkeypatch):
    """The list and product statements are built once per process and kept
    guarded per shop (``tenants.guard.built_once``): asked of one shop, then
    the other, then the first again, each answer holds that shop's products
    only, and another shop's product is not found."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)
    alpha, bravo = shops["alpha"], shops["bravo"]
    add_products(app, alpha, 2, name="Alpha card")
    add_products(app, bravo, 3, name="Bravo card")
    guests = {s.slug: english(browser_for(s.host), s) for s in (alpha, bravo)}

    def listed(slug: str) -> set[str]:
        return {i["name"] for i in guests[slug].get("/api/v1/products").get_json()["items"]}

    def ids(slug: str) -> list[str]:
        return [i["id"] for i in guests[slug].get("/api/v1/products").get_json()["items"]]

    for slug, other in (("alpha", "bravo"), ("bravo", "alpha"), ("alpha", "bravo")):
        names = listed(slug)
        assert names and all(n.lower().startswith(slug) for n in names), names
        assert guests[slug].get(f"/p/{ids(slug)[0]}").status_code == 200
        assert guests[slug].get(f"/p/{ids(other)[0]}").status_code == 404
        page = text(guests[slug].get("/search?q=card"))
        assert other.capitalize() + " card" not in page and slug.capitalize() + " card" in page
