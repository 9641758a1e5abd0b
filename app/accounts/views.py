"""Shop-account pages on a shop host: sign-up, sign-in, a forgotten
password (``/account/forgot`` mails a link to ``/account/reset/<token>``),
my account."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from app.accounts import resets, services
from app.accounts.auth import (
    current_principal,
    limit_reset_request,
    limit_sign_in,
    principal_for_shop_account,
    require,
    sign_in,
    sign_out,
)
from app.accounts.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm, SignupForm
from app.core.errors import KamengError
from app.core.links import shop_url
from app.core.pages import flash_error, no_store, only_on
from app.core.redirects import safe_local_target
from app.core.themes import render_shop
from app.extensions import db

bp = Blueprint("accounts", __name__, url_prefix="/account")
bp.before_request(only_on("shop"))


def _next_page() -> str:
    """Where to go after signing in or up: a local ``?next=``, else my account."""
    return safe_local_target(request.args.get("next"), url_for("accounts.me"))


@bp.route("/signup", methods=["GET", "POST"])
@limit_sign_in
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        try:
            account = services.create_shop_account(form.email.data, form.password.data)
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            sign_in(principal_for_shop_account(account), account)
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(_next_page())
    return render_shop("account/signup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in
def login():
    form = LoginForm()
    if form.validate_on_submit():
        account = services.authenticate_shop_account(form.email.data, form.password.data)
        if account is None:
            flash(_("Wrong email or password."), "error")
        else:
            sign_in(principal_for_shop_account(account), account, remember=form.remember.data)
            return redirect(_next_page())
    return render_shop("account/login.html", form=form)


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("index"))


@bp.get("/")
@require("account.self")
def me():
    principal = current_principal()
    account = services.get_shop_account(principal.id)
    return render_shop("account/index.html", account=account)


@bp.route("/forgot", methods=["GET", "POST"])
@limit_reset_request
def forgot():
    """Ask for a password link; the answer is the same for any address."""
    form = ForgotPasswordForm()
    sent = None
    if form.validate_on_submit():
        try:
            resets.request_reset(
                resets.SHOP,
                form.email.data,
                lambda token: shop_url(g.shop.slug, url_for(".reset", token=token)),
                locale=str(get_locale()),
                site_name=g.shop.name,
            )
        except KamengError as err:
            flash_error(form, err)
        else:
            sent = form.email.data
    return render_shop("account/forgot.html", form=form, sent=sent)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit_sign_in
def reset(token: str):
    """Choose a new password through a mailed link; then sign in with it."""
    form = ResetPasswordForm()
    try:
        resets.account_for_token(resets.SHOP, token)
    except resets.ResetLinkInvalid as err:
        return no_store(
            render_shop("account/reset.html", form=None, invalid=err.user_message()), 400
        )
    if form.validate_on_submit():
        try:
            resets.reset_password(resets.SHOP, token, form.password.data)
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            flash(_("Your password is changed. Sign in with it."), "success")
            return redirect(url_for(".login"))
    return no_store(render_shop("account/reset.html", form=form, invalid=None))
