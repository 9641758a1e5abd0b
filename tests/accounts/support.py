"""Helpers of the account tests: pages in English, rows counted in the database."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from app.extensions import db


def in_english(browser):
    """Ask for English pages on ``browser``'s host, as the language switch does."""
    browser.client.set_cookie("lang", "en", domain=browser.host)
    return browser


def text_of(response) -> str:
    """The page as a reader sees its text (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def count(app, model, *where) -> int:
    """Rows of ``model`` in every shop."""
    from tenants.context import all_tenants

    with app.app_context(), all_tenants():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def signed_in_as(browser, path: str = "/api/v1/me"):
    """Who the API says this browser's session is (``None`` when no one)."""
    response = browser.get(path)
    return response.get_json().get("email") if response.status_code == 200 else None
