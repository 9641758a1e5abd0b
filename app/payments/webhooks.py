"""Provider webhooks: ``POST /api/v1/webhooks/<provider>`` (Stripe posts to
``/api/v1/webhooks/stripe``).

A provider posts every event to one URL, so this endpoint answers on the
platform host and on every shop host alike (it is registered outside the
shop-only API gate, and is CSRF-exempt: the signature is its
authentication). It parses nothing itself: ``payments.events.receive``
verifies, stores and handles the event, with the handlers of the domains
the money is for (orders, recharges). See that module for the guarantees.
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.core.errors import NotFound
from app.orders import payment as order_payment
from app.payments import events, recharges, registry
from app.payments.schemas import WebhookReceipt

blp = Blueprint(
    "provider_webhooks",
    __name__,
    description="Payment provider webhooks (platform-wide: any host)",
)

#: Who handles money collected for what (``Payment.purpose``).
HANDLERS = {"order": order_payment.NOTIFICATIONS, "recharge": recharges.NOTIFICATIONS}


@blp.route("/webhooks/<provider>")
class ProviderWebhook(MethodView):
    @blp.response(200, WebhookReceipt)
    @blp.doc(
        security=[],
        description="A payment provider's events, signed by the provider (Stripe: "
        "``Stripe-Signature`` with the endpoint's secret). Answers on the platform "
        "host and every shop host. Providers: "
        + ", ".join(n for n in registry.NAMES if registry.adapter(n).sends_webhooks)
        + ".",
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    )
    def post(self, provider):
        """Receive a provider's event (verified, stored by id, handled once)."""
        if provider not in registry.NAMES or not registry.adapter(provider).sends_webhooks:
            raise NotFound("No such webhook.")
        return events.receive(provider, request.get_data(cache=False), request.headers, HANDLERS)
