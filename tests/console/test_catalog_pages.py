"""The console's catalogue pages (商品管理, 卡密管理): categories, products
with their pictures, and a card product's stock, as an operator uses them:
forms that save, errors shown beside what was typed, and each page closed
to strangers, to other shops and to staff where the owner alone may act."""

from __future__ import annotations

import html
import re
import time
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.catalog.support import GIF_1X1, PNG_1X1
from tests.factories import PASSWORD, add_product, card_statuses, codes, run_in_shop

# --- helpers -------------------------------------------------------------------


def text_of(response) -> str:
    """The page as a reader sees its text (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def signed_in(browser, email: str, lang: str = "en"):
    """``browser`` signed in to its shop's console as ``email``."""
    browser.client.set_cookie("lang", lang, domain=browser.host)
    response = browser.submit("/console/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, text_of(response)
    return browser


def product_row(app, shop, product_id):
    from app.catalog.models import Product

    def read():
        product = db.session.scalar(select(Product).where(Product.id == product_id))
        return (
            None
            if product is None
            else {c.name: getattr(product, c.name) for c in Product.__table__.columns}
        )

    return run_in_shop(app, shop, read)


def make_category(app, shop, name: str, parent_id=None) -> uuid.UUID:
    from app.catalog import categories

    return run_in_shop(
        app, shop, lambda: categories.create_category({"name": name, "parent_id": parent_id}).id
    )


def category_names(app, shop) -> list[tuple[str, str | None]]:
    """The shop's categories in display order: (name, parent's name)."""
    from app.catalog import categories

    def read():
        tree = categories.list_categories()
        names = {c.id: c.name for c in tree}
        return [(c.name, names.get(c.parent_id)) for c in tree]

    return run_in_shop(app, shop, read)


def card_ids(app, shop, product_id) -> list[uuid.UUID]:
    """The product's card ids, newest first (as the page lists them)."""
    from app.catalog import card_reads

    return run_in_shop(
        app, shop, lambda: [c["id"] for c in card_reads.list_cards(product_id, per_page=500)[0]]
    )


def _an_import_of(product_id) -> uuid.UUID:
    from app.catalog.models import CardImport

    return db.session.scalar(select(CardImport.id).where(CardImport.product_id == product_id))


def audit_actions(app, shop) -> list[str]:
    from app.audit.models import AuditEvent

    return run_in_shop(
        app,
        shop,
        lambda: list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))),
    )


def product_form(**fields) -> dict:
    """A product form as a browser sends it: every field, blanks included."""
    data = {
        "kind": "card",
        "name": "Game card ¥50",
        "category_id": "",
        "description": "",
        "price": "48.00",
        "cost": "",
        "min_quantity": "1",
        "max_quantity": "100",
        "delivery_note": "",
        "low_stock_threshold": "0",
        "status": "draft",
        "sort": "0",
    }
    data.update(fields)
    return data


# --- fixtures ------------------------------------------------------------------


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha")


@pytest.fixture
def bravo(make_shop):
    return make_shop("bravo")


@pytest.fixture
def owner(alpha, browser_for):
    """alpha's owner in alpha's console, in English."""
    return signed_in(browser_for(alpha.host), alpha.owner_email)


@pytest.fixture
def staff(alpha, browser_for, make_member):
    """A staff member of alpha in alpha's console, in English."""
    make_member(alpha, "staff@alpha.example.com", "staff")
    return signed_in(browser_for(alpha.host), "staff@alpha.example.com")


@pytest.fixture
def intruder(bravo, browser_for):
    """bravo's owner in bravo's own console, aiming at alpha's ids."""
    return signed_in(browser_for(bravo.host), bravo.owner_email)


# --- who may open the pages ----------------------------------------------------


def test_every_page_opens_for_the_owner_and_sends_a_stranger_to_sign_in(
    app, alpha, owner, browser_for
):
    product_id = add_product(app, alpha, name="Steam ¥100", stock=codes("ST", 2))
    stranger = browser_for(alpha.host)
    pages = [
        "/console/categories",
        "/console/products",
        "/console/products/new",
        f"/console/products/{product_id}",
        f"/console/products/{product_id}/cards",
    ]
    for page in pages:
        assert owner.get(page).status_code == 200, page
        away = stranger.get(page)
        assert away.status_code == 302, page
        assert away.location.startswith("/console/login"), page
    home = text_of(owner.get("/console/"))
    assert 'href="/console/products"' in home and 'href="/console/categories"' in home


