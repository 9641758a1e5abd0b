"""Pages speak Chinese by default and English on request.

The locale comes from ``?lang=``, then the ``lang`` cookie, then the
browser's Accept-Language, then the shop's own locale (``zh_CN`` unless
set), then the platform default (``zh_CN``). These tests use the Flask test
client, which sends no Accept-Language unless told to.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "app" / "translations"
ZH_MO = CATALOGS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")

EMPTY_SHOP_ZH = "本店暂无在售商品。"
EMPTY_SHOP_EN = "This shop has no products on sale yet."


def text_of(response) -> str:
    return response.get_data(as_text=True)


# --- choosing the language ------------------------------------------------


def test_shop_home_is_in_chinese_by_default(make_shop, browser_for):
    make_shop("alpha", "Alpha 游戏卡")

    page = text_of(browser_for("alpha.localhost").get("/"))

    assert EMPTY_SHOP_ZH in page
    assert "登录" in page and "注册" in page
    assert EMPTY_SHOP_EN not in page


def test_shop_home_in_english_with_lang_en(make_shop, browser_for):
    make_shop("alpha")

    page = text_of(browser_for("alpha.localhost").get("/?lang=en"))

    assert EMPTY_SHOP_EN in page
    assert "Sign in" in page
    assert EMPTY_SHOP_ZH not in page


def test_shop_home_in_english_for_an_english_browser(make_shop, browser_for):
    make_shop("alpha")

    response = browser_for("alpha.localhost").get(
        "/", headers={"Accept-Language": "en-US,en;q=0.9"}
    )

    assert EMPTY_SHOP_EN in text_of(response)


def test_lang_in_the_address_beats_the_browser_language(make_shop, browser_for):
    make_shop("alpha")

    response = browser_for("alpha.localhost").get(
        "/?lang=zh_CN", headers={"Accept-Language": "en-US,en;q=0.9"}
    )

    assert EMPTY_SHOP_ZH in text_of(response)


def test_lang_cookie_keeps_english(make_shop, browser_for):
    make_shop("alpha")
    shop = browser_for("alpha.localhost")
    shop.client.set_cookie("lang", "en", domain="alpha.localhost")

    assert EMPTY_SHOP_EN in text_of(shop.get("/"))


def test_platform_landing_in_chinese_and_in_english(platform):
    chinese = text_of(platform.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}))
    english = text_of(platform.get("/", headers={"Accept-Language": "en"}))

    assert "一分钟，开一家属于您自己的卡盟。" in chinese and "我要开店" in chinese
    assert "Your own card shop, live in a minute." in english and "Open a shop" in english


def test_sign_up_form_labels_are_translated(platform):
    page = text_of(platform.get("/signup"))

    for label in ("店铺名称", "店铺网址", "邮箱", "密码", "确认密码", "立即开店"):
        assert label in page


# --- error pages ------------------------------------------------------------


def test_unknown_shop_page_title_is_in_chinese(browser_for):
    response = browser_for("ghost.localhost").get("/")

    assert response.status_code == 404
    assert "此网址没有对应的店铺" in text_of(response)


def test_missing_page_title_is_in_chinese_and_english(platform):
    chinese = platform.get("/no-such-page")
    english = platform.get("/no-such-page?lang=en")

    assert chinese.status_code == 404
    assert "页面不存在" in text_of(chinese)
    assert "Not Found" in text_of(english)


def test_expired_form_page_title_is_in_chinese(platform):
    response = platform.post("/login", data={"email": "a@example.com", "password": "x"})

    assert response.status_code == 400
    assert "表单已过期，或并非从本站提交" in text_of(response)


def test_every_error_title_is_marked_for_translation(app):
    """A new error class needs its title in app/translations/problem_titles.py."""
    from werkzeug.exceptions import default_exceptions

    from app.core.errors import KamengError
    from app.core.problems import _HTTP_SLUGS
    from app.translations import problem_titles

    marked = set(
        problem_titles.ERROR_TITLES + problem_titles.PAGE_TITLES + problem_titles.HTTP_TITLES
    )
    classes, seen = [KamengError], []
    while classes:
        cls = classes.pop()
        seen.append(cls)
        classes.extend(cls.__subclasses__())
    titles = {cls.title for cls in seen}
    titles |= {default_exceptions[code]().name for code in _HTTP_SLUGS}

    assert titles - marked == set()


# --- the catalogs -----------------------------------------------------------


@pytest.fixture(scope="module")
def source_messages() -> set[str]:
    """Every msgid in the code and templates, as ``pybabel extract`` finds it."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    found = extract_from_dir(ROOT, method_map, options_map, keywords=keywords)
    return {message if isinstance(message, str) else message[0] for _, _, message, *_ in found}


def test_every_message_has_a_compiled_chinese_translation(source_messages):
    """Fails on a new string nobody translated (or compiled): see
    app/translations/README.md for the three commands that fix it."""
    with open(ZH_MO, "rb") as mo:
        catalog = read_mo(mo)
    translated = {m.id: m.string for m in catalog if m.id and m.string}

    missing = sorted(source_messages - translated.keys())

    assert missing == [], f"untranslated in zh_Hans_CN: {missing}"


def test_chinese_translations_keep_every_placeholder():
    with open(ZH_MO, "rb") as mo:
        catalog = read_mo(mo)

    for message in catalog:
        if message.id and message.string:
            assert sorted(PLACEHOLDER.findall(message.string)) == sorted(
                PLACEHOLDER.findall(message.id)
            ), message.id
