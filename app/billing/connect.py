"""Stripe Connect onboarding: a shop connects its own Stripe account so
buyers' card payments go straight to it, the platform's commission taken
as an application fee (``app.payments.adapters.stripe``).

``start_onboarding`` creates the shop's connected account once
(``stripe.Account.create``, type ``STRIPE_CONNECT_ACCOUNT_TYPE``: express by
default, or standard) and answers a fresh onboarding link
(``stripe.AccountLink.create``, ``account_onboarding``) with the console's
return and refresh addresses. Stripe tells us where the account stands by
the ``account.updated`` event (``apply_account_event``, from the signed
webhook at ``/billing/stripe/connect-events``) and when the operator comes
back (``refresh_status``). Once Stripe says the account can take charges,
``Tenant.stripe_account_id`` is set and card payments go to it. It is never
cleared or replaced here (refunds of earlier payments are made on it), and
a shop whose account id was typed in before onboarding existed is not
onboarded again (``Conflict``).

Each change of the shop's account is on its audit record
(``billing.connect_started``, ``billing.connect_status``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.audit import services as audit
from app.billing.invoicing import BillingUnavailable, stripe_client
from app.billing.models import ConnectAccount
from app.core.errors import Conflict
from app.extensions import db
from tenants.context import tenant_context
from tenants.models import Tenant


@dataclass(frozen=True)
class ConnectStatus:
    """Where the shop's connected account stands (``account_id`` None: none)."""

    account_id: str | None = None
    #: an account id typed in on the settings page before onboarding
    typed_account: str | None = None
    charges_enabled: bool = False
    details_submitted: bool = False
    payouts_enabled: bool = False

    @property
    def connected(self) -> bool:
        return self.account_id is not None and self.charges_enabled


def status_of(tenant_id: uuid.UUID) -> ConnectStatus:
    """The shop's connected account as last heard from Stripe. Reads only
    (no call to Stripe)."""
    row = db.session.scalar(select(ConnectAccount).where(ConnectAccount.tenant_id == tenant_id))
    typed = db.session.scalar(select(Tenant.stripe_account_id).where(Tenant.id == tenant_id))
    if row is None:
        return ConnectStatus(typed_account=typed)
    return ConnectStatus(
        row.account_id,
        typed if typed != row.account_id else None,
        row.charges_enabled,
        row.details_submitted,
        row.payouts_enabled,
    )


def _stripe_error(exc) -> BillingUnavailable:
    return BillingUnavailable(
        f"Stripe: {exc.user_message or type(exc).__name__}",
        message=_l("Stripe did not accept the request. Try again later."),
    )


def start_onboarding(tenant_id: uuid.UUID, *, return_url: str, refresh_url: str, actor: str) -> str:
    """The address of Stripe's onboarding for the shop: its connected
    account is created on first use (idempotent at Stripe by the shop's id,
    and at most one row a shop here). Commits. ``BillingUnavailable`` when
    Stripe is not set up or refuses."""
    import stripe

    client = stripe_client()
    row = db.session.scalar(select(ConnectAccount).where(ConnectAccount.tenant_id == tenant_id))
    typed = db.session.scalar(select(Tenant.stripe_account_id).where(Tenant.id == tenant_id))
    if row is None and typed:
        raise Conflict(
            "The shop already receives card payments on its Stripe account.",
            message=_l("The shop already receives card payments on its Stripe account."),
        )
    try:
        if row is None:
            tenant = db.session.get(Tenant, tenant_id)
            account = client.v1.accounts.create(
                params={
                    "type": current_app.config["STRIPE_CONNECT_ACCOUNT_TYPE"],
                    "metadata": {"kameng_tenant_id": str(tenant_id), "kameng_shop": tenant.slug},
                },
                options={"idempotency_key": f"kameng-connect-{tenant_id}"},
            )
            row = ConnectAccount(tenant_id=tenant_id, account_id=account.id)
            db.session.add(row)
            with tenant_context(tenant_id):
                audit.record(actor, "billing.connect_started", f"stripe:{account.id}")
                db.session.commit()
        link = client.v1.account_links.create(
            params={
                "account": row.account_id,
                "type": "account_onboarding",
                "return_url": return_url,
                "refresh_url": refresh_url,
            }
        )
    except stripe.StripeError as exc:
        db.session.rollback()
        raise _stripe_error(exc) from exc
    return link.url


def refresh_status(tenant_id: uuid.UUID) -> ConnectStatus:
    """Ask Stripe where the shop's account stands now (the operator is back
    from onboarding) and keep it. Commits. No account: nothing to ask."""
    import stripe

    row = db.session.scalar(select(ConnectAccount).where(ConnectAccount.tenant_id == tenant_id))
    if row is None:
        return ConnectStatus()
    try:
        account = stripe_client().v1.accounts.retrieve(row.account_id)
    except stripe.StripeError as exc:
        raise _stripe_error(exc) from exc
    _apply(
        row,
        account.to_dict() if hasattr(account, "to_dict") else dict(account),
        "stripe account check",
    )
    return status_of(tenant_id)


def apply_account_event(account: dict) -> bool:
    """Keep what an ``account.updated`` event says of a connected account
    of ours (an account we never created is ignored: False). Commits.
    Safe to repeat; an older event may arrive after a newer one, so the
    state is always the one the event carries, which Stripe sends in
    order of change (and ``refresh_status`` reads afresh)."""
    account_id = str(account.get("id") or "")
    row = db.session.scalar(select(ConnectAccount).where(ConnectAccount.account_id == account_id))
    if row is None:
        return False
    _apply(row, account, "stripe webhook")
    return True


def _apply(row: ConnectAccount, account: dict, actor: str) -> None:
    before = (row.charges_enabled, row.details_submitted, row.payouts_enabled)
    row.charges_enabled = account.get("charges_enabled") is True
    row.details_submitted = account.get("details_submitted") is True
    row.payouts_enabled = account.get("payouts_enabled") is True
    after = (row.charges_enabled, row.details_submitted, row.payouts_enabled)
    tenant = db.session.get(Tenant, row.tenant_id)
    if row.charges_enabled and tenant.stripe_account_id is None:
        # Set once and kept: refunds of earlier payments are made on it.
        tenant.stripe_account_id = row.account_id
    with tenant_context(row.tenant_id):
        if before != after:
            audit.record(
                actor,
                "billing.connect_status",
                f"stripe:{row.account_id}",
                charges_enabled=row.charges_enabled,
                details_submitted=row.details_submitted,
                payouts_enabled=row.payouts_enabled,
            )
        db.session.commit()