def test_the_pages_speak_chinese_by_default(app, alpha, browser_for):
    product_id = add_product(app, alpha, name="王者荣耀点券", stock=codes("WZ", 2))
    make_category(app, alpha, "手游")
    console = signed_in(browser_for(alpha.host), alpha.owner_email, lang="zh_CN")

    for page in (
        "/console/categories",
        "/console/products",
        "/console/products/new",
        f"/console/products/{product_id}",
        f"/console/products/{product_id}/cards",
    ):
        answer = console.get(page)
        assert answer.status_code == 200, page
        assert '<html lang="zh-CN">' in answer.get_data(as_text=True), page
        assert "商品" in text_of(answer), page


def test_another_shops_owner_finds_none_of_alphas_catalogue(app, alpha, intruder):
    category_id = make_category(app, alpha, "Alpha games")
    product_id = add_product(app, alpha, name="Alpha card", stock=codes("AL", 2))
    card_id = card_ids(app, alpha, product_id)[0]
    before = product_row(app, alpha, product_id)

    import_id = run_in_shop(app, alpha, _an_import_of, product_id)
    for page in (
        f"/console/products/{product_id}",
        f"/console/products/{product_id}/cards",
        f"/console/products/{product_id}/cards/imports/{import_id}",
    ):
        assert intruder.get(page).status_code == 404, page
    token = intruder.csrf_token("/console/products")
    for action, data in (
        (f"/console/categories/{category_id}", {"name": "Mine now"}),
        (f"/console/categories/{category_id}/move", {"direction": "up"}),
        (f"/console/categories/{category_id}/delete", {}),
        (f"/console/products/{product_id}", product_form(name="Mine now")),
        (f"/console/products/{product_id}/delete", {}),
        (f"/console/products/{product_id}/images", {}),
        (f"/console/products/{product_id}/cards/import", {"codes": "NEW-1"}),
        (f"/console/products/{product_id}/cards/export", {}),
        (f"/console/products/{product_id}/cards/{card_id}/reveal", {}),
    ):
        assert intruder.post(action, data={"csrf_token": token, **data}).status_code == 404, action
    bulk = intruder.post(
        "/console/products/status",
        data={"csrf_token": token, "ids": str(product_id), "status": "off_sale"},
    )
    assert bulk.status_code == 302
    voided = intruder.post(
        f"/console/products/{product_id}/cards/void",
        data={"csrf_token": token, "ids": str(card_id)},
    )
    assert voided.status_code == 404

    assert "Alpha" not in text_of(intruder.get("/console/products"))
    assert "Alpha games" not in text_of(intruder.get("/console/categories"))
    assert product_row(app, alpha, product_id) == before
    assert category_names(app, alpha) == [("Alpha games", None)]
    assert card_statuses(app, alpha, product_id)["available"] == 2


# --- categories ------------------------------------------------------------------


def test_an_operator_adds_renames_moves_and_deletes_categories(app, alpha, owner):
    page = "/console/categories"
    added = owner.submit(page, {"name": "Game cards", "parent_id": ""})
    assert added.status_code == 302
    owner.submit(page, {"name": "Phone top-ups", "parent_id": ""})
    games = dict((n, i) for n, i in _ids(app, alpha))["Game cards"]
    owner.submit(page, {"name": "Steam", "parent_id": str(games)})
    assert category_names(app, alpha) == [
        ("Game cards", None),
        ("Steam", "Game cards"),
        ("Phone top-ups", None),
    ]
    shown = text_of(owner.get(page))
    assert "Category Steam added." in shown
    table = shown[shown.index('<table class="table categories">') :]
    assert table.index("Game cards") < table.index("Steam") < table.index("Phone top-ups")

    phone = dict(_ids(app, alpha))["Phone top-ups"]
    owner.submit(page, {"direction": "up"}, action=f"{page}/{phone}/move")
    assert [n for n, _p in category_names(app, alpha)] == ["Phone top-ups", "Game cards", "Steam"]

    steam = dict(_ids(app, alpha))["Steam"]
    owner.submit(page, {"name": "Steam Wallet", "parent_id": str(phone)}, action=f"{page}/{steam}")
    assert ("Steam Wallet", "Phone top-ups") in category_names(app, alpha)

    deleted = owner.submit(page, {}, action=f"{page}/{steam}/delete")
    assert deleted.status_code == 302
    assert "Category Steam Wallet deleted." in text_of(owner.get(page))
    assert [n for n, _p in category_names(app, alpha)] == ["Phone top-ups", "Game cards"]


def _ids(app, shop) -> list[tuple[str, uuid.UUID]]:
    from app.catalog import categories

    return run_in_shop(app, shop, lambda: [(c.name, c.id) for c in categories.list_categories()])


