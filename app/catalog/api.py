"""Catalogue endpoints: categories, products and product images.

Operators (an API key, or a console session with ``catalog.manage``) create
and change everything. ``GET /products`` and ``GET /products/{id}`` also
answer the public: a caller without ``catalog.view`` sees only products on
sale, through ``PublicProductSchema`` (no cost); an operator sees every
product with ``ProductSchema``. Each endpoint parses, calls one service
function and renders its result.

A product's ``price`` is the caller's (``app.pricing.shown``): what a
signed-in agent, through its session or its own API key, pays at its
tier; what anyone else pays (the list price, or a sale or a rule for
everyone). ``retail_price`` is the list price. Operators see and write the
list price as ``price`` (their rules are in the price-rules endpoints).
"""

from __future__ import annotations

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.catalog import browse, categories, images, services
from app.catalog.schemas import (
    CategoryList,
    CategorySchema,
    CategoryWrite,
    ImageSchema,
    ImageUpload,
    ProductItemQuery,
    ProductPage,
    ProductQuery,
    ProductSchema,
    ProductWrite,
    PublicProductPage,
    PublicProductSchema,
    public_product,
)
from app.core.ids import id_or_404
from app.core.pagination import page_of
from app.pricing.rules import Audience, audience_for
from app.pricing.shown import priced_one
from app.storefront import sub_shops

blp = Blueprint("catalog_api", __name__, description="Categories, products and images")
SECURED = [{"apiKey": []}]
PUBLIC_OR_SECURED = [{}, {"apiKey": []}]


def _sees_everything() -> bool:
    """Operators see drafts and costs; everyone else the public catalogue."""
    return current_principal().can("catalog.view")


def _audience(sub_shop: str | None = None) -> Audience:
    """Whose prices the caller is shown: its own when it is a shop account
    (an agent's session or key), else the public's; with ``sub_shop`` the
    prices of that sub-shop for the caller (404 when it is not open)."""
    buyer_id = current_principal().shop_account_id
    if sub_shop is None:
        return Audience.of(buyer_id)
    return audience_for(buyer_id, sub_shops.open_sub_shop(sub_shop).id)


# --- categories -------------------------------------------------------------


@blp.route("/categories")
class Categories(MethodView):
    @require("catalog.view")
    @blp.response(200, CategoryList)
    @blp.doc(security=SECURED)
    def get(self):
        """Every category: each top category followed by its children."""
        return {"items": categories.list_categories()}

    @require("catalog.manage")
    @blp.arguments(CategoryWrite)
    @blp.response(201, CategorySchema)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Add a category; ``parent_id`` makes it the child of a top category."""
        return categories.create_category(data)


@blp.route("/categories/<category_id>")
class CategoryItem(MethodView):
    @require("catalog.view")
    @blp.response(200, CategorySchema)
    @blp.doc(security=SECURED)
    def get(self, category_id):
        """One category."""
        return categories.get_category(id_or_404(category_id))

    @require("catalog.manage")
    @blp.arguments(CategoryWrite)
    @blp.response(200, CategorySchema)
    @blp.doc(security=SECURED)
    def patch(self, data, category_id):
        """Rename, re-parent or re-order a category."""
        return categories.update_category(id_or_404(category_id), data)

    @require("catalog.manage")
    @blp.response(204)
    @blp.doc(security=SECURED)
    def delete(self, category_id):
        """Delete an empty category (409 while it has children or products)."""
        categories.delete_category(id_or_404(category_id))
        return Response(status=204)


# --- products ---------------------------------------------------------------


# Operators get one view, everyone else the other: "anyOf", since an answer
# may fit both (an empty page does), which "oneOf" would call invalid.
@blp.route("/products")
class Products(MethodView):
    @blp.arguments(ProductQuery, location="query")
    @blp.response(200, {"anyOf": [ProductPage, PublicProductPage]})
    @blp.doc(security=PUBLIC_OR_SECURED)
    def get(self, args):
        """Products, a page at a time: filter by ``category_id`` (a top
        category includes its children), search the name with ``q``.
        Without operator rights: only products on sale, without cost.
        ``price`` is the caller's (an agent's tier price), ``retail_price``
        the list price."""
        if not _sees_everything():
            items, total = browse.public_products(
                page=args["page"],
                per_page=args["per_page"],
                category_id=args.get("category_id"),
                q=args.get("q"),
                audience=_audience(args.get("sub_shop")),
            )
            page = page_of([public_product(item) for item in items], total, args)
            return jsonify(page)
        items, total = services.list_products(
            page=args["page"],
            per_page=args["per_page"],
            category_id=args.get("category_id"),
            q=args.get("q"),
            status=args.get("status"),
        )
        return jsonify(ProductPage().dump(page_of(items, total, args)))

    @require("catalog.manage")
    @blp.arguments(ProductWrite)
    @blp.response(201, ProductSchema)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Add a product (``name`` and ``price`` required; a draft card
        product unless told otherwise)."""
        return services.create_product(data)


@blp.route("/products/<product_id>")
class ProductItem(MethodView):
    @blp.arguments(ProductItemQuery, location="query")
    @blp.response(200, {"anyOf": [ProductSchema, PublicProductSchema]})
    @blp.doc(security=PUBLIC_OR_SECURED)
    def get(self, args, product_id):
        """One product. Without operator rights: only if on sale, without
        cost. ``price`` is the caller's, ``retail_price`` the list price."""
        operator = _sees_everything()
        audience = None if operator else _audience(args.get("sub_shop"))
        view = services.get_product(id_or_404(product_id), public=not operator)
        shown = view if operator else priced_one(view, audience)
        return jsonify((ProductSchema() if operator else PublicProductSchema()).dump(shown))

    @require("catalog.manage")
    @blp.arguments(ProductWrite)
    @blp.response(200, ProductSchema)
    @blp.doc(security=SECURED)
    def patch(self, data, product_id):
        """Change the given fields of a product."""
        return services.update_product(id_or_404(product_id), data)

    @require("catalog.manage")
    @blp.response(204)
    @blp.doc(security=SECURED)
    def delete(self, product_id):
        """Delete a product that never held cards (409 otherwise: set it off sale)."""
        services.delete_product(id_or_404(product_id))
        return Response(status=204)


@blp.route("/products/<product_id>/images")
class ProductImages(MethodView):
    @require("catalog.manage")
    @blp.arguments(ImageUpload, location="files")
    @blp.response(201, ImageSchema)
    @blp.doc(security=SECURED)
    def post(self, files, product_id):
        """Upload a picture as multipart ``file``: PNG, JPEG, WebP or GIF by
        content, at most ``UPLOAD_MAX_IMAGE_BYTES`` (413 beyond)."""
        return images.add_image(id_or_404(product_id), files["file"].stream)


@blp.route("/products/<product_id>/images/<image_id>")
class ProductImageItem(MethodView):
    @require("catalog.manage")
    @blp.response(204)
    @blp.doc(security=SECURED)
    def delete(self, product_id, image_id):
        """Delete one picture of the product."""
        images.delete_image(id_or_404(product_id), id_or_404(image_id))
        return Response(status=204)
