"""The edges of Stripe Billing outside the console: the webhook Stripe
posts subscription and invoice events to (``POST /billing/stripe/webhook``,
platform host only, CSRF-exempt: the signature is its authentication), and
the gate that shows a paused page on every storefront address of a shop
whose subscription is suspended for non-payment. The console stays open
(the owner pays there), and so do the theme's and vendored files and the
payment providers' webhooks.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, jsonify, request
from flask_babel import lazy_gettext as _l

from app.billing import stripe_events
from app.billing.models import SUB_SUSPENDED
from app.billing.plans import plan_of
from app.core.errors import KamengError
from app.core.pages import only_on

bp = Blueprint("billing_stripe", __name__)
bp.before_request(only_on("platform"))

#: What a paused shop still answers: its console, static files, webhooks.
OPEN_WHILE_PAUSED = ("/console", "/theme/", "/vendor/", "/static/", "/api/v1/webhooks/")


class ShopPaused(KamengError):
    status = 402
    slug = "shop-paused"
    title = "This shop is paused"


@bp.post("/billing/stripe/webhook")
def stripe_webhook():
    """Stripe Billing's signed events (see ``app.billing.stripe_events``)."""
    from app.core.problems import problem_response

    try:
        receipt = stripe_events.receive(request.get_data(cache=False), request.headers)
    except KamengError as err:
        return problem_response(err.to_problem(instance=request.path))
    return jsonify(receipt)


def paused_gate():
    """Answer a suspended shop's storefront with the paused page (or a
    ``shop-paused`` problem on the API); nothing else changes. The shop's
    cached ``billing_paused`` says where to look; the subscription itself
    confirms (a shop put back on a plan by hand opens at once)."""
    shop = g.get("shop")
    if g.get("site") != "shop" or shop is None or not getattr(shop, "billing_paused", False):
        return None  # the host lookup (cached) says so: no query for an open shop
    if request.path.startswith(OPEN_WHILE_PAUSED):
        return None
    subscription = plan_of(shop.id).subscription
    if subscription is None or subscription.status != SUB_SUSPENDED:
        return None
    from app.core.problems import render_error

    return render_error(
        ShopPaused(
            f"{shop.name} is paused until its plan is paid.",
            message=_l(
                "%(shop)s is paused for the moment and is not taking orders. "
                "Orders already paid are safe; please come back later.",
                shop=shop.name,
            ),
        ),
        template="suspended.html",  # the theme's page without buying links
    )


def register(app: Flask) -> None:
    """Install the webhook endpoint and the paused-shop gate."""
    from app.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.before_request(paused_gate)
