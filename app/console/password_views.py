"""A forgotten password, from a shop's console (``/console/forgot``):
the shop's owner and staff are platform users, so the link sets their
platform password; it is mailed only to a member of this shop, and leads
back to this console (``/console/reset/<token>``), then to its sign-in.
The answer is the same whatever the address."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from app.accounts import resets
from app.accounts.auth import limit_reset_request, limit_sign_in
from app.accounts.forms import ForgotPasswordForm, ResetPasswordForm
from app.core.errors import KamengError
from app.core.links import shop_url
from app.core.pages import flash_error, no_store, only_on
from app.extensions import db

bp = Blueprint("console_password", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))


@bp.route("/forgot", methods=["GET", "POST"])
@limit_reset_request
def forgot():
    """Ask for a password link; the answer is the same for any address."""
    form = ForgotPasswordForm()
    sent = None
    if form.validate_on_submit():
        try:
            resets.request_reset(
                resets.PLATFORM,
                form.email.data,
                lambda token: shop_url(g.shop.slug, url_for(".reset", token=token)),
                locale=str(get_locale()),
                site_name=g.shop.name,
                members_only=True,
            )
        except KamengError as err:
            flash_error(form, err)
        else:
            sent = form.email.data
    return render_template("console/forgot.html", form=form, sent=sent)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit_sign_in
def reset(token: str):
    """Choose a new password through a mailed link; then sign in here."""
    form = ResetPasswordForm()
    try:
        resets.account_for_token(resets.PLATFORM, token)
    except resets.ResetLinkInvalid as err:
        page = render_template("console/reset.html", form=None, invalid=err.user_message())
        return no_store(page, 400)
    if form.validate_on_submit():
        try:
            resets.reset_password(resets.PLATFORM, token, form.password.data)
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            flash(_("Your password is changed. Sign in with it."), "success")
            return redirect(url_for("console.login"))
    return no_store(render_template("console/reset.html", form=form, invalid=None))
