"""The template contract (themes/README.md): every page a view renders for a
shop exists in every theme (its own or inherited from ``default``) and
shows what the page is for, with real data, so a shop that switches theme
loses no page, link or form."""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path

import pytest

from app.agents.invites import invite_code_of
from app.core import themes
from tests.factories import PASSWORD, add_account, run_in_shop
from tests.storefront.support import (
    QQ,
    SOLD_OUT,
    STEAM,
    build_catalogue,
    english,
    paid_from_wallet,
    recharge,
    set_look,
    text,
    unpaid,
    use_theme,
)
from tests.supply.support import make_source, make_supplier

ROOT = Path(__file__).resolve().parents[2]
THEMES = themes.available_themes()


def test_there_are_three_themes_and_each_declares_real_settings():
    assert {"default", "classic", "grid"} <= set(THEMES)
    classic = {s.name: s for s in themes.theme_settings_spec("classic")}
    grid = {s.name: s for s in themes.theme_settings_spec("grid")}
    assert classic["show_stock"].type == "bool" and classic["rows_per_page"].type == "int"
    assert (grid["columns"].minimum, grid["columns"].maximum) == (2, 4)
    assert grid["show_images"].type == "bool" and grid["card_style"].type == "choice"


def test_every_page_a_view_renders_is_in_the_contract():
    """A new shop page must be added to ``themes.CONTRACT`` (and to the
    README and this test's walk through the pages)."""
    rendered = set()
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "tenants").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "render_shop" and node.args and isinstance(node.args[0], ast.Constant):
                rendered.add(node.args[0].value)
            for keyword in node.keywords:
                if keyword.arg == "template" and isinstance(keyword.value, ast.Constant):
                    rendered.add(keyword.value.value)
    rendered |= {"404.html", "error.html", "base.html"}  # app.core.problems chooses these

    assert rendered == set(themes.CONTRACT)
    readme = (ROOT / "themes" / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in themes.CONTRACT)


def test_default_has_every_contract_page_so_every_theme_inherits_it():
    folder = ROOT / "themes" / "default" / "templates"
    assert [name for name in themes.CONTRACT if not (folder / name).is_file()] == []


@pytest.fixture
def world(app, make_shop, browser_for):
    """A shop with a catalogue, a buyer with a recharged wallet, a delivered
    and an unpaid order, a guest browser and the buyer's browser (English)."""
    shop = make_shop("contract", "Contract Cards")
    catalogue = build_catalogue(app, shop)
    buyer = add_account(app, shop, "buyer@contract.example.com")
    recharge(app, shop, buyer.id, 5_000)
    delivered = paid_from_wallet(app, shop, buyer, catalogue.steam)
    waiting = unpaid(app, shop, buyer, catalogue.steam)
    set_look(app, shop, announcement="Double points this weekend", brand_color="#1d4ed8")
    guest = english(browser_for(shop.host), shop)
    signed = english(browser_for(shop.host), shop)
    assert (
        signed.submit("/account/login", {"email": buyer.email, "password": PASSWORD}).status_code
        == 302
    )
    agent = add_account(app, shop, "agent@contract.example.com", "agent")
    agent_browser = english(browser_for(shop.host), shop)
    login = {"email": agent.email, "password": PASSWORD}
    assert agent_browser.submit("/account/login", login).status_code == 302
    supplier = add_account(app, shop, "supplier@contract.example.com", "supplier")
    supplier_id = make_supplier(
        app, shop, name="Codes", kind="account", account_id=str(supplier.id), status="active"
    )
    make_source(app, shop, catalogue.steam, supplier_id, cost=900)
    supplier_browser = english(browser_for(shop.host), shop)
    login = {"email": supplier.email, "password": PASSWORD}
    assert supplier_browser.submit("/account/login", login).status_code == 302
    return {
        "app": app,
        "shop": shop,
        "supplier": supplier_browser,
        "catalogue": catalogue,
        "delivered": delivered,
        "waiting": waiting,
        "guest": guest,
        "buyer": signed,
        "agent": agent_browser,
        "invite": run_in_shop(app, shop, invite_code_of, agent.id),
    }


