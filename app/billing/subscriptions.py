"""A shop's subscription through Stripe Billing: what the operator does on
the plan page (subscribe with a card, Checkout, the portal, cancel) and what
Stripe's events say about it.

Our ``Subscription`` row follows Stripe's: ``stripe_synced_at`` is the
``created`` instant of the newest state applied, so an older event (Stripe
does not promise order) never overwrites a newer one. Dunning
(``past_due`` → ``suspended``) belongs to ``app.billing.dunning``: Stripe
still says ``past_due`` of a subscription we suspended, and that keeps it
suspended until an invoice is paid.

Subscriptions are platform data (no shop current); each change is written
on the shop's audit record in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.audit import services as audit
from app.billing import pause, stripe_billing
from app.billing.models import (
    SUB_ACTIVE,
    SUB_CANCELED,
    SUB_PAST_DUE,
    SUB_SUSPENDED,
    SUB_TRIALING,
    Plan,
    Subscription,
)
from app.billing.plans import default_plan, forget_cached_plans, get_plan
from app.core.errors import Conflict, KamengError, ValidationFailed
from app.extensions import db
from tenants.context import tenant_context
from tenants.models import Tenant


class BillingProviderFailed(KamengError):
    status = 502
    slug = "billing-provider-failed"
    title = "The payment provider refused or did not answer"


#: Stripe's subscription states, in ours (``incomplete``: the first
#: invoice is not paid yet, which changes nothing here).
STRIPE_STATES = {
    "trialing": SUB_TRIALING,
    "active": SUB_ACTIVE,
    "past_due": SUB_PAST_DUE,
    "unpaid": SUB_PAST_DUE,
    "canceled": SUB_CANCELED,
    "incomplete_expired": SUB_CANCELED,
}


def _now() -> datetime:
    # Stripe's instants are whole seconds: ours too, so an event of the
    # same second as our own write is not taken for an older one.
    return datetime.now(UTC).replace(microsecond=0)


def instant(seconds) -> datetime | None:
    """Stripe's Unix seconds as an aware UTC instant; None for anything else."""
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        return datetime.fromtimestamp(seconds, UTC)
    return None


def subscription_row(tenant_id: uuid.UUID) -> Subscription | None:
    """The shop's subscription row, or None (the default plan applies)."""
    return db.session.scalar(select(Subscription).where(Subscription.tenant_id == tenant_id))


@dataclass(frozen=True)
class PaymentState:
    """What the plan page says about paying: how the operator pays
    (``checkout``: Stripe Checkout; ``card``: a card on the page; ``none``:
    Stripe is not configured), whether there is a Stripe customer (the
    portal) and a live Stripe subscription (cancel), and the dunning dates."""

    method: str
    has_customer: bool
    has_subscription: bool
    past_due_since: datetime | None
    suspends_at: datetime | None


def payment_state(tenant_id: uuid.UUID) -> PaymentState:
    """The shop's payment state for its plan page. Reads only."""
    from app.billing.dunning import suspends_at

    if not stripe_billing.configured():
        method = "none"
    else:
        method = "checkout" if stripe_billing.checkout_enabled() else "card"
    row = subscription_row(tenant_id)
    return PaymentState(
        method=method,
        has_customer=bool(row and row.stripe_customer_id),
        has_subscription=bool(row and row.stripe_subscription_id and row.status != SUB_CANCELED),
        past_due_since=row.past_due_since if row else None,
        suspends_at=suspends_at(row) if row else None,
    )


