"""An uncached storefront request parses and compiles nothing: its SQL
comes from SQLAlchemy's compiled cache and its templates from Jinja's, and
the theme's files are not read again (nor stat'ed: no auto-reload outside
debug)."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from app.extensions import db
from tests.factories import run_in_shop
from tests.storefront.support import build_catalogue, english, use_theme


@pytest.fixture
def pages(app, shop, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)
    catalogue = build_catalogue(app, shop)
    return (
        "/",
        f"/c/{catalogue.games}",
        "/search?q=Steam",
        f"/p/{catalogue.steam}",
        "/api/v1/products",
        f"/api/v1/products?category_id={catalogue.games}&q=steam&page=1",
    )


@pytest.mark.parametrize("theme", ["default", "classic", "grid"])
def test_a_second_request_compiles_no_statement(app, shop, browser_for, pages, theme):
    use_theme(app, shop, theme)
    guest = english(browser_for(shop.host), shop)
    for path in pages:
        assert guest.get(path).status_code == 200  # first use: compiled and cached
    compiled: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if context.compiled is not None and context.cache_hit is not CacheStats.CACHE_HIT:
            compiled.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", seen)
    try:
        for path in pages:
            assert guest.get(path).status_code == 200
    finally:
        event.remove(engine, "after_cursor_execute", seen)

    assert compiled == []


def test_templates_are_compiled_once_and_not_checked_for_changes(
    app, shop, browser_for, pages, monkeypatch
):
    from app.core import themes

    assert app.jinja_env.auto_reload is False  # outside debug: no stat per render
    guest = english(browser_for(shop.host), shop)
    for path in pages:
        guest.get(path)
    reads: list[str] = []
    real = themes.ThemeLoader.get_source

    def counted(self, environment, template):
        reads.append(template)
        return real(self, environment, template)

    monkeypatch.setattr(themes.ThemeLoader, "get_source", counted)
    for path in pages:
        assert guest.get(path).status_code == 200

    assert reads == []


def test_theme_settings_are_read_once_per_request_and_follow_a_change(app, shop, browser_for):
    """A list page asks the theme's settings per row; the values are worked
    out once per request, and a change of settings shows on the next one."""
    from app.catalog import categories

    cards = run_in_shop(app, shop, lambda: categories.create_category({"name": "月卡"}).id)
    use_theme(app, shop, "classic", rows_per_page=10)
    guest = english(browser_for(shop.host), shop)
    from tests.storefront.test_storefront_browse import add_products, text

    add_products(app, shop, 12, category=cards)
    first = text(guest.get(f"/c/{cards}"))
    use_theme(app, shop, "classic", rows_per_page=20, show_stock=False)
    second = text(guest.get(f"/c/{cards}"))

    assert first.count('<tr class="row') == 10
    assert second.count('<tr class="row') == 12


def test_templates_translate_in_the_locale_in_force_each_time(app):
    """The templates' translations are looked up once per request and
    locale: a ``force_locale`` inside a request (a mail in the shop's
    language) still gets its own language, and the request's comes back."""
    import flask_babel

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        template = app.jinja_env.from_string("{{ _('Sold out') }}")
        before = template.render()
        with flask_babel.force_locale("zh_CN"):
            forced = template.render()
            expected = flask_babel.gettext("Sold out")
        after = template.render()

    assert before == after == "Sold out"
    assert forced == expected and forced != "Sold out"
