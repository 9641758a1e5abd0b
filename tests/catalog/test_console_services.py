"""The catalogue services the console's pages added, tested without HTTP:
products on or off sale in bulk, a check that writes nothing, categories and
pictures moved a place, product counts per category, and a card found by
its code or its mark."""

from __future__ import annotations

import io
import uuid

import pytest

from app.catalog import bulk, card_reads, categories, images, services
from app.catalog.models import Product
from app.core.errors import NotFound, ValidationFailed
from app.extensions import db
from tests.catalog.support import GIF_1X1, PNG_1X1, cards, category, product


def _status(product_id) -> str:
    return db.session.get(Product, product_id, populate_existing=True).status


def test_chosen_products_go_on_sale_in_one_call_except_a_bare_top_up(shop, in_shop):
    def run():
        a = product("A", status="draft")
        b = product("B", status="off_sale")
        c = product("C", status="draft")
        bare = services.create_product({"name": "Bare top-up", "price": 100, "kind": "topup"}).id
        change = bulk.set_products_status([a, b, bare, a], "on_sale")
        return change, [_status(p) for p in (a, b, c, bare)]

    change, statuses = in_shop(shop, run)

    assert change == bulk.StatusChange(2, ["Bare top-up"])
    assert statuses == ["on_sale", "on_sale", "draft", "draft"]


def test_bulk_status_ignores_another_shops_products(shops, in_shop):
    theirs = in_shop(shops["bravo"], lambda: product("Theirs", status="on_sale"))

    change = in_shop(shops["alpha"], bulk.set_products_status, [theirs], "off_sale")

    assert change == bulk.StatusChange(0, [])
    assert in_shop(shops["bravo"], _status, theirs) == "on_sale"


@pytest.mark.parametrize(
    ("ids", "status", "field"),
    [([], "on_sale", "ids"), (["x"] * 501, "on_sale", "ids"), (["x"], "sold", "status")],
)
def test_bulk_status_refuses_nothing_chosen_too_many_or_an_unknown_status(
    shop, in_shop, ids, status, field
):
    def run():
        chosen = [uuid.uuid4() for _ in ids]
        with pytest.raises(ValidationFailed) as excinfo:
            bulk.set_products_status(chosen, status)
        return excinfo.value.errors

    assert field in in_shop(shop, run)


def test_checking_a_product_names_every_bad_field_and_writes_nothing(shop, in_shop):
    def run():
        existing = product("Kept")
        with pytest.raises(ValidationFailed) as new:
            services.check_product({"name": "", "price": -1, "min_quantity": 3, "max_quantity": 2})
        with pytest.raises(ValidationFailed) as edit:
            services.check_product({"kind": "topup", "status": "on_sale"}, existing)
        services.check_product({"name": "Fine", "price": 1})
        with pytest.raises(NotFound):
            services.check_product({}, uuid.uuid4())
        count = db.session.query(Product).count()
        return new.value.errors, edit.value.errors, count

    new, edit, count = in_shop(shop, run)

    assert set(new) == {"name", "price", "max_quantity"}
    assert set(edit) == {"input_fields"}
    assert count == 1


def test_categories_move_a_place_among_their_siblings_only(shop, in_shop):
    def run():
        games = category("Games")
        phone = category("Phone")
        steam = category("Steam", parent_id=games)
        xbox = category("Xbox", parent_id=games)
        categories.move_category(phone, up=True)
        categories.move_category(phone, up=True)  # already first: stays
        categories.move_category(xbox, up=True)
        categories.move_category(steam, up=False)  # already last among Games' children
        return [c.name for c in categories.list_categories()]

    assert in_shop(shop, run) == ["Phone", "Games", "Xbox", "Steam"]


def test_product_counts_per_category(shop, in_shop):
    def run():
        games = category("Games")
        for name in ("A", "B"):
            product(name, category_id=str(games))
        product("Loose")
        return games, categories.product_counts()

    games, counts = in_shop(shop, run)

    assert counts == {games: 2, None: 1}


def test_a_picture_moves_earlier_or_later(shop, in_shop):
    def run():
        product_id = product("Pictured")
        first = images.add_image(product_id, io.BytesIO(PNG_1X1)).id
        second = images.add_image(product_id, io.BytesIO(GIF_1X1)).id
        images.move_image(product_id, second, up=True)
        order = [i.id for i in images.images_of([product_id])[product_id]]
        with pytest.raises(NotFound):
            images.move_image(product("Other"), first, up=True)
        return order, [first, second]

    order, (first, second) = in_shop(shop, run)

    assert order == [second, first]


def test_a_card_is_found_by_its_code_or_its_mark_never_by_a_part(shop, in_shop):
    def run():
        product_id = product("Cards")
        cards(product_id, 3, prefix="FIND")
        all_cards, _total = card_reads.list_cards(product_id)
        code = f"FIND-{product_id.hex[:8]}-000001"
        by_code = card_reads.list_cards(product_id, search=code)
        by_mark = card_reads.list_cards(product_id, search=all_cards[2]["fingerprint"].upper())
        by_part = card_reads.list_cards(product_id, search="FIND")
        return all_cards, by_code, by_mark, by_part

    all_cards, by_code, by_mark, by_part = in_shop(shop, run)

    assert by_code[1] == 1 and by_code[0][0]["id"] == all_cards[1]["id"]
    assert by_mark[1] == 1 and by_mark[0][0]["id"] == all_cards[2]["id"]
    assert by_part == ([], 0)