def test_a_category_holding_products_is_kept_and_the_page_says_why(app, alpha, owner):
    games = make_category(app, alpha, "Game cards")
    make_category(app, alpha, "Steam", games)
    shoes = make_category(app, alpha, "Gift cards")
    for name in ("Apple ¥100", "Apple ¥200"):
        product_id = add_product(app, alpha, name=name)
        run_in_shop(app, alpha, _set_category, product_id, shoes)

    said = []
    for category in (games, shoes):
        refused = owner.submit(
            "/console/categories", {}, action=f"/console/categories/{category}/delete"
        )
        assert refused.status_code == 302
        said.append(text_of(owner.get("/console/categories")))

    assert "Game cards was not deleted: This category has subcategories" in said[0]
    assert (
        "Gift cards was not deleted: This category holds 2 products: move them to another "
        "category first." in said[1]
    )
    assert len(category_names(app, alpha)) == 3


def _set_category(product_id, category_id):
    from app.catalog import services

    services.update_product(product_id, {"category_id": str(category_id)})


def test_a_bad_category_name_is_shown_with_what_was_typed(app, alpha, owner):
    games = make_category(app, alpha, "Game cards")
    long_name = "长" * 81

    empty = owner.submit("/console/categories", {"name": "  ", "parent_id": str(games)})
    too_long = owner.submit(
        "/console/categories", {"name": "Ok"}, action=f"/console/categories/{games}"
    )
    renamed = owner.submit(
        "/console/categories", {"name": long_name}, action=f"/console/categories/{games}"
    )

    assert empty.status_code == 422
    assert "Give the category a name." in text_of(empty)
    assert f'<option value="{games}" selected>' in empty.get_data(as_text=True)
    assert too_long.status_code == 302
    assert renamed.status_code == 422
    shown = text_of(renamed)
    assert "At most 80 characters." in shown and f'value="{long_name}"' in shown
    assert '<details class="edit" open>' in shown
    assert category_names(app, alpha) == [("Ok", None)]


def test_service_sentences_reach_pages_through_the_translation_catalogue(app):
    """Every English sentence of the catalogue services a page can show is
    looked up as a msgid (with its number or name as a placeholder), so the
    Chinese catalogue translates it; an unknown sentence is shown as it is."""
    from flask_babel import force_locale, gettext

    from app.catalog.messages import FIXED, page_errors, page_message

    with app.test_request_context("/"), force_locale("zh_CN"):
        cases = {
            "At most 80 characters.": gettext("At most %(n)s characters.", n="80"),
            "Must be at least 1.": gettext("Must be at least %(n)s.", n="1"),
            "Must be at most 100000.": gettext("Must be at most %(n)s.", n="100000"),
            "A whole number from 0 to 128.": gettext(
                "A whole number from %(low)s to %(high)s.", low="0", high="128"
            ),
            "longer than 255 characters": gettext("longer than %(n)s characters", n="255"),
            "3 fields; expected a code or number and password": gettext(
                "%(n)s fields; expected a code, or a number and a password", n="3"
            ),
            "The file is neither UTF-8 nor GB18030/GBK text (byte 7).": gettext(
                "The file is neither UTF-8 nor GB18030/GBK text (byte %(n)s).", n="7"
            ),
            "Not a valid regular expression: missing ). Back-references and lookaround such "
            "as (?=...) are not supported.": gettext(
                "Not a valid regular expression (%(reason)s). Back-references and lookaround "
                "such as (?=...) are not supported.",
                reason="missing )",
            ),
            "Something new.": "Something new.",
        }
        for english, expected in cases.items():
            assert page_message(english) == expected, english
        for english in FIXED:
            assert page_message(english) == gettext(english)
        assert page_errors({"input_fields": {"0": {"label": ["Give the label buyers see."]}}}) == {
            "input_fields": {"0": {"label": [gettext("Give the label buyers see.")]}}
        }


# --- products: the list -------------------------------------------------------------


def _many_products(app, shop, category_id) -> None:
    from app.catalog import services

    def make():
        for i in range(1, 56):
            services.create_product(
                {
                    "name": f"Steam card {i:02d}" if i <= 30 else f"Xbox card {i:02d}",
                    "price": 1000 + i,
                    "status": "on_sale" if i % 2 else "off_sale",
                    "category_id": str(category_id) if i > 50 else None,
                    "sort": i,
                }
            )

    run_in_shop(app, shop, make)


