"""Receive card payments (``/console/settings/card-payments``): the owner
connects the shop's own Stripe account through Stripe's onboarding, so
buyers' card payments go straight to it with the platform's commission
taken as an application fee. The page shows where the account stands
(details submitted, charges enabled, payouts enabled); the settings page
has a section that links here (``connect_section``).

Owner only (``shop.manage``). Starting onboarding creates the account once
and sends the browser to Stripe; Stripe sends it back to ``…/return``
(where the status is read afresh) or, when its link has expired, to
``…/refresh`` (a new link). Each view calls one function of
``app.billing.connect``.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from app.accounts.auth import current_principal, require
from app.billing import connect
from app.core.errors import KamengError
from app.core.pages import only_on
from app.extensions import db

bp = Blueprint("console_connect", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))


@bp.app_template_global()
def card_payments_status() -> connect.ConnectStatus:
    """The shop's connected account, for the settings page's section."""
    return connect.status_of(g.shop.id)


@bp.get("/settings/card-payments")
@require("shop.manage")
def card_payments():
    return render_template(
        "console/billing/card_payments.html", status=connect.status_of(g.shop.id)
    )


def _to_stripe():
    try:
        url = connect.start_onboarding(
            g.shop.id,
            return_url=url_for(".card_payments_return", _external=True),
            refresh_url=url_for(".card_payments_refresh", _external=True),
            actor=current_principal().actor,
        )
    except KamengError as err:
        db.session.rollback()
        flash(err.user_message(), "error")
        return redirect(url_for(".card_payments"))
    return redirect(url, code=303)


@bp.post("/settings/card-payments/onboard")
@require("shop.manage")
def card_payments_onboard():
    """Create the connected account (once) and go to Stripe's onboarding."""
    return _to_stripe()


@bp.get("/settings/card-payments/refresh")
@require("shop.manage")
def card_payments_refresh():
    """Stripe's link expired or was used: a new one."""
    return _to_stripe()


@bp.get("/settings/card-payments/return")
@require("shop.manage")
def card_payments_return():
    """Back from Stripe: read the account's status afresh."""
    try:
        status = connect.refresh_status(g.shop.id)
    except KamengError as err:
        db.session.rollback()
        flash(err.user_message(), "error")
        return redirect(url_for(".card_payments"))
    if status.connected:
        flash(_("Your Stripe account is connected: card payments go to it."), "success")
    else:
        flash(_("Stripe has not enabled card payments on your account yet."), "warning")
    return redirect(url_for(".card_payments"))
