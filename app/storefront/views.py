"""Buyer-facing pages of a shop (views only: they call services and render
the shop's theme). Each page a visitor browses counts itself as a visit
(``visits.count_page_view``) once it is found; the dashboard shows them."""

from __future__ import annotations

from flask import Blueprint, g, send_file

from app.accounts.auth import current_principal
from app.catalog import images, services
from app.core.ids import id_or_404
from app.core.money import money_formatter
from app.core.pages import only_on
from app.core.themes import render_shop
from app.storefront.visits import count_page_view

bp = Blueprint("storefront", __name__)
bp.before_request(only_on("shop"))

MEDIA_MAX_AGE = 86_400  # an image id never changes content; a deleted one fades within a day


def home():
    """The shop's home page (served at ``/`` on a shop host): what is on
    sale, by category, with price and stock."""
    count_page_view("home")
    return render_shop(
        "home.html",
        principal=current_principal(),
        sections=services.storefront_sections(),
        money=money_formatter(g.shop.currency),
    )


@bp.get("/p/<product_id>")
def product(product_id: str):
    """A product's page; 404 unless it is this shop's and on sale."""
    ident = id_or_404(product_id, "No such product.")
    item = services.get_product(ident, public=True)
    count_page_view("product")
    return render_shop("product.html", item=item, money=money_formatter(g.shop.currency))


@bp.get("/media/<image_id>")
def media(image_id: str):
    """A product image of this shop, as the type detected at upload."""
    ident = id_or_404(image_id, "No such image.")
    path, content_type = images.image_file(ident)
    return send_file(path, mimetype=content_type, max_age=MEDIA_MAX_AGE, conditional=True)