def _names_listed(page: str) -> list[str]:
    return re.findall(r'<a href="/console/products/[0-9a-f-]{36}">([^<]+)</a>', page)


def test_the_product_list_searches_filters_and_pages_in_the_database(app, alpha, owner):
    games = make_category(app, alpha, "Game cards")
    steam = make_category(app, alpha, "Steam", games)
    _many_products(app, alpha, steam)

    first = text_of(owner.get("/console/products"))
    second = text_of(owner.get("/console/products?page=2"))
    steam_on_sale = text_of(owner.get("/console/products?q=steam&status=on_sale"))
    in_games = text_of(owner.get(f"/console/products?category={games}"))

    assert "55 in all" in first and "Page 1 of 2" in first
    assert len(_names_listed(first)) == 50 and _names_listed(first)[0] == "Steam card 01"
    assert _names_listed(second) == [f"Xbox card {i}" for i in range(51, 56)]
    assert "¥10.01" in first
    assert _names_listed(steam_on_sale) == [f"Steam card {i:02d}" for i in range(1, 31, 2)]
    assert _names_listed(in_games) == [f"Xbox card {i}" for i in range(51, 56)]
    assert "No product matches" in text_of(owner.get("/console/products?q=nothing-like-it"))


def test_each_row_shows_price_stock_and_status(app, alpha, owner):
    add_product(app, alpha, name="Steam ¥100", price=9_850, stock=codes("ST", 3), threshold=5)
    add_product(app, alpha, name="Sold out card", stock=[])
    add_product(
        app,
        alpha,
        name="QQ top-up",
        kind="topup",
        status="draft",
        input_fields=[{"name": "qq", "label": "QQ"}],
    )

    rows = {
        name: row
        for row in re.findall(
            r"<tr>(.*?)</tr>", owner.get("/console/products").get_data(as_text=True), re.S
        )
        for name in _names_listed(row)
    }

    assert "¥98.50" in rows["Steam ¥100"] and 'class="status warn">3<' in rows["Steam ¥100"]
    assert "On sale" in rows["Steam ¥100"] and "Card codes" in rows["Steam ¥100"]
    assert "Sold out" in rows["Sold out card"]
    assert "Draft" in rows["QQ top-up"] and "Direct top-up" in rows["QQ top-up"]
    assert "Card codes</a>" not in rows["QQ top-up"]


def test_chosen_products_go_on_and_off_sale_at_once(app, alpha, owner):
    first = add_product(app, alpha, name="Card A", status="draft")
    second = add_product(app, alpha, name="Card B", status="off_sale")
    untouched = add_product(app, alpha, name="Card C", status="draft")
    bare_topup = add_product(app, alpha, name="Bare top-up", kind="topup", status="draft")
    back = "/console/products?q=Card"

    on = owner.submit(
        back,
        {"ids": [str(first), str(second), str(bare_topup)], "status": "on_sale", "back": back},
        action="/console/products/status",
    )
    said = text_of(owner.get(back))

    assert on.status_code == 302 and on.location == back
    assert "Put on sale: 2." in said
    assert "Not put on sale (a top-up needs at least one input field): Bare top-up" in said
    statuses = {
        p: product_row(app, alpha, p)["status"] for p in (first, second, untouched, bare_topup)
    }
    assert statuses == {
        first: "on_sale",
        second: "on_sale",
        untouched: "draft",
        bare_topup: "draft",
    }

    owner.submit(
        back, {"ids": [str(first)], "status": "off_sale"}, action="/console/products/status"
    )
    assert product_row(app, alpha, first)["status"] == "off_sale"
    assert product_row(app, alpha, second)["status"] == "on_sale"

    nothing = owner.submit(back, {"status": "on_sale"}, action="/console/products/status")
    assert nothing.status_code == 302
    assert "Choose at least one product." in text_of(owner.get("/console/products"))


# --- products: the form ---------------------------------------------------------------


