"""Buyer-facing pages of a shop (views only: they call services and render
the shop's theme). Each page a visitor browses counts itself as a visit
(``visits.count_page_view``) once it is found; the dashboard shows them."""

from __future__ import annotations

from flask import Blueprint, g, request, send_file

from app.accounts.auth import current_principal
from app.catalog import browse, images, services
from app.core.ids import id_or_404
from app.core.money import money_formatter
from app.core.pages import only_on
from app.core.pagination import requested_page
from app.core.themes import products_per_page, render_shop
from app.storefront.visits import count_page_view

bp = Blueprint("storefront", __name__)
bp.before_request(only_on("shop"))

MEDIA_MAX_AGE = 86_400  # an image id never changes content; a deleted one fades within a day


def home():
    """The shop's home page (served at ``/`` on a shop host): what is on
    sale, by category, with price and stock, and the category tree."""
    count_page_view("home")
    page = browse.home_page()
    return render_shop(
        "home.html",
        principal=current_principal(),
        sections=page.sections,
        categories=page.categories,
        money=money_formatter(g.shop.currency),
    )


@bp.get("/c/<category_id>")
def category(category_id: str):
    """A category's products on sale, a page at a time (as many as the
    theme shows); a top category's include its children's."""
    ident = id_or_404(category_id, "No such category.")
    listing = browse.category_page(
        ident, page=requested_page(request.args.get("page")), per_page=products_per_page()
    )
    count_page_view("category")
    return render_shop("category.html", listing=listing, money=money_formatter(g.shop.currency))


@bp.get("/search")
def search():
    """Products on sale whose name contains ``?q=``, a page at a time."""
    listing = browse.search_products(
        request.args.get("q"),
        page=requested_page(request.args.get("page")),
        per_page=products_per_page(),
    )
    count_page_view("search")
    return render_shop("search.html", listing=listing, money=money_formatter(g.shop.currency))


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
