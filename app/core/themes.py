"""Shop themes: ``themes/<name>/{manifest.json,templates/,static/}``.

A shop page is rendered as ``@theme/<name>/<template>``. The loader looks in
the shop's theme first and falls back to ``default``, so a theme overrides
only what it changes. Because the theme is part of the template name, Jinja's
template cache keeps each theme's compiled templates apart. Inside a theme
template, ``{% extends "base.html" %}`` resolves within the same theme
(``ThemedEnvironment.join_path``). Platform pages use ``app/templates``.

The template contract (``themes/README.md``): every shop page a view renders
is one of ``CONTRACT`` (``default`` has them all, so a theme inherits what it
does not override), and each receives the context written there, whatever
the theme. A shop switches theme and loses no page, link or form; a test
renders every contract page in every theme with real data.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Flask, abort, g, render_template, send_from_directory
from flask.templating import Environment
from jinja2 import BaseLoader, ChoiceLoader, TemplateNotFound
from werkzeug.security import safe_join

PREFIX = "@theme/"
DEFAULT_THEME = "default"

#: Every template a view renders for a shop (``render_shop``), as the
#: contract in ``themes/README.md`` lists them with their context.
CONTRACT = (
    "base.html",
    "home.html",
    "category.html",
    "search.html",
    "product.html",
    "product_buy.html",
    "pay.html",
    "order.html",
    "lookup.html",
    "account/login.html",
    "account/signup.html",
    "account/forgot.html",
    "account/reset.html",
    "account/index.html",
    "account/orders.html",
    "account/wallet.html",
    "account/recharge.html",
    "account/agent.html",
    "account/agent_prices.html",
    "account/agent_downline.html",
    "account/agent_commissions.html",
    "account/agent_sub_shop.html",
    "account/agent_keys.html",
    "join.html",
    "account/withdrawals.html",
    "account/supply.html",
    "404.html",
    "error.html",
    "suspended.html",
)
#: Products a list page (category, search) shows when the theme says nothing.
PRODUCTS_PER_PAGE = 24


def themes_root() -> Path:
    return Path(__file__).resolve().parents[2] / "themes"


@lru_cache(maxsize=64)
def theme_manifest(name: str) -> dict | None:
    """The theme's manifest, or ``None`` when no such theme exists."""
    path = safe_join(str(themes_root()), name, "manifest.json")
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def available_themes() -> list[str]:
    return sorted(p.name for p in themes_root().iterdir() if (p / "manifest.json").is_file())


class ThemeLoader(BaseLoader):
    """Loads ``@theme/<name>/<path>`` from the theme, then the default theme,
    then the app's own templates (shared macros)."""

    def __init__(self, fallback: BaseLoader | None = None) -> None:
        self.fallback = fallback

    def get_source(self, environment, template):
        if not template.startswith(PREFIX):
            raise TemplateNotFound(template)
        theme, _, name = template[len(PREFIX) :].partition("/")
        for candidate in (theme, DEFAULT_THEME):
            path = safe_join(str(themes_root()), candidate, "templates", name)
            if path and os.path.isfile(path):
                mtime = os.path.getmtime(path)
                with open(path, encoding="utf-8") as fh:
                    source = fh.read()
                return source, path, lambda p=path, m=mtime: os.path.getmtime(p) == m
        if self.fallback is not None:
            return self.fallback.get_source(environment, name)
        raise TemplateNotFound(template)


class ThemedEnvironment(Environment):
    """Resolves relative names inside a theme template to the same theme."""

    def join_path(self, template: str, parent: str) -> str:
        if parent.startswith(PREFIX) and not template.startswith(PREFIX):
            theme = parent[len(PREFIX) :].split("/", 1)[0]
            return f"{PREFIX}{theme}/{template}"
        return template


def shop_template(name: str) -> str:
    shop = getattr(g, "shop", None)
    theme = shop.theme if shop and theme_manifest(shop.theme) else DEFAULT_THEME
    return f"{PREFIX}{theme}/{name}"


# --- theme settings --------------------------------------------------------------
#
# A manifest may declare settings the operator sets in the console:
#
#   "settings": [
#     {"name": "layout", "type": "choice", "choices": ["list", "grid"], "default": "list",
#      "label": {"en": "Product layout", "zh_CN": "商品布局"}},
#     {"name": "show_stock", "type": "bool", "default": true, "label": {...}},
#     {"name": "accent", "type": "color", "default": "#e4572e", "label": {...}},
#     {"name": "columns", "type": "int", "min": 2, "max": 6, "default": 4, "label": {...}},
#     {"name": "footer_note", "type": "text", "max_length": 200, "default": "", "label": {...}}
#   ]
#
# Types: bool, color (#rrggbb), choice (one of ``choices``), int (``min`` ..
# ``max``), text (plain text up to ``max_length``, 200 by default; shown
# escaped, never as markup). A shop stores only values, one object per theme
# (tenants.theme_settings = {"<theme>": {"<setting>": value}}), so switching
# themes and back finds each theme's values as they were; the cached shop
# (``ShopSnapshot.theme_settings``) carries those of its current theme. A
# value missing or no longer valid (the theme's manifest changed) reads as
# the default, so nothing breaks.