def test_an_operator_creates_a_card_product_with_prices_typed_as_text(app, alpha, owner):
    games = make_category(app, alpha, "Game cards")

    made = owner.submit(
        "/console/products/new",
        product_form(
            name="  Steam ¥50 ",
            category_id=str(games),
            description="Redeem on Steam.",
            price="48.5",
            cost="４５．２０",  # a Chinese keyboard's full-width digits
            min_quantity="2",
            max_quantity="20",
            delivery_note="Codes never expire.",
            low_stock_threshold="10",
            status="on_sale",
            sort="-3",
        ),
    )

    assert made.status_code == 302
    product_id = uuid.UUID(made.location.rsplit("/", 1)[1])
    row = product_row(app, alpha, product_id)
    assert {k: row[k] for k in ("name", "price", "cost", "kind", "status", "category_id")} == {
        "name": "Steam ¥50",
        "price": 4850,
        "cost": 4520,
        "kind": "card",
        "status": "on_sale",
        "category_id": games,
    }
    assert (row["min_quantity"], row["max_quantity"], row["low_stock_threshold"], row["sort"]) == (
        2,
        20,
        10,
        -3,
    )
    assert (row["description"], row["delivery_note"]) == ("Redeem on Steam.", "Codes never expire.")
    page = text_of(owner.get(made.location))
    assert "Product Steam ¥50 created." in page
    assert 'value="48.50"' in page and 'value="45.20"' in page


def test_bad_input_is_explained_and_nothing_typed_is_lost(app, alpha, owner):
    answer = owner.submit(
        "/console/products/new",
        product_form(
            name="",
            description="A long description I typed with care.",
            price="12.505",
            cost="-1",
            min_quantity="five",
            max_quantity="0",
        ),
    )
    page = text_of(answer)

    assert answer.status_code == 422
    assert "Not saved" in page
    assert page.count("Write an amount like 12.50.") == 2
    assert "Write a whole number, like 10." in page
    assert "Give the product a name." in page  # judged by the service at the same time
    assert "A long description I typed with care." in page
    assert 'value="12.505"' in page and 'value="five"' in page
    assert run_in_shop(app, alpha, _product_count) == 0

    # the service's own rules speak on the same form
    again = owner.submit(
        "/console/products/new", product_form(name="", min_quantity="5", max_quantity="2")
    )
    assert again.status_code == 422
    shown = text_of(again)
    assert "Give the product a name." in shown and "Must be at least min_quantity." in shown
    assert 'value="5"' in shown and 'value="2"' in shown


def _product_count() -> int:
    from sqlalchemy import func

    from app.catalog.models import Product

    return db.session.scalar(select(func.count()).select_from(Product))


def _rows(prefix: str, *rows: dict) -> dict:
    data = {}
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"input_fields-{index}-{key}"] = value
    return data


def test_a_top_up_asks_for_inputs_whose_patterns_are_checked(app, alpha, owner):
    needs_input = owner.submit(
        "/console/products/new", product_form(name="QQ coins", kind="topup", status="on_sale")
    )
    assert needs_input.status_code == 422
    assert "A top-up on sale needs at least one input (the account)." in text_of(needs_input)

    bad_pattern = owner.submit(
        "/console/products/new",
        {
            **product_form(name="QQ coins", kind="topup", status="on_sale"),
            **_rows(
                "input_fields",
                {"name": "qq", "label": "QQ number", "pattern": "(?=1)[0-9]+", "required": "y"},
                {"name": "", "label": "", "pattern": ""},
                {"name": "Zone", "label": "", "pattern": "", "min_length": "x"},
            ),
        },
    )
    shown = text_of(bad_pattern)
    assert bad_pattern.status_code == 422
    assert "Write a whole number, like 10." in shown
    assert 'value="(?=1)[0-9]+"' in shown and 'value="Zone"' in shown

    fixed_lengths = owner.submit(
        "/console/products/new",
        {
            **product_form(name="QQ coins", kind="topup", status="on_sale"),
            **_rows(
                "input_fields",
                {"name": "qq", "label": "QQ number", "pattern": "(?=1)[0-9]+", "required": "y"},
                {"name": "Zone", "label": "", "min_length": "1"},
            ),
        },
    )
    shown = text_of(fixed_lengths)
    assert fixed_lengths.status_code == 422
    assert "Back-references and lookaround such as (?=...) are not supported." in shown
    assert "Lower-case letters, digits and _, starting with a letter (max 32)." in shown
    assert "Give the label buyers see." in shown

    made = owner.submit(
        "/console/products/new",
        {
            **product_form(name="QQ coins", kind="topup", status="on_sale", price="10"),
            **_rows(
                "input_fields",
                {
                    "name": "qq",
                    "label": "QQ number",
                    "pattern": "[1-9][0-9]{4,11}",
                    "required": "y",
                },
                {"name": "note", "label": "Note", "max_length": "40"},
            ),
        },
    )
    assert made.status_code == 302
    row = product_row(app, alpha, uuid.UUID(made.location.rsplit("/", 1)[1]))
    assert row["kind"] == "topup" and row["price"] == 1000
    assert row["input_fields"] == [
        {
            "name": "qq",
            "label": "QQ number",
            "required": True,
            "pattern": "[1-9][0-9]{4,11}",
            "min_length": 0,
            "max_length": 128,
        },
        {
            "name": "note",
            "label": "Note",
            "required": False,
            "pattern": None,
            "min_length": 0,
            "max_length": 40,
        },
    ]
    page = text_of(owner.get(made.location))
    assert 'value="[1-9][0-9]{4,11}"' in page and 'value="Note"' in page


