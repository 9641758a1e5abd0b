"""Public shop endpoints."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("shop_api", __name__, description="The shop")


class ShopSchema(Schema):
    id = fields.UUID()
    slug = fields.String()
    name = fields.String()
    currency = fields.String()
    locale = fields.String()
    status = fields.String()


@blp.route("/shop")
class Shop(MethodView):
    @blp.response(200, ShopSchema)
    def get(self):
        """The shop this host serves."""
        return g.shop