SETTING_TYPES = ("bool", "color", "choice", "int", "text")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def is_hex_color(text: object) -> bool:
    """Whether ``text`` is a colour as settings store it: ``#rrggbb``."""
    return isinstance(text, str) and bool(_COLOR.fullmatch(text))


@dataclass(frozen=True)
class ThemeSetting:
    name: str
    type: str
    default: object
    label: dict
    choices: tuple = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 200

    def label_for(self, locale: str) -> str:
        return self.label.get(locale) or self.label.get("en") or self.name

    def parse(self, raw: object) -> object:
        """The value for ``raw`` (a form field's text or a stored value);
        ``ValueError`` with an English reason when it is not valid."""
        if self.type == "bool":
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in ("1", "true", "on", "yes")
        text = "" if raw is None else str(raw).strip()
        if self.type == "color":
            if not _COLOR.fullmatch(text):
                raise ValueError("a colour like #e4572e")
            return text.lower()
        if self.type == "choice":
            if text not in self.choices:
                raise ValueError("one of " + ", ".join(self.choices))
            return text
        if self.type == "int":
            try:
                number = int(text)
            except ValueError:
                raise ValueError("a whole number") from None
            if (self.minimum is not None and number < self.minimum) or (
                self.maximum is not None and number > self.maximum
            ):
                raise ValueError(f"a number from {self.minimum} to {self.maximum}")
            return number
        if len(text) > self.max_length:
            raise ValueError(f"at most {self.max_length} characters")
        return text


def theme_title(theme: str, locale: str) -> str:
    """The theme's name for a person: the manifest's ``title`` (a string, or
    one per language like a setting's label), else its folder name."""
    title = (theme_manifest(theme) or {}).get("title")
    if isinstance(title, dict):
        return title.get(locale) or title.get("en") or theme
    return title or theme


def stored_settings(stored: Mapping[str, object] | None, theme: str) -> dict:
    """The values a shop stored for ``theme`` out of its per-theme
    ``theme_settings`` (empty when it set none)."""
    values = (stored or {}).get(theme)
    return dict(values) if isinstance(values, Mapping) else {}


def with_theme_settings(
    stored: Mapping[str, object] | None, theme: str, values: Mapping[str, object]
) -> dict:
    """A shop's per-theme ``theme_settings`` with ``theme``'s values replaced
    by ``values``; every other theme's are kept as they were."""
    kept = {name: dict(v) for name, v in (stored or {}).items() if isinstance(v, Mapping)}
    kept[theme] = dict(values)
    return kept


#: Each manifest's parsed settings, by the manifest's identity (manifests
#: are read once, ``theme_manifest``): no JSON written per call.
_specs: dict[int, tuple[dict, tuple[ThemeSetting, ...]]] = {}


def theme_settings_spec(theme: str) -> tuple[ThemeSetting, ...]:
    """The settings ``theme`` declares (none for an unknown theme)."""
    manifest = theme_manifest(theme) or {}
    known = _specs.get(id(manifest))
    if known is not None and known[0] is manifest:
        return known[1]
    spec = parse_spec(json.dumps(manifest.get("settings") or [], sort_keys=True))
    if manifest:
        _specs[id(manifest)] = (manifest, spec)
    return spec


@lru_cache(maxsize=64)
def parse_spec(raw: str) -> tuple[ThemeSetting, ...]:
    specs = []
    for item in json.loads(raw):
        kind = item["type"]
        if kind not in SETTING_TYPES:
            raise ValueError(f"theme setting {item['name']!r}: unknown type {kind!r}")
        specs.append(
            ThemeSetting(
                name=item["name"],
                type=kind,
                default=item.get("default"),
                label=item.get("label") or {},
                choices=tuple(item.get("choices") or ()),
                minimum=item.get("min"),
                maximum=item.get("max"),
                max_length=int(item.get("max_length", 200)),
            )
        )
    return tuple(specs)


def validate_theme_settings(theme: str, raw: Mapping[str, object]) -> dict:
    """The values to store for ``theme`` from ``raw`` (a form: missing bools
    are false; other missing settings take their default). Raises
    ``ValidationFailed`` with one error per bad field."""
    return validate_settings(theme_settings_spec(theme), raw)


def validate_settings(spec: tuple[ThemeSetting, ...], raw: Mapping[str, object]) -> dict:
    """:func:`validate_theme_settings` for a parsed ``spec``."""
    from app.core.errors import ValidationFailed

    values: dict = {}
    errors: dict = {}
    for setting in spec:
        if setting.name not in raw and setting.type != "bool":
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw.get(setting.name, False))
        except ValueError as err:
            errors[setting.name] = [f"Must be {err}."]
    if errors:
        raise ValidationFailed("Some theme settings are not valid.", errors=errors)
    return values


