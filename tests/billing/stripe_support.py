"""Helpers of the Stripe Billing tests: a shop subscribed at localstripe
through the real service, Stripe events carrying localstripe's own objects
(or a recorded payload from ``fixtures/``), signed with the test secret and
posted to the real endpoint, and the shop's subscription as stored."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from tests.billing.support import free_pro_business, put_on_plan
from tests.factories import end_outer_transaction
from tests.payments.support import WEBHOOK_SECRET, sign

FIXTURES = Path(__file__).parent / "fixtures"
ENDPOINT = "/billing/stripe/webhook"


def subscribed(app, shop, plan: str = "pro", attempt: str = "first") -> dict:
    """Put ``shop`` on Free, then on ``plan`` with the test card through
    ``subscribe_with_card`` (localstripe); its stored subscription."""
    from app.billing import subscriptions

    free_pro_business(app)
    put_on_plan(app, shop, "free")
    end_outer_transaction()
    with app.app_context():
        subscriptions.subscribe_with_card(
            shop.id,
            plan,
            email=shop.owner_email,
            payment_method="pm_card_visa",
            attempt=attempt,
            actor="test",
        )
        db.session.remove()
    return stored(app, shop)


def stored(app, shop) -> dict:
    from app.billing.models import Subscription

    end_outer_transaction()
    with app.app_context():
        row = db.session.scalar(select(Subscription).where(Subscription.tenant_id == shop.id))
        found = None
        if row is not None:
            found = {
                "plan": row.plan.code,
                "status": row.status,
                "customer": row.stripe_customer_id,
                "subscription": row.stripe_subscription_id,
                "period_end": row.current_period_end,
                "past_due_since": row.past_due_since,
                "reminders_sent": row.reminders_sent,
                "grace_days": row.grace_days,
            }
        db.session.remove()
    return found


def event(event_type: str, obj: dict, *, created: int | None = None, livemode=False) -> bytes:
    """A Stripe event (``evt_…``) carrying ``obj``, as JSON bytes."""
    return json.dumps(
        {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": "2025-04-30.basil",
            "type": event_type,
            "created": int(time.time()) if created is None else created,
            "livemode": livemode,
            "pending_webhooks": 1,
            "data": {"object": obj},
        }
    ).encode()


def recorded_event(name: str, *, created: int | None = None, **values) -> bytes:
    """The recorded payload ``fixtures/<name>.json`` with its ``__KEY__``
    placeholders filled from ``values``, a fresh id and ``created``."""
    text = (FIXTURES / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", str(value))
    payload = json.loads(text)
    payload["id"] = "evt_" + secrets.token_hex(12)
    payload["created"] = int(time.time()) if created is None else created
    return json.dumps(payload).encode()


def post_event(client, body: bytes, signature: str | None = None):
    """POST ``body`` to the endpoint, signed with the test secret unless a
    ``signature`` is given: (status, JSON)."""
    answer = client.post(
        ENDPOINT,
        data=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sign(body, WEBHOOK_SECRET) if signature is None else signature,
        },
    )
    return answer.status_code, answer.get_json()


def as_dict(stripe_object) -> dict:
    return stripe_object.to_dict(recursive=True, for_json=True)
