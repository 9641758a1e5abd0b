"""The console's customers (客户, ``/console/customers``): the shop's buyers,
agents and suppliers with their balances, one customer's balance history,
the owner's manual balance adjustment (余额调整), and an account's role,
agent tier and upline (上级, chosen by email) with its downline counted.

An adjustment is asked for, then confirmed: the first post only checks
the amount and reason and shows what will happen (the amount, the balance
after it); the second, from that confirmation, moves the money through
``app.ledger.adjustments`` (one ledger transaction, on the audit record).
Each form carries its own key, so sending it twice moves the money once.
A bad amount or a missing reason is shown at its field, with what was
typed kept. The role, tier and upline form calls
``app.accounts.standing.update_account`` (the API's PATCH), which checks
the upline chain; a refusal is shown at its field with what was typed.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts import customers as customer_service
from app.accounts import standing as standing_service
from app.accounts.auth import current_principal, require
from app.accounts.models import SHOP_ROLES
from app.accounts.permissions import authorize
from app.core.errors import KamengError, NotFound, ValidationFailed
from app.core.ids import id_or_404
from app.core.money import format_money, money_formatter, parse_signed_money
from app.core.pages import only_on
from app.extensions import db
from app.ledger.adjustments import MAX_REASON, adjust_wallet
from app.pricing.admin import list_tiers
from app.pricing.forms import show_refusal

bp = Blueprint("console_customers", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PER_PAGE = 50
ROLE_LABELS = {"customer": _l("Buyers"), "agent": _l("Agents"), "supplier": _l("Suppliers")}


class AdjustForm(FlaskForm):
    amount = StringField(
        _l("Amount"),
        validators=[DataRequired(message=_l("Type an amount such as 12.50 or -3."))],
        description=_l("12.50 adds to the balance; -3 takes 3 away."),
    )
    reason = StringField(
        _l("Reason"),
        validators=[
            DataRequired(
                message=_l("Give a reason: it is kept with the change and shown to the customer.")
            ),
            Length(max=MAX_REASON),
        ],
        description=_l("The customer sees it in their balance history."),
    )
    form_key = HiddenField()
    confirmed = HiddenField()


class StandingForm(FlaskForm):
    """An account's role, tier and upline (by email; blank for none)."""

    role = SelectField(_l("Role"), choices=[], validate_choice=False)
    tier_id = SelectField(_l("Agent tier"), choices=[], validate_choice=False)
    upline_email = StringField(_l("Upline's email"))

    def prepare(self, tiers) -> StandingForm:
        self.role.choices = [
            ("customer", _("buyer")),
            ("agent", _("agent")),
            ("supplier", _("supplier")),
        ]
        self.tier_id.choices = [("", _("None: retail prices"))] + [
            (str(t.id), t.name) for t in tiers
        ]
        return self


def _standing_form(standing) -> StandingForm:
    account = standing.account
    return StandingForm(
        formdata=None,
        data={
            "role": account.role,
            "tier_id": str(account.tier_id or ""),
            "upline_email": standing.upline.email if standing.upline else "",
        },
    )


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.get("/customers")
@require("accounts.view")
def customers():
    search = (request.args.get("q") or "").strip()
    role = request.args.get("role") or ""
    role = role if role in SHOP_ROLES else ""
    page = _page()
    rows, total = customer_service.list_customers(
        search=search or None,
        role=role or None,
        page=page,
        per_page=PER_PAGE,
        currency=g.shop.currency,
    )
    return render_template(
        "console/customers.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        search=search,
        role=role,
        roles=ROLE_LABELS,
        money=money_formatter(g.shop.currency),
    )


@bp.route("/customers/<account_id>", methods=["GET", "POST"])
@require("accounts.view")
def customer(account_id: str):
    ident = id_or_404(account_id, NotFound.title)
    form = AdjustForm()
    review = None
    if request.method == "POST":
        authorize(current_principal(), "accounts.manage")
        review = _adjust(ident, form)
        if review is True:
            return redirect(url_for(".customer", account_id=ident))
    return _customer_page(ident, form, review)


def _customer_page(ident: uuid.UUID, form: AdjustForm, review=None, standing_form=None):
    if not form.form_key.data:
        form.form_key.data = uuid.uuid4().hex
    wallet = customer_service.customer_wallet(ident, page=_page(), per_page=PER_PAGE)
    standing = standing_service.standing_of(ident)
    return render_template(
        "console/customer.html",
        wallet=wallet,
        form=form,
        review=review,
        standing=standing,
        standing_form=(standing_form or _standing_form(standing)).prepare(list_tiers()),
        page=_page(),
        pages=max((wallet.total + PER_PAGE - 1) // PER_PAGE, 1),
        money=money_formatter(wallet.currency),
    )


@bp.post("/customers/<account_id>/standing")
@require("accounts.manage")
def standing(account_id: str):
    """Set the account's role, tier and upline (by email; blank: none)."""
    ident = id_or_404(account_id, NotFound.title)
    form = StandingForm()
    try:
        standing_service.update_account(
            ident,
            {
                "role": form.role.data,
                "tier_id": form.tier_id.data or None,
                "upline_email": form.upline_email.data or "",
            },
            actor=current_principal().actor,
        )
    except ValidationFailed as err:
        db.session.rollback()
        stray = show_refusal(form, {}, err, field_of={"upline_id": "upline_email"})
        for message in stray:
            flash(message, "error")
        return _customer_page(ident, AdjustForm(formdata=None), standing_form=form), 422
    flash(_("Role, tier and upline saved."), "success")
    return redirect(url_for(".customer", account_id=ident))


def _adjust(account_id: uuid.UUID, form: AdjustForm):
    """Check the form; on the confirming post, make the adjustment. True
    when it was made; a review (what will happen) to show; else None,
    with the errors on the form's fields."""
    if not form.validate():
        return None
    currency = g.shop.currency
    try:
        amount = parse_signed_money(form.amount.data, currency)
    except KamengError as err:
        form.amount.errors = [err.user_message()]
        return None
    if amount == 0:
        form.amount.errors = [_("Type an amount other than zero.")]
        return None
    if form.confirmed.data != "1":
        wallet = customer_service.customer_wallet(account_id, per_page=1)
        return {
            "amount": amount,
            "after": wallet.balance + amount,
            "negative": wallet.balance + amount < 0,
        }
    try:
        done = adjust_wallet(
            account_id,
            amount,
            form.reason.data,
            actor=current_principal().actor,
            form_key=form.form_key.data,
            currency=currency,
        )
    except KamengError as err:
        db.session.rollback()
        field = next(iter(err.errors), None)
        target = getattr(form, field, None) if field in ("amount", "reason") else None
        if target is not None:
            target.errors = [err.user_message()]
        else:
            flash(err.user_message(), "error")
        form.confirmed.data = ""
        return None
    if done.made:
        flash(
            _(
                "Balance changed by %(amount)s. It is now %(balance)s.",
                amount=format_money(done.amount, done.currency),
                balance=format_money(done.balance, done.currency),
            ),
            "success",
        )
    else:
        flash(_("That change was made already; nothing more was done."), "success")
    return True
