"""Shop themes: ``themes/<name>/{manifest.json,templates/,static/}``.

A shop page is rendered as ``@theme/<name>/<template>``. The loader looks in
the shop's theme first and falls back to ``default``, so a theme overrides
only what it changes. Because the theme is part of the template name, Jinja's
template cache keeps each theme's compiled templates apart. Inside a theme
template, ``{% extends "base.html" %}`` resolves within the same theme
(``ThemedEnvironment.join_path``). Platform pages use ``app/templates``.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from flask import Flask, abort, g, render_template, send_from_directory
from flask.templating import Environment
from jinja2 import BaseLoader, ChoiceLoader, TemplateNotFound
from werkzeug.security import safe_join

PREFIX = "@theme/"
DEFAULT_THEME = "default"


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

    @app.route("/theme/<theme>/<path:filename>", endpoint="theme_static")
    def theme_static(theme: str, filename: str):
        for candidate in (theme, DEFAULT_THEME):
            folder = safe_join(str(themes_root()), candidate, "static")
            if folder and os.path.isfile(safe_join(folder, filename) or ""):
                return send_from_directory(folder, filename, max_age=3600)
        abort(404)
