"""Marshmallow schemas of the catalogue API.

Write schemas (``…Write``) name the fields a request may carry and document
their types, but do not judge the values: ``app.catalog.services`` owns
every catalogue rule and answers a bad value with a field error, the same
for the API, the console and direct callers. Unknown fields are refused here.

Read schemas come in two kinds: ``ProductSchema`` for the shop's operators
(everything, cost included) and ``PublicProductSchema`` for everyone else
(what a buyer may know: no cost, status, stock threshold or delivery note).
"""

from __future__ import annotations

from flask import url_for
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from app.catalog.models import PRODUCT_KINDS, PRODUCT_STATUSES
from app.core.pagination import PageArgs, PageSchema, per_page_field


def _typed(openapi: dict, description: str) -> fields.Raw:
    """A field passed to the service as sent; ``openapi`` documents its type."""
    return fields.Raw(allow_none=True, metadata={**openapi, "description": description})


_INT = {"type": "integer"}
_STR = {"type": "string"}
_MONEY = {"type": "integer", "minimum": 0}


# --- categories -------------------------------------------------------------


class CategorySchema(Schema):
    id = fields.UUID()
    name = fields.String()
    parent_id = fields.UUID(allow_none=True)
    sort = fields.Integer()
    created_at = fields.DateTime()


class CategoryList(Schema):
    items = fields.List(fields.Nested(CategorySchema))


class CategoryWrite(Schema):
    name = _typed({**_STR, "maxLength": 80}, "Required when creating.")
    parent_id = _typed(
        {"type": "string", "format": "uuid"},
        "A top category's id, or null for a top category. Two levels only.",
    )
    sort = _typed(_INT, "Lower comes first (default 0).")


# --- products ---------------------------------------------------------------


class InputFieldSchema(Schema):
    name = fields.String(metadata={"description": "Key of the buyer's answer."})
    label = fields.String()
    required = fields.Boolean()
    pattern = fields.String(
        allow_none=True, metadata={"description": "Regular expression the whole answer matches."}
    )
    min_length = fields.Integer()
    max_length = fields.Integer()


class ImageSchema(Schema):
    id = fields.UUID()
    url = fields.Method("_url", metadata={"description": "Public address of the picture."})
    content_type = fields.String()
    size = fields.Integer()

    def _url(self, image) -> str:
        return url_for("storefront.media", image_id=image.id, _external=True)


class PublicProductSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    kind = fields.String(metadata={"enum": list(PRODUCT_KINDS)})
    category_id = fields.UUID(allow_none=True)
    description = fields.String()
    price = fields.Integer(
        metadata={
            "description": "What the caller pays for one unit (at the product's minimum "
            "quantity), in minor units of the shop's currency: a signed-in agent's tier "
            "price, a sale, or the list price. Operators: the list price."
        }
    )
    retail_price = fields.Function(
        lambda item: getattr(item, "retail_price", item.price),
        metadata={
            "type": "integer",
            "description": "The list price, in minor units (`price` before tier prices, "
            "sales and rules).",
        },
    )
    stock = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Codes a buyer can have now (card products): the shop's own "
            "plus what its sources last said they had; null for top-ups and manual "
            "items, which are not counted, and for a card product whose source has "
            "not said."
        },
    )
    min_quantity = fields.Integer()
    max_quantity = fields.Integer()
    input_fields = fields.List(fields.Nested(InputFieldSchema))
    images = fields.List(fields.Nested(ImageSchema))


def _text(value) -> str | None:
    return None if value is None else str(value)


def _whole(value) -> int | None:
    return None if value is None else int(value)


def _yes_no(value) -> bool | None:
    if value is None:
        return None
    if value in fields.Boolean.truthy:
        return True
    if value in fields.Boolean.falsy:
        return False
    return bool(value)


_INPUT_FIELD = (
    ("name", _text),
    ("label", _text),
    ("required", _yes_no),
    ("pattern", _text),
    ("min_length", _whole),
    ("max_length", _whole),
)


