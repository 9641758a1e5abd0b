"""Buyer-facing pages of a shop (views only: they call services and render
the shop's theme). Each page a visitor browses counts itself as a visit
(``visits.count_page_view``) once it is found; the dashboard shows them.

Every price on these pages is the viewer's (``app.pricing``): a guest's, a
signed-in agent's tier price (the list price struck through beside it), or
in a sub-shop the sub-shop's.

Sub-shops (分站): the same pages answer under ``/s/<code>`` (the home page
at ``/s/<code>``, ``/s/<code>/p/<id>``, ``/s/<code>/c/<id>``,
``/s/<code>/search``, and the buy page ``/s/<code>/buy/<id>`` in
``app.orders.views``), in the shop's theme, with the sub-shop's title,
notice and prices. While a sub-shop page renders, ``url_for`` of the
storefront's own pages (``SUB_SHOP_ENDPOINTS``) adds the sub-shop's code,
so every link of the theme stays inside the sub-shop without a theme
knowing sub-shops exist. An unknown code, or a sub-shop whose owner is
inactive or no longer an agent, is the shop's 404 page.
"""

from __future__ import annotations

from flask import Blueprint, g, request, send_file

from app.accounts.auth import current_principal
from app.catalog import browse, images
from app.core.ids import id_or_404
from app.core.money import money_formatter
from app.core.pages import only_on
from app.core.pagination import requested_page
from app.core.themes import products_per_page, render_shop
from app.pricing.rules import Audience, audience_for
from app.storefront import sub_shops
from app.storefront.visits import count_page_view

bp = Blueprint("storefront", __name__)
bp.before_request(only_on("shop"))

MEDIA_MAX_AGE = 86_400  # an image id never changes content; a deleted one fades within a day

#: The pages whose links stay inside a sub-shop (see the module doc).
SUB_SHOP_ENDPOINTS = frozenset(
    {
        "index",
        "storefront.product",
        "storefront.category",
        "storefront.search",
        "orders_pages.buy",
    }
)


@bp.app_url_defaults
def _stay_in_the_sub_shop(endpoint: str, values: dict) -> None:
    front = g.get("sub_shop")
    if front is not None and endpoint in SUB_SHOP_ENDPOINTS:
        values.setdefault("code", front.code)


#: The answers that show prices, which are the viewer's own.
PRICED_ENDPOINTS = SUB_SHOP_ENDPOINTS - {"orders_pages.buy"} | {
    "catalog_api.Products",
    "catalog_api.ProductItem",
}


@bp.after_app_request
def _private_when_signed_in(response):
    # A signed-in buyer's prices are their own: no shared cache may keep them.
    principal = g.get("principal")
    if (
        request.endpoint in PRICED_ENDPOINTS
        and principal is not None
        and principal.shop_account_id is not None
    ):
        response.headers.setdefault("Cache-Control", "private")
    return response


def viewer(code: str | None = None) -> Audience:
    """Whose prices the page shows: the signed-in buyer's (an agent's tier),
    a guest's, or in the sub-shop ``code`` the sub-shop's. Entering a
    sub-shop dresses the page in its title and notice (a 404 page when it
    is not open)."""
    buyer_id = current_principal().shop_account_id
    if code is None:
        return Audience.of(buyer_id)
    front = sub_shops.open_sub_shop(code)
    g.sub_shop = front
    g.shop = sub_shops.dressed(g.shop, front)
    return audience_for(buyer_id, front.id)


def home(code: str | None = None):
    """The shop's home page (served at ``/`` on a shop host, and at
    ``/s/<code>`` for a sub-shop): what is on sale, by category, with price
    and stock, and the category tree."""
    page = browse.home_page(viewer(code))
    count_page_view("home")
    return render_shop(
        "home.html",
        principal=current_principal(),
        sections=page.sections,
        categories=page.categories,
        money=money_formatter(g.shop.currency),
    )


@bp.get("/c/<category_id>")
@bp.get("/s/<code>/c/<category_id>")
def category(category_id: str, code: str | None = None):
    """A category's products on sale, a page at a time (as many as the
    theme shows); a top category's include its children's."""
    audience = viewer(code)
    ident = id_or_404(category_id, "No such category.")
    listing = browse.category_page(
        ident,
        page=requested_page(request.args.get("page")),
        per_page=products_per_page(),
        audience=audience,
    )
    count_page_view("category")
    return render_shop("category.html", listing=listing, money=money_formatter(g.shop.currency))


@bp.get("/search")
@bp.get("/s/<code>/search")
def search(code: str | None = None):
    """Products on sale whose name contains ``?q=``, a page at a time."""
    audience = viewer(code)
    listing = browse.search_products(
        request.args.get("q"),
        page=requested_page(request.args.get("page")),
        per_page=products_per_page(),
        audience=audience,
    )
    count_page_view("search")
    return render_shop("search.html", listing=listing, money=money_formatter(g.shop.currency))


@bp.get("/p/<product_id>")
@bp.get("/s/<code>/p/<product_id>")
def product(product_id: str, code: str | None = None):
    """A product's page; 404 unless it is this shop's and on sale."""
    audience = viewer(code)
    item = browse.product_page(id_or_404(product_id, "No such product."), audience)
    count_page_view("product")
    return render_shop("product.html", item=item, money=money_formatter(g.shop.currency))


@bp.get("/media/<image_id>")
def media(image_id: str):
    """A product image of this shop, as the type detected at upload."""
    ident = id_or_404(image_id, "No such image.")
    path, content_type = images.image_file(ident)
    return send_file(path, mimetype=content_type, max_age=MEDIA_MAX_AGE, conditional=True)
