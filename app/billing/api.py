"""``GET /api/v1/shop/plan``: the shop's plan, its limits and what the
shop uses of each. Owner and staff (a session or an operator API key);
reads only, one function of ``app.billing.limits``."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.auth import require
from app.billing import limits
from app.billing.schemas import ShopPlanSchema

blp = Blueprint("billing_api", __name__, description="The shop's plan")
SECURED = [{"apiKey": []}]


@blp.route("/shop/plan")
class ShopPlan(MethodView):
    @require("shop.console")
    @blp.response(200, ShopPlanSchema)
    @blp.doc(security=SECURED)
    def get(self):
        """The plan the shop is on, each limit (null: unlimited) and the
        shop's use of it now; orders count from the start of this month in
        the shop's time zone. A write past a limit answers 403 with a
        problem of type ``plan-limit``."""
        return limits.plan_report()
