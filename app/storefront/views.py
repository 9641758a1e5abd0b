"""Buyer-facing pages of a shop (views only: they call services and render
the shop's theme)."""

from __future__ import annotations

from flask import Blueprint

from app.accounts.auth import current_principal
from app.core.pages import only_on
from app.core.themes import render_shop

bp = Blueprint("storefront", __name__)
bp.before_request(only_on("shop"))


def home():
    """The shop's home page (served at ``/`` on a shop host)."""
    return render_shop("home.html", principal=current_principal())