def test_an_operator_edits_a_product_and_its_kind_stays_while_it_holds_codes(app, alpha, owner):
    product_id = add_product(app, alpha, name="Steam ¥100", price=9_800, stock=codes("ST", 1))
    page = f"/console/products/{product_id}"
    shown = text_of(owner.get(page))
    assert 'value="98.00"' in shown and 'value="Steam ¥100"' in shown

    saved = owner.submit(
        page, product_form(name="Steam ¥100 (global)", price="97", status="on_sale")
    )
    assert saved.status_code == 302
    assert "Product Steam ¥100 (global) saved." in text_of(owner.get(page))
    assert product_row(app, alpha, product_id)["price"] == 9_700

    kind = owner.submit(page, product_form(name="Changed", kind="manual", price="97"))
    assert kind.status_code == 409
    shown = text_of(kind)
    assert "This product holds card stock, so its kind cannot change." in shown
    assert 'value="Changed"' in shown
    assert product_row(app, alpha, product_id)["name"] == "Steam ¥100 (global)"


def test_a_product_is_deleted_only_while_it_never_held_codes(app, alpha, owner):
    empty = add_product(app, alpha, name="Never stocked")
    stocked = add_product(app, alpha, name="Stocked", stock=codes("ST", 1))

    gone = owner.submit(
        f"/console/products/{empty}", {}, action=f"/console/products/{empty}/delete"
    )
    kept = owner.submit(
        f"/console/products/{stocked}", {}, action=f"/console/products/{stocked}/delete"
    )

    assert gone.status_code == 302 and gone.location == "/console/products"
    assert product_row(app, alpha, empty) is None
    assert kept.status_code == 302
    assert "set it off sale instead of deleting it" in text_of(owner.get(kept.location))
    assert product_row(app, alpha, stocked) is not None
    assert owner.get(f"/console/products/{empty}").status_code == 404


