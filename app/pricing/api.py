"""Pricing endpoints: agent tiers, price rules and coupons (the operator's).

Reads need ``pricing.view`` (owner and staff), writes ``pricing.manage``
(the owner, or an owner's API key); every write is on the audit record.
Each endpoint parses, calls one service function of ``app.pricing.admin``
(tiers), ``rule_admin`` or ``coupon_admin`` (the console's too) and renders
its result.
Another shop's ids answer 404, and a body naming another shop's product,
category or tier is refused (422) as naming nothing.
"""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import current_principal, require
from app.core.ids import id_or_404
from app.core.pagination import page_of
from app.pricing import admin, coupon_admin, rule_admin
from app.pricing.schemas import (
    CouponPage,
    CouponQuery,
    CouponSchema,
    CouponWrite,
    RulePage,
    RuleQuery,
    RuleSchema,
    RuleWrite,
    TierDeleted,
    TierList,
    TierSchema,
    TierWrite,
)

blp = Blueprint("pricing_api", __name__, description="Agent tiers, price rules and coupons")
SECURED = [{"apiKey": []}]


def _actor() -> str:
    return current_principal().actor


# --- agent tiers --------------------------------------------------------------------


@blp.route("/agent-tiers")
class Tiers(MethodView):
    @require("pricing.view")
    @blp.response(200, TierList)
    @blp.doc(security=SECURED)
    def get(self):
        """Every agent tier, best first, with the accounts on it."""
        return {"items": admin.list_tiers()}

    @require("pricing.manage")
    @blp.arguments(TierWrite)
    @blp.response(201, TierSchema)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Add a tier (409 for a taken name, or when the shop holds 20)."""
        return admin.create_tier(data, actor=_actor())


@blp.route("/agent-tiers/<tier_id>")
class TierItem(MethodView):
    @require("pricing.view")
    @blp.response(200, TierSchema)
    @blp.doc(security=SECURED)
    def get(self, tier_id):
        """One tier."""
        return admin.get_tier(id_or_404(tier_id))

    @require("pricing.manage")
    @blp.arguments(TierWrite)
    @blp.response(200, TierSchema)
    @blp.doc(security=SECURED)
    def patch(self, data, tier_id):
        """Change the given fields of a tier."""
        return admin.update_tier(id_or_404(tier_id), data, actor=_actor())

    @require("pricing.manage")
    @blp.response(200, TierDeleted)
    @blp.doc(security=SECURED)
    def delete(self, tier_id):
        """Delete a tier. Its accounts fall back to retail prices and its own
        price rules are deleted; the answer counts both."""
        return admin.delete_tier(id_or_404(tier_id), actor=_actor())


# --- price rules --------------------------------------------------------------------


@blp.route("/price-rules")
class Rules(MethodView):
    @require("pricing.view")
    @blp.arguments(RuleQuery, location="query")
    @blp.response(200, RulePage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """Price rules, newest first, a page at a time; filter by
        ``product_id``, ``category_id`` or ``tier_id``."""
        rows, total = rule_admin.list_rules(
            product_id=args.get("product_id"),
            category_id=args.get("category_id"),
            tier_id=args.get("tier_id"),
            page=args["page"],
            per_page=args["per_page"],
        )
        return page_of(rows, total, args)

    @require("pricing.manage")
    @blp.arguments(RuleWrite)
    @blp.response(201, RuleSchema)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Add a price rule: a ``price`` or a ``percent_off`` for a product, a
        category or the whole shop, for a tier or everyone (409 once the
        shop holds 2,000)."""
        return rule_admin.create_rule(data, actor=_actor())


@blp.route("/price-rules/<rule_id>")
class RuleItem(MethodView):
    @require("pricing.view")
    @blp.response(200, RuleSchema)
    @blp.doc(security=SECURED)
    def get(self, rule_id):
        """One price rule."""
        return rule_admin.get_rule(id_or_404(rule_id))

    @require("pricing.manage")
    @blp.arguments(RuleWrite)
    @blp.response(200, RuleSchema)
    @blp.doc(security=SECURED)
    def patch(self, data, rule_id):
        """Change the given fields of a rule (a price given clears a percent
        and the other way round; likewise a product and a category)."""
        return rule_admin.update_rule(id_or_404(rule_id), data, actor=_actor())

    @require("pricing.manage")
    @blp.response(204)
    @blp.doc(security=SECURED)
    def delete(self, rule_id):
        """Delete a price rule."""
        rule_admin.delete_rule(id_or_404(rule_id), actor=_actor())
        return Response(status=204)


# --- coupons --------------------------------------------------------------------------


@blp.route("/coupons")
class Coupons(MethodView):
    @require("pricing.view")
    @blp.arguments(CouponQuery, location="query")
    @blp.response(200, CouponPage)
    @blp.doc(security=SECURED)
    def get(self, args):
        """Coupons, newest first, each with its live ``uses``; search the
        code with ``q``."""
        rows, total = coupon_admin.list_coupons(
            q=args.get("q"), active=args.get("active"), page=args["page"], per_page=args["per_page"]
        )
        return page_of(rows, total, args)

    @require("pricing.manage")
    @blp.arguments(CouponWrite)
    @blp.response(201, CouponSchema)
    @blp.doc(security=SECURED)
    def post(self, data):
        """Add a coupon (409 for a code the shop has already)."""
        return coupon_admin.create_coupon(data, actor=_actor())


@blp.route("/coupons/<coupon_id>")
class CouponItem(MethodView):
    @require("pricing.view")
    @blp.response(200, CouponSchema)
    @blp.doc(security=SECURED)
    def get(self, coupon_id):
        """One coupon with its live uses."""
        return coupon_admin.get_coupon(id_or_404(coupon_id))

    @require("pricing.manage")
    @blp.arguments(CouponWrite)
    @blp.response(200, CouponSchema)
    @blp.doc(security=SECURED)
    def patch(self, data, coupon_id):
        """Change a coupon; ``{"active": false}`` switches it off."""
        return coupon_admin.update_coupon(id_or_404(coupon_id), data, actor=_actor())

    @require("pricing.manage")
    @blp.response(204)
    @blp.doc(security=SECURED)
    def delete(self, coupon_id):
        """Delete a coupon no order has used (409 otherwise: switch it off)."""
        coupon_admin.delete_coupon(id_or_404(coupon_id), actor=_actor())
        return Response(status=204)