def theme_settings_of(theme: str, stored: Mapping[str, object] | None) -> dict:
    """Every setting of ``theme`` with its value for a shop: the stored one
    when still valid, else the default."""
    return settings_of(theme_settings_spec(theme), stored)


def settings_of(spec: tuple[ThemeSetting, ...], stored: Mapping[str, object] | None) -> dict:
    """:func:`theme_settings_of` for a parsed ``spec``."""
    stored = stored or {}
    values = {}
    for setting in spec:
        try:
            values[setting.name] = (
                setting.parse(stored[setting.name]) if setting.name in stored else setting.default
            )
        except ValueError:
            values[setting.name] = setting.default
    return values


def theme_setting(name: str, default: object = None) -> object:
    """A template's view of one setting of the current shop's theme (a
    Jinja global): ``{% if theme_setting('show_stock') %}``. The cached shop
    carries the values stored for its current theme only."""
    shop = getattr(g, "shop", None)
    if shop is None:
        return default
    # Worked out once per request and shop (a list page asks per row).
    known = g.get("_theme_values")
    if known is None or known[0] is not shop:
        theme = shop.theme if theme_manifest(shop.theme) else DEFAULT_THEME
        values = theme_settings_of(theme, dict(getattr(shop, "theme_settings", ()) or ()))
        known = g._theme_values = (shop, values)
    return known[1].get(name, default)


def current_theme() -> str:
    """The current shop's theme, ``default`` when it names none that exists."""
    shop = getattr(g, "shop", None)
    return shop.theme if shop and theme_manifest(shop.theme) else DEFAULT_THEME


def products_per_page() -> int:
    """How many products the current theme's list pages show: its
    ``rows_per_page`` setting when it declares one, else the manifest's
    ``products_per_page``, else ``PRODUCTS_PER_PAGE``."""
    theme = current_theme()
    if any(s.name == "rows_per_page" for s in theme_settings_spec(theme)):
        return int(theme_setting("rows_per_page"))
    return int((theme_manifest(theme) or {}).get("products_per_page") or PRODUCTS_PER_PAGE)


def brand_palette(color: str | None) -> dict[str, str]:
    """The shop's brand colour as the themes' CSS custom properties:
    ``accent`` (the colour, or the default orange when it is not
    ``#rrggbb``), ``accent_dark`` (a fifth darker, for hover and links) and
    ``on_accent`` (black or white, whichever has the higher WCAG contrast
    on it: for any colour at least 4.58:1, so text on the brand colour
    always meets WCAG AA)."""
    text = color if isinstance(color, str) and _COLOR.fullmatch(color) else "#e4572e"
    red, green, blue = (int(text[i : i + 2], 16) for i in (1, 3, 5))
    dark = "#" + "".join(f"{c * 4 // 5:02x}" for c in (red, green, blue))
    luminance = _relative_luminance(red, green, blue)
    # WCAG 2 contrast ratios of white and of black text on the colour.
    on_white, on_black = 1.05 / (luminance + 0.05), (luminance + 0.05) / 0.05
    return {
        "accent": text.lower(),
        "accent_dark": dark,
        "on_accent": "#ffffff" if on_white >= on_black else "#000000",
    }


def _relative_luminance(*channels: int) -> float:
    """WCAG 2's relative luminance of an sRGB colour (0 black, 1 white)."""
    linear = [
        c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
        for c in channels
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


#: The endpoint that serves a shop's logo and banner by file name (the shop
#: settings add it); while it is not registered the themes show the shop's
#: name instead, and no page breaks.
SHOP_IMAGE_ENDPOINT = "shop_brand.brand_file"


def shop_image_url(kind: str) -> str | None:
    """The address of the current shop's ``logo`` or ``banner`` (a Jinja
    global), or ``None`` when it has none, is suspended (its pictures are
    not served then) or nothing serves them."""
    from flask import current_app, url_for

    shop = getattr(g, "shop", None)
    filename = getattr(shop, f"{kind}_file", None) if shop else None
    if not filename or shop.is_suspended or SHOP_IMAGE_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(SHOP_IMAGE_ENDPOINT, name=filename)


def render_shop(name: str, **context) -> str:
    """Render a page of the current shop's theme."""
    return render_template(shop_template(name), **context)


def init_themes(app: Flask) -> None:
    app.jinja_environment = ThemedEnvironment
    app.jinja_options = {**app.jinja_options}
    # jinja_env is created lazily; make sure it is built with our class.
    app.__dict__.pop("jinja_env", None)
    app_loader = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader([ThemeLoader(app_loader), app_loader])
    app.jinja_env.globals["theme_setting"] = theme_setting
    app.jinja_env.globals["brand_palette"] = brand_palette
    app.jinja_env.globals["shop_image_url"] = shop_image_url

    @app.route("/theme/<theme>/<path:filename>", endpoint="theme_static")
    def theme_static(theme: str, filename: str):
        for candidate in (theme, DEFAULT_THEME):
            folder = safe_join(str(themes_root()), candidate, "static")
            if folder and os.path.isfile(safe_join(folder, filename) or ""):
                return send_from_directory(folder, filename, max_age=3600)
        abort(404)