def test_pictures_are_uploaded_ordered_and_deleted(app, alpha, owner):
    from io import BytesIO

    from app.catalog import images

    product_id = add_product(app, alpha, name="Steam ¥100")
    page = f"/console/products/{product_id}"

    def upload(data: bytes, name: str):
        return owner.post(
            f"{page}/images",
            data={"csrf_token": owner.csrf_token(page), "file": (BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    assert upload(PNG_1X1, "a.png").status_code == 302
    assert upload(GIF_1X1, "b.gif").status_code == 302
    refused = upload(b"%PDF-1.4 not a picture", "c.png")
    assert "The file is not a PNG, JPEG, WebP or GIF picture." in text_of(
        owner.get(refused.location)
    )

    def order():
        found = images.images_of([product_id])[product_id]
        return [(i.content_type, i.id) for i in found]

    first, second = run_in_shop(app, alpha, order)
    assert [first[0], second[0]] == ["image/png", "image/gif"]
    shown = owner.get(page).get_data(as_text=True)
    assert f"/media/{first[1]}" in shown and f"/media/{second[1]}" in shown

    owner.submit(page, {"direction": "up"}, action=f"{page}/images/{second[1]}/move")
    assert [t for t, _i in run_in_shop(app, alpha, order)] == ["image/gif", "image/png"]

    owner.submit(page, {}, action=f"{page}/images/{second[1]}/delete")
    assert run_in_shop(app, alpha, order) == [first]
    assert browser_get_media(owner, second[1]) == 404


def browser_get_media(browser, image_id) -> int:
    return browser.get(f"/media/{image_id}").status_code


# --- card codes ----------------------------------------------------------------------


def _import(browser, product_id, *, codes_text: str = "", file: tuple | None = None):
    from io import BytesIO

    page = f"/console/products/{product_id}/cards"
    data = {"csrf_token": browser.csrf_token(page), "codes": codes_text}
    if file is not None:
        data["file"] = (BytesIO(file[0]), file[1])
    return browser.post(f"{page}/import", data=data, content_type="multipart/form-data")


def test_pasted_codes_are_imported_and_the_report_names_duplicate_lines(app, alpha, owner):
    product_id = add_product(app, alpha, name="Steam ¥100", stock=["OLD-1"])
    pasted = "NEW-1\nNEW-2----PIN2\n\nOLD-1\nNEW-1\n"

    done = _import(owner, product_id, codes_text=pasted)

    assert done.status_code == 302
    assert done.location.startswith(f"/console/products/{product_id}/cards?import=")
    report = text_of(owner.get(done.location))
    assert "New codes: 2." in report and "Duplicates skipped: 2." in report
    assert re.search(r"Duplicate lines</h3>\s*<p class=\"duplicate-lines\">4, 5</p>", report)
    assert card_statuses(app, alpha, product_id)["available"] == 3
    assert re.search(r'<span class="num">3</span><span>available</span>', report)


def test_an_upload_with_invalid_lines_imports_nothing_and_keeps_the_pasted_text(app, alpha, owner):
    product_id = add_product(app, alpha, name="Steam ¥100", stock=[])
    pasted = "GOOD-1\nA,B,C\nGOOD-2\n" + "x" * 300 + "\n"

    refused = _import(owner, product_id, codes_text=pasted)
    page = text_of(refused)

    assert refused.status_code == 422
    assert "Nothing was imported: fix the invalid lines and upload again." in page
    assert re.search(
        r"<td class=\"num-cell\">2</td><td>3 fields; expected a code, or a number", page
    )
    assert re.search(r"<td class=\"num-cell\">4</td><td>longer than 255 characters", page)
    assert "GOOD-1\nA,B,C\nGOOD-2" in page  # the textarea, as pasted
    assert card_statuses(app, alpha, product_id)["available"] == 0

    empty = _import(owner, product_id, codes_text="  \n ")
    assert empty.status_code == 422
    assert "There are no codes in the upload: paste some or choose a file." in text_of(empty)


def test_a_gbk_file_is_read_and_the_report_says_so(app, alpha, owner):
    product_id = add_product(app, alpha, name="点卡", stock=[])
    data = "卡号,密码\n点卡0001,密码一\n点卡0002,密码二\n".encode("gbk")

    done = _import(
        owner, product_id, codes_text="ignored when a file is chosen", file=(data, "点卡.csv")
    )

    report = text_of(owner.get(done.location))
    assert "New codes: 2." in report and "GBK / GB18030" in report
    assert card_statuses(app, alpha, product_id)["available"] == 2


def test_a_large_upload_runs_as_a_job_and_the_page_follows_its_progress(
    app, alpha, owner, worker, monkeypatch
):
    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 100)
    product_id = add_product(app, alpha, name="Steam ¥100", stock=[])
    lines = "\r\n".join(f"码{i:05d}" for i in range(1, 301)).encode("gbk")

    queued = _import(owner, product_id, file=(lines, "big.txt"))
    assert queued.status_code == 302
    import_id = re.search(r"import=([0-9a-f-]{36})", queued.location).group(1)
    progress_url = f"/console/products/{product_id}/cards/imports/{import_id}"

    deadline = time.monotonic() + 30
    state = owner.get(progress_url).get_json()
    while not state["finished"] and time.monotonic() < deadline:
        time.sleep(0.2)
        state = owner.get(progress_url).get_json()

    assert state == {"status": "done", "done": 300, "total": 300, "finished": True}
    report = text_of(owner.get(queued.location))
    assert "New codes: 300." in report and "GBK / GB18030" in report
    assert card_statuses(app, alpha, product_id)["available"] == 300


def test_a_queued_import_shows_a_progress_bar_that_polls(app, alpha, owner, monkeypatch):
    from app.core.queues import get_queue

    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 2)
    product_id = add_product(app, alpha, name="Steam ¥100", stock=[])
    other = add_product(app, alpha, name="Other", stock=[])

    queued = _import(owner, product_id, codes_text="Q-1\nQ-2\nQ-3\nQ-4\n")
    page = owner.get(queued.location).get_data(as_text=True)
    import_id = re.search(r"import=([0-9a-f-]{36})", queued.location).group(1)
    with app.app_context():
        get_queue("imports").empty()

    assert '<progress value="0" max="5">' in page
    assert f'data-poll="/console/products/{product_id}/cards/imports/{import_id}"' in page
    assert "catalog.js" in page
    state = owner.get(f"/console/products/{product_id}/cards/imports/{import_id}")
    assert state.get_json() == {"status": "queued", "done": 0, "total": 5, "finished": False}
    assert owner.get(f"/console/products/{other}/cards/imports/{import_id}").status_code == 404
    assert owner.get(f"/console/products/{other}/cards?import={import_id}").status_code == 404


def test_codes_are_masked_found_by_code_or_mark_and_voided(app, alpha, owner):
    stock = ["FIND-ME-1", "KEEP-2", "NUMBER-3----PASSWORD-3"]
    product_id = add_product(app, alpha, name="Steam ¥100", stock=stock)
    page = f"/console/products/{product_id}/cards"

    listed = owner.get(page).get_data(as_text=True)
    marks = re.findall(r'<small class="muted mark">#([0-9a-f]{8})</small>', listed)
    assert len(marks) == 3
    assert not any(code in listed for code in ("FIND-ME-1", "KEEP-2", "NUMBER-3", "PASSWORD-3"))

    by_code = owner.get(f"{page}?q=FIND-ME-1").get_data(as_text=True)
    by_pair = owner.get(f"{page}?q=NUMBER-3----PASSWORD-3").get_data(as_text=True)
    by_mark = owner.get(f"{page}?q={marks[1]}").get_data(as_text=True)
    assert by_code.count('class="muted mark"') == 1
    assert by_pair.count('class="muted mark"') == 1
    assert f"#{marks[1]}<" in by_mark and by_mark.count('class="muted mark"') == 1
    assert "No code of this product matches." in text_of(owner.get(f"{page}?q=NOPE"))

    found = re.search(r'name="ids" value="([0-9a-f-]{36})"', by_code).group(1)
    back = f"{page}?q=FIND-ME-1"
    voided = owner.submit(back, {"ids": [found], "back": back}, action=f"{page}/void")
    assert voided.status_code == 302 and voided.location == back
    said = text_of(owner.get(f"{page}?status=void"))
    assert "Codes voided: 1." in said and said.count('class="muted mark"') == 1
    assert card_statuses(app, alpha, product_id) == {
        "available": 2,
        "reserved": 0,
        "sold": 0,
        "void": 1,
        "sellable": 2,
    }
    assert audit_actions(app, alpha) == ["cards.void"]

    nothing = owner.submit(page, {}, action=f"{page}/void")
    assert "Choose the codes to void first." in text_of(owner.get(nothing.location))


def test_the_owner_reveals_one_code_and_exports_on_the_record(app, alpha, owner):
    product_id = add_product(app, alpha, name="Steam ¥100", stock=["ONE-1", "TWO-2----PIN"])
    page = f"/console/products/{product_id}/cards"
    card_id = card_ids(app, alpha, product_id)[0]  # the newest: TWO-2

    shown = owner.submit(page, {}, action=f"{page}/{card_id}/reveal")
    exported = owner.submit(page, {}, action=f"{page}/export")

    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert '<code id="revealed-code">TWO-2----PIN</code>' in text_of(shown)
    assert exported.headers["Cache-Control"] == "no-store"
    assert (
        exported.mimetype == "text/plain"
        and "attachment" in exported.headers["Content-Disposition"]
    )
    assert exported.get_data(as_text=True) == "ONE-1\nTWO-2----PIN\n"
    assert audit_actions(app, alpha) == ["card.reveal", "cards.export"]
    assert card_statuses(app, alpha, product_id)["available"] == 2


def test_staff_work_the_stock_but_neither_reveal_nor_export(app, alpha, staff):
    product_id = add_product(app, alpha, name="Steam ¥100", stock=["ONE-1"])
    page = f"/console/products/{product_id}/cards"
    card_id = card_ids(app, alpha, product_id)[0]

    listed = text_of(staff.get(page))
    assert "Only the shop's owner can show or export codes." in listed
    assert "/reveal" not in listed and "/export" not in listed
    assert staff.submit(page, {}, action=f"{page}/{card_id}/reveal").status_code == 403
    assert staff.submit(page, {}, action=f"{page}/export").status_code == 403
    assert audit_actions(app, alpha) == []

    assert _import(staff, product_id, codes_text="STAFF-1").status_code == 302
    assert card_statuses(app, alpha, product_id)["available"] == 2
    assert staff.get("/console/products").status_code == 200
    assert staff.get("/console/categories").status_code == 200
    saved = staff.submit(
        f"/console/products/{product_id}", product_form(name="Renamed by staff", price="1")
    )
    assert saved.status_code == 302


def test_a_top_up_has_no_card_page(app, alpha, owner):
    topup = add_product(
        app, alpha, name="QQ coins", kind="topup", input_fields=[{"name": "qq", "label": "QQ"}]
    )

    answer = owner.get(f"/console/products/{topup}/cards")

    assert answer.status_code == 302 and answer.location == f"/console/products/{topup}"
    assert "Only card products hold card stock." in text_of(owner.get(answer.location))