def _pages(world) -> dict[str, tuple]:
    """Each contract page: (who asks, path, status, what the page must show)."""
    c = world["catalogue"]
    return {
        "home.html": ("guest", "/", 200, [STEAM, "¥12.50", QQ, SOLD_OUT, "游戏点卡", "Steam"]),
        "category.html": ("guest", f"/c/{c.games}", 200, ["游戏点卡", STEAM, SOLD_OUT]),
        "search.html": ("guest", "/search?q=steam", 200, [STEAM, "¥12.50"]),
        "product.html": (
            "guest",
            f"/p/{c.qq}",
            200,
            [QQ, "¥10.00", 'name="quantity"', 'name="input-qq"', "QQ number", "Buy now"],
        ),
        "product_buy.html": (
            "guest",
            f"/buy/{c.steam}?quantity=2",
            200,
            [STEAM, 'name="email"', 'name="csrf_token"', "Continue to payment"],
        ),
        "pay.html": (
            "buyer",
            f"/o/{world['waiting']}/pay",
            200,
            ["Pay for your order", "Pay from my balance", "Your balance: ¥37.50"],
        ),
        "order.html": ("buyer", f"/o/{world['delivered']}", 200, ["Delivered", "STEAM-"]),
        "lookup.html": ("guest", "/lookup", 200, ["Find my order", 'name="number"']),
        "account/login.html": ("guest", "/account/login", 200, ['name="password"']),
        "account/signup.html": ("guest", "/account/signup", 200, ['name="confirm"']),
        "account/forgot.html": ("guest", "/account/forgot", 200, ['name="email"']),
        "account/reset.html": ("guest", "/account/reset/not-a-link", 400, ["account/forgot"]),
        "account/index.html": ("buyer", "/account/", 200, ["buyer@contract.example.com", "¥37.50"]),
        "account/orders.html": ("buyer", "/account/orders", 200, [world["delivered"], STEAM]),
        "account/wallet.html": (
            "buyer",
            "/account/wallet",
            200,
            ["¥37.50", "Recharge", "Order payment"],
        ),
        "account/recharge.html": (
            "buyer",
            "/account/recharge",
            200,
            ['name="amount"', "Pay (sandbox)"],
        ),
        "account/agent.html": ("agent", "/account/agent", 200, ["Agent centre", "/join/"]),
        "account/agent_prices.html": (
            "agent",
            "/account/agent/prices",
            200,
            [STEAM, "¥12.50", "Your price"],
        ),
        "account/agent_downline.html": ("agent", "/account/agent/downline", 200, ["Downline"]),
        "account/agent_commissions.html": (
            "agent",
            "/account/agent/commissions",
            200,
            ["Pending", 'name="status"'],
        ),
        "account/agent_sub_shop.html": (
            "agent",
            "/account/agent/sub-shop",
            200,
            ['name="code"', 'name="markup-*"', "游戏点卡"],
        ),
        "account/agent_keys.html": ("agent", "/account/agent/api-keys", 200, ['name="name"']),
        "join.html": ("guest", f"/join/{world['invite']}", 200, ['name="confirm"']),
        "account/withdrawals.html": (
            "buyer",
            "/account/withdrawals",
            200,
            ["Withdrawals are for agents", "Smallest withdrawal", "¥37.50"],
        ),
        "account/supply.html": (
            "supplier",
            "/account/supply",
            200,
            [STEAM, "¥9.00", 'name="codes"', 'name="file"', "Owed to you for codes sold"],
        ),
        "404.html": ("guest", f"/p/{uuid.uuid4()}", 404, ["Page not found"]),
        "error.html": ("guest", f"/p/{c.steam}", 405, ["405"]),  # a product page posted to
    }


@pytest.mark.parametrize("theme", THEMES)
def test_every_contract_page_renders_in_every_theme_with_real_data(world, theme):
    use_theme(world["app"], world["shop"], theme)
    pages = _pages(world)
    assert set(pages) | {"base.html", "suspended.html"} == set(themes.CONTRACT)

    for name, (who, path, status, shown) in pages.items():
        browser = world[who]
        if name == "error.html":
            response = browser.post(path)
        else:
            response = browser.get(path)
        assert response.status_code == status, (name, response.status_code)
        page = text(response)
        missing = [item for item in shown if item not in page]
        assert missing == [], (theme, name, missing)
        # Every theme's header links the order look-up (查单); the new themes
        # also show their own stylesheet and favicon, the brand colour and
        # the announcement (default's look comes with the shop settings page).
        assert 'href="/lookup"' in page, name
        if theme != "default":
            assert f"/theme/{theme}/{theme}.css" in page, name
            assert f'href="/theme/{theme}/favicon.svg"' in page, name
            assert "--accent: #1d4ed8" in page, name
            assert "Double points this weekend" in page, name