def _provider(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except stripe_billing.BillingUnavailable as exc:
        raise BillingProviderFailed(
            str(exc),
            message=_l("The card payment service did not accept this. Nothing was charged."),
        ) from exc


def _price_of(plan: Plan) -> str:
    if not plan.stripe_price_id:
        plan.stripe_price_id = _provider(stripe_billing.ensure_price, plan)
        db.session.commit()
    return plan.stripe_price_id


def _row_for(tenant: Tenant, plan: Plan) -> Subscription:
    row = subscription_row(tenant.id)
    if row is None:
        row = Subscription(tenant_id=tenant.id, plan_id=plan.id, status=SUB_ACTIVE)
        row.plan = plan
        # No commit: a row is written only once Stripe said yes.
        db.session.add(row)
    return row


def _paid_plan(code: str) -> Plan:
    plan = get_plan(code)
    if not plan.active:
        raise ValidationFailed(
            f"The plan {code!r} is not on offer.",
            errors={"plan": ["Not on offer."]},
            message=_l("This plan is no longer on offer."),
        )
    if plan.price <= 0:
        raise ValidationFailed(
            f"The plan {code!r} is free: nothing to pay.",
            errors={"plan": ["Free plan."]},
            message=_l("This plan is free: cancel your subscription to move to it."),
        )
    return plan


def subscribe_with_card(
    tenant_id: uuid.UUID,
    plan_code: str,
    *,
    email: str,
    payment_method: str,
    attempt: str,
    actor: str,
) -> Subscription:
    """Put the shop on the paid plan ``plan_code``, paid by the card
    ``payment_method`` (a Stripe payment method id), through the API that
    needs no Checkout: the card becomes the customer's default, and the
    shop's Stripe subscription is created (the plan's trial days free, else
    the first invoice charged now) or moved to the plan's price. The row
    takes Stripe's answer at once, so an active subscription's limits
    change on the next request. ``attempt`` (one per form shown) keys the
    Stripe calls: the same form sent twice subscribes once. Audited
    (``billing.subscribed``). Commits. ``BillingProviderFailed`` when
    Stripe refuses (nothing of ours changes)."""
    plan = _paid_plan(plan_code)
    tenant = db.session.get(Tenant, tenant_id)
    price = _price_of(plan)  # commits the plan's price id: before any row of ours changes
    row = _row_for(tenant, plan)
    if (
        row.stripe_subscription_id
        and row.plan_id == plan.id
        and row.status in (SUB_ACTIVE, SUB_TRIALING)
    ):
        return row  # already there: the same form sent again
    before = row.plan.code if row.plan_id else None
    customer = _provider(stripe_billing.ensure_customer, tenant, email, row.stripe_customer_id)
    row.stripe_customer_id = customer
    _provider(stripe_billing.attach_card, customer, payment_method)
    key = f"kameng-billing-{tenant.id}-{attempt}"
    if row.stripe_subscription_id and row.status != SUB_CANCELED:
        found = _provider(stripe_billing.change_price, row.stripe_subscription_id, price, key=key)
    else:
        found = _provider(
            stripe_billing.create_subscription,
            tenant.id,
            customer,
            price,
            trial_days=plan.trial_days,
            key=key,
        )
    if _state_of(found) is None:
        db.session.rollback()
        _drop_unpaid(found)
        raise BillingProviderFailed(
            f"Stripe left subscription {found.get('id')} incomplete: the card was declined.",
            errors={"card": ["Declined."]},
            message=_l("The card was declined. Nothing was charged; try another card."),
        )
    row.stripe_subscription_id = found["id"]
    apply_subscription(row, found, _now(), force=True)
    paused = pause.sync(row)
    with tenant_context(tenant):
        audit.record(
            actor, "billing.subscribed", f"plan:{row.plan.code}", plan=row.plan.code, before=before
        )
        db.session.commit()
    pause.announce(paused)
    forget_cached_plans()
    return row


def _drop_unpaid(found: dict) -> None:
    """End a subscription Stripe made whose first payment failed (it would
    otherwise wait there, unpaid, until Stripe expires it)."""
    if found.get("id") and found.get("status") == "incomplete":
        try:
            stripe_billing.cancel_subscription(found["id"])
        except stripe_billing.BillingUnavailable:
            pass  # Stripe expires an incomplete subscription by itself


@dataclass(frozen=True)
class NewCard:
    """A card as typed on the plan page (only where Checkout is not used)."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str


def subscribe_with_new_card(
    tenant_id: uuid.UUID, plan_code: str, card: NewCard, *, email: str, attempt: str, actor: str
) -> Subscription:
    """``subscribe_with_card`` with a card typed on the plan page: Stripe
    keeps the card (we never store its digits) and the shop subscribes with
    it. Same guarantees; a declined card changes nothing of ours."""
    _paid_plan(plan_code)
    method = _provider(
        stripe_billing.create_card, card.number, card.exp_month, card.exp_year, card.cvc
    )
    return subscribe_with_card(
        tenant_id, plan_code, email=email, payment_method=method, attempt=attempt, actor=actor
    )


def pay_due_with_new_card(
    tenant_id: uuid.UUID, card: NewCard, *, attempt: str, actor: str
) -> Subscription:
    """Pay what a past-due (or paused) shop owes, with a card typed on the
    plan page: the card becomes the customer's default and every open
    invoice of the subscription is charged to it. When all are paid the
    shop is active again at once (its storefront opens on the next
    request; Stripe's ``invoice.paid`` events that follow change nothing).
    Audited (``billing.paid``). Commits. ``Conflict`` when nothing is due;
    ``BillingProviderFailed`` when the card is refused (the shop stays as
    it was)."""
    row = subscription_row(tenant_id)
    if (
        row is None
        or row.status not in (SUB_PAST_DUE, SUB_SUSPENDED)
        or not row.stripe_subscription_id
        or not row.stripe_customer_id
    ):
        raise Conflict(
            "The shop owes nothing.",
            message=_l("Nothing is due: your plan is paid."),
        )
    method = _provider(
        stripe_billing.create_card, card.number, card.exp_month, card.exp_year, card.cvc
    )
    _provider(stripe_billing.attach_card, row.stripe_customer_id, method)
    due = _provider(stripe_billing.open_invoices, row.stripe_subscription_id)
    for invoice in due:
        paid = _provider(
            stripe_billing.pay_invoice,
            invoice["id"],
            key=f"kameng-billing-pay-{invoice['id']}-{attempt}",
        )
        if paid.get("status") != "paid":
            raise BillingProviderFailed(
                f"Stripe did not collect invoice {invoice['id']}.",
                errors={"card": ["Declined."]},
                message=_l("The card was declined. Nothing was charged; try another card."),
            )
    before = row.status
    mark_paid(row, _now())
    row.stripe_synced_at = _now()
    paused = pause.sync(row)
    tenant = db.session.get(Tenant, tenant_id)
    with tenant_context(tenant):
        audit.record(
            actor, "billing.paid", f"plan:{row.plan.code}", before=before, invoices=len(due)
        )
        db.session.commit()
    pause.announce(paused)
    forget_cached_plans()
    return row


def checkout_url(
    tenant_id: uuid.UUID, plan_code: str, *, email: str, success_url: str, cancel_url: str
) -> str:
    """Where the operator pays for ``plan_code`` on Stripe Checkout (the
    production path). The shop's customer is made first (and kept), so the
    completed session names it; the plan changes when Stripe's
    ``checkout.session.completed`` event arrives."""
    plan = _paid_plan(plan_code)
    tenant = db.session.get(Tenant, tenant_id)
    price = _price_of(plan)
    row = subscription_row(tenant.id)
    customer = _provider(
        stripe_billing.ensure_customer, tenant, email, row.stripe_customer_id if row else None
    )
    if row is not None and row.stripe_customer_id != customer:
        row.stripe_customer_id = customer
        db.session.commit()
    return _provider(
        stripe_billing.checkout_session,
        tenant.id,
        customer,
        price,
        plan_code=plan.code,
        trial_days=plan.trial_days,
        success_url=success_url,
        cancel_url=cancel_url,
    )


def portal_url(tenant_id: uuid.UUID, return_url: str) -> str:
    """The shop's Stripe customer portal (card, invoices, cancel);
    ``Conflict`` when the shop never paid through Stripe."""
    row = subscription_row(tenant_id)
    if row is None or not row.stripe_customer_id:
        raise Conflict(
            "The shop has no Stripe customer yet.",
            message=_l("Subscribe to a plan first: there is nothing to manage yet."),
        )
    return _provider(stripe_billing.portal_session, row.stripe_customer_id, return_url)


def cancel(tenant_id: uuid.UUID, *, actor: str) -> Subscription:
    """End the shop's Stripe subscription now; the shop moves to the
    default plan (its data is kept; new use beyond the plan's limits is
    refused). Audited (``billing.canceled``). Commits. ``Conflict`` when
    there is no subscription to cancel."""
    row = subscription_row(tenant_id)
    if row is None or not row.stripe_subscription_id or row.status == SUB_CANCELED:
        raise Conflict(
            "The shop has no Stripe subscription to cancel.",
            message=_l("There is no paid subscription to cancel."),
        )
    before = row.plan.code
    found = _provider(stripe_billing.cancel_subscription, row.stripe_subscription_id)
    apply_subscription(row, found, _now(), force=True)
    paused = pause.sync(row)
    tenant = db.session.get(Tenant, tenant_id)
    with tenant_context(tenant):
        audit.record(actor, "billing.canceled", f"plan:{before}", plan=row.plan.code, before=before)
        db.session.commit()
    pause.announce(paused)
    forget_cached_plans()
    return row


# --- what Stripe says -----------------------------------------------------------


def apply_subscription(row: Subscription, obj: dict, at: datetime, *, force: bool = False) -> str:
    """Take Stripe's subscription ``obj`` as of ``at`` into ``row``: its
    state, plan (by price id) and period end. An ``at`` older than the
    newest state applied changes nothing (``"stale"``) unless ``force``
    (our own call's answer). A suspended row stays suspended while Stripe
    says the payment is still due. Does not commit; the outcome word."""
    if not force and row.stripe_synced_at is not None and at < row.stripe_synced_at:
        return "stale"
    row.stripe_synced_at = max(at, row.stripe_synced_at or at)
    state = _state_of(obj)
    price = _item_price(obj)
    if price:
        plan = db.session.scalar(select(Plan).where(Plan.stripe_price_id == price))
        if plan is not None and plan.id != row.plan_id:
            row.plan_id, row.plan = plan.id, plan
    end = instant(obj.get("current_period_end")) or instant(
        _first_item(obj).get("current_period_end")
    )
    if end is not None:
        row.current_period_end = end
    if state is None:
        return "unchanged"
    if state == SUB_CANCELED:
        fallback = default_plan()
        if fallback is not None:
            row.plan_id, row.plan = fallback.id, fallback
        row.status = SUB_CANCELED
        paid_up(row)
        return "canceled"
    if state == SUB_PAST_DUE:
        return mark_past_due(row, at)
    row.status = state
    paid_up(row)
    return state


def _state_of(obj: dict) -> str | None:
    """Our state for Stripe's subscription ``obj``; None while its first
    invoice is unpaid. A subscription that started with free days and has
    no invoice yet is in its trial: Stripe says ``trialing``, and the
    Stripe double the tests use says ``incomplete`` of it."""
    status = str(obj.get("status") or "")
    if status == "incomplete" and not obj.get("latest_invoice"):
        trial_end = obj.get("trial_end")
        if obj.get("trial_period_days") or (
            isinstance(trial_end, int) and trial_end > datetime.now(UTC).timestamp()
        ):
            return SUB_TRIALING
    return STRIPE_STATES.get(status)


def _first_item(obj: dict) -> dict:
    items = obj.get("items")
    data = items.get("data") if isinstance(items, dict) else None
    return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}


def _item_price(obj: dict) -> str | None:
    item = _first_item(obj)
    for key in ("price", "plan"):
        value = item.get(key)
        if isinstance(value, dict) and value.get("id"):
            return str(value["id"])
        if isinstance(value, str) and value:
            return value
    return None


def paid_up(row: Subscription) -> None:
    """Dunning starts over: nothing is owed. Does not commit."""
    row.past_due_since = None
    row.reminders_sent = 0


def mark_past_due(row: Subscription, at: datetime) -> str:
    """A payment of the shop failed at ``at``: an active (or trialing)
    subscription becomes ``past_due`` and dunning counts from ``at``; a
    suspended one stays suspended. Does not commit."""
    if row.status == SUB_SUSPENDED:
        return "still_suspended"
    if row.status != SUB_PAST_DUE:
        row.status = SUB_PAST_DUE
        row.reminders_sent = 0
    if row.past_due_since is None:
        row.past_due_since = at
    return SUB_PAST_DUE


def mark_paid(row: Subscription, at: datetime) -> str:
    """An invoice of the shop was paid at ``at``: a past-due or suspended
    subscription is active again at once (its storefront opens on the next
    request). Does not commit."""
    if row.status in (SUB_PAST_DUE, SUB_SUSPENDED, SUB_ACTIVE):
        restored = row.status != SUB_ACTIVE
        row.status = SUB_ACTIVE
        paid_up(row)
        return "restored" if restored else "paid"
    return "paid"