def public_product(item) -> dict:
    """``PublicProductSchema().dump(item)``, written out: the public list
    dumps 20 to 100 of these a request, where the schema's field machinery
    cost more than the query. ``item`` is a ``Priced`` product view (or a
    ``ProductView``); a test holds the two equal for every kind of product."""
    view = getattr(item, "item", item)
    product = view.product
    images = [
        {
            "id": str(image.id),
            "url": url_for("storefront.media", image_id=image.id, _external=True),
            "content_type": _text(image.content_type),
            "size": _whole(image.size),
        }
        for image in view.images
    ]
    inputs = None
    if product.input_fields is not None:
        inputs = [
            {key: convert(f[key]) for key, convert in _INPUT_FIELD if key in f}
            for f in product.input_fields
        ]
    return {
        "id": str(product.id),
        "name": _text(product.name),
        "kind": _text(product.kind),
        "category_id": _text(product.category_id),
        "description": _text(product.description),
        "price": _whole(item.price),
        "retail_price": getattr(item, "retail_price", item.price),
        "stock": _whole(view.stock),
        "min_quantity": _whole(product.min_quantity),
        "max_quantity": _whole(product.max_quantity),
        "input_fields": inputs,
        "images": images,
    }


class ProductSchema(PublicProductSchema):
    cost = fields.Integer(metadata={"description": "Minor units; operators only."})
    status = fields.String(metadata={"enum": list(PRODUCT_STATUSES)})
    delivery_note = fields.String()
    low_stock_threshold = fields.Integer()
    sort = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProductPage(PageSchema):
    items = fields.List(fields.Nested(ProductSchema))


class PublicProductPage(PageSchema):
    items = fields.List(fields.Nested(PublicProductSchema))


def sub_shop_field() -> fields.String:
    """``?sub_shop=<code>`` of the product reads."""
    return fields.String(
        validate=validate.Length(min=1, max=24),
        metadata={
            "description": "A sub-shop's code (分站): `price` as its buyers pay it (404 "
            "when no such sub-shop is open). Operators see the list price regardless."
        },
    )


class ProductQuery(PageArgs):
    per_page = per_page_field(default=20, maximum=100)
    category_id = fields.UUID(metadata={"description": "A top category includes its children."})
    q = fields.String(
        validate=validate.Length(max=100),
        metadata={"description": "Part of the name, any case (Chinese or English)."},
    )
    status = fields.String(
        validate=validate.OneOf(PRODUCT_STATUSES),
        metadata={"description": "Operators only; the public sees products on sale."},
    )
    sub_shop = sub_shop_field()


class ProductItemQuery(Schema):
    sub_shop = sub_shop_field()


class ProductWrite(Schema):
    name = _typed({**_STR, "maxLength": 120}, "Required when creating.")
    kind = _typed({"enum": list(PRODUCT_KINDS)}, "Default card. Fixed once cards are held.")
    category_id = _typed({"type": "string", "format": "uuid"}, "Category, or null.")
    description = _typed(_STR, "Shown on the product page.")
    price = _typed(_MONEY, "Minor units (1250 = 12.50). Required when creating.")
    cost = _typed(_MONEY, "Minor units; never shown to buyers.")
    min_quantity = _typed({"type": "integer", "minimum": 1}, "Per order (default 1).")
    max_quantity = _typed({"type": "integer", "minimum": 1}, "Per order (default 100).")
    status = _typed({"enum": list(PRODUCT_STATUSES)}, "Default draft.")
    input_fields = _typed(
        {"type": "array", "items": {"type": "object"}},
        "What the buyer must enter (top-ups): {name, label, required, pattern, "
        "min_length, max_length}.",
    )
    delivery_note = _typed(_STR, "Shown to the buyer with the delivered codes.")
    low_stock_threshold = _typed({"type": "integer", "minimum": 0}, "Alert at or below.")
    sort = _typed(_INT, "Lower comes first (default 0).")


class ImageUpload(Schema):
    file = Upload(required=True, metadata={"description": "PNG, JPEG, WebP or GIF."})
