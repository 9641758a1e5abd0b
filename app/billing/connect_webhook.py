"""``POST /api/v1/billing/stripe/connect-events``: the events of shops'
connected Stripe accounts (a Connect webhook endpoint in Stripe's
Dashboard, "Listen to events on Connected accounts"), signed with
``STRIPE_CONNECT_WEBHOOK_SECRET``.

It answers on every host and is CSRF-exempt: the ``Stripe-Signature`` is
its authentication. Only ``account.updated`` is acted on
(``app.billing.connect.apply_account_event``); any other event type is
acknowledged and ignored, so Stripe does not retry it.
"""

from __future__ import annotations

import json

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.billing import connect
from app.payments.adapters.base import WebhookNotConfigured, WebhookSignatureInvalid

blp = Blueprint(
    "billing_connect_events",
    __name__,
    description="Stripe Connect account events (platform-wide: any host)",
)


class ConnectEventReceipt(Schema):
    outcome = fields.String(metadata={"description": "account_updated, unknown_account or ignored"})


@blp.route("/billing/stripe/connect-events")
class ConnectEvents(MethodView):
    @blp.response(200, ConnectEventReceipt)
    @blp.doc(
        security=[],
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    )
    def post(self):
        """Receive a connected account's event (``account.updated``)."""
        import stripe

        secret = current_app.config.get("STRIPE_CONNECT_WEBHOOK_SECRET")
        if not secret:
            raise WebhookNotConfigured(
                "Set STRIPE_CONNECT_WEBHOOK_SECRET to receive Stripe Connect events."
            )
        payload = request.get_data(cache=False)
        try:
            stripe.Webhook.construct_event(
                payload, request.headers.get("Stripe-Signature") or "", secret
            )
            event = json.loads(payload)
            kind = str(event["type"])
            account = event["data"]["object"]
        except (ValueError, KeyError, TypeError, stripe.SignatureVerificationError) as exc:
            raise WebhookSignatureInvalid(
                "The Stripe-Signature header does not match this payload."
            ) from exc
        if kind != "account.updated" or not isinstance(account, dict):
            return {"outcome": "ignored"}
        known = connect.apply_account_event(account)
        return {"outcome": "account_updated" if known else "unknown_account"}