@pytest.mark.parametrize("theme", THEMES)
def test_a_suspended_shop_shows_its_page_in_every_theme(app, make_shop, browser_for, theme):
    shop = make_shop("paused", "Paused Cards")
    use_theme(app, shop, theme)
    with app.app_context():
        from tenants.provisioning import suspend_shop

        suspend_shop("paused", "unpaid invoice")

    response = english(browser_for(shop.host), shop).get("/")

    assert response.status_code == 403
    assert "This shop is suspended" in text(response)
    assert 'href="/lookup"' not in text(response)  # nothing to look up while it is closed


@pytest.mark.parametrize(
    "theme, settings, with_picture, without",
    [
        ("default", {}, ["/", "/p/", "/c/"], []),
        ("grid", {}, ["/", "/p/", "/c/"], []),
        ("grid", {"show_images": False}, [], ["/", "/p/", "/c/"]),
        ("classic", {}, ["/p/"], ["/", "/c/"]),  # rows are text, dense
    ],
)
def test_product_pictures_show_where_the_theme_and_its_settings_say(
    app, make_shop, browser_for, make_api_key, theme, settings, with_picture, without
):
    from tests.catalog.support import PNG_1X1, Api

    shop = make_shop("pictures", "Pictures")
    catalogue = build_catalogue(app, shop)
    image = Api(browser_for(shop.host), make_api_key(shop)).upload(catalogue.steam, PNG_1X1)
    image = image.get_json()
    browser = english(browser_for(shop.host), shop)
    use_theme(app, shop, theme, **settings)
    paths = {"/": "/", "/p/": f"/p/{catalogue.steam}", "/c/": f"/c/{catalogue.steam_category}"}

    for page in with_picture:
        assert f"/media/{image['id']}" in text(browser.get(paths[page])), (theme, page)
    for page in without:
        assert f"/media/{image['id']}" not in text(browser.get(paths[page])), (theme, page)


def test_no_theme_template_uses_a_style_attribute():
    """The Content-Security-Policy refuses style attributes: values from
    settings go into a nonce'd <style> block as custom properties."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "themes").glob("*/templates/**/*.html")
        if re.search(r"\sstyle=", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_logo_and_banner_come_from_the_settings_route_once_it_is_there():
    from dataclasses import replace

    from flask import Blueprint, Flask, g

    from tenants.resolve import ShopSnapshot

    site = Flask("look")
    shop = ShopSnapshot(
        uuid.uuid4(), "a", "A", "active", "classic", "zh_CN", "CNY", logo_file="ab12.png"
    )
    with site.test_request_context():
        g.shop = shop
        assert themes.shop_image_url("logo") is None  # nothing serves it: the name shows
    brand = Blueprint("shop_brand", __name__)
    brand.add_url_rule("/brand/<name>", "brand_file", lambda name: name)
    site.register_blueprint(brand)
    with site.test_request_context():
        g.shop = shop
        assert themes.shop_image_url("logo") == "/brand/ab12.png"
        assert themes.shop_image_url("banner") is None
        g.shop = replace(shop, status="suspended")
        assert themes.shop_image_url("logo") is None


def test_the_brand_colour_becomes_a_readable_palette():
    dark = themes.brand_palette("#1D4ED8")
    light = themes.brand_palette("#ffee00")

    assert dark == {"accent": "#1d4ed8", "accent_dark": "#173eac", "on_accent": "#ffffff"}
    assert light["on_accent"] == "#000000"
    # white reads at 3.7:1 on the default orange, black at 5.7:1 (WCAG AA asks 4.5)
    assert themes.brand_palette(None)["on_accent"] == "#000000"
    assert themes.brand_palette("red; } body { display: none")["accent"] == "#e4572e"
    assert themes.brand_palette(None)["accent"] == "#e4572e"
