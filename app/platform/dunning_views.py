"""Shops that owe the platform (``/admin/billing/past-due``): every shop
whose plan's payment failed, past due or already paused, the oldest debt
first, with the day its storefront pauses; and the form that gives a shop
more days of grace (``app.billing.dunning.extend_grace``, on the shop's
audit record). Platform admins only (``platform.admin``); a shop's host
has no such address (404). A refused form is shown again as typed, the
problem beside its field.
"""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.accounts.auth import current_principal, require
from app.billing import dunning
from app.billing.subscription_forms import ExtendGraceForm
from app.core.errors import KamengError
from app.core.pages import only_on
from app.extensions import db

bp = Blueprint("platform_dunning", __name__, url_prefix="/admin")
bp.before_request(only_on("platform"))


@bp.get("/billing/past-due")
@require("platform.admin")
def past_due():
    return _page(ExtendGraceForm(formdata=None))


def _page(form: ExtendGraceForm, status: int = 200):
    rows = [
        (shop, sub, dunning.suspends_at(sub), dunning.grace_days(sub))
        for shop, sub in dunning.past_due_shops()
    ]
    return render_template("platform/admin/past_due.html", rows=rows, form=form), status


@bp.post("/billing/past-due/extend")
@require("platform.admin")
def extend():
    """Give the shop more grace; the form again with the problem if refused."""
    form = ExtendGraceForm()
    raw = (form.days.data or "").strip()
    if not form.validate() or not re.fullmatch(r"\d{1,3}", raw):
        form.days.errors = [_("Type a whole number of days from 1 to 365.")]
        return _page(form, 422)
    try:
        row = dunning.extend_grace(form.shop.data or "", int(raw), actor=current_principal().actor)
    except KamengError as err:
        db.session.rollback()
        target = form.days if "days" in (err.errors or {}) else form.shop
        target.errors = [err.user_message()]
        return _page(form, err.status)
    flash(
        _(
            "%(shop)s has %(days)s days of grace now.",
            shop=(form.shop.data or "").strip().lower(),
            days=row.grace_days,
        ),
        "success",
    )
    return redirect(url_for(".past_due"))
