"""A forgotten password, from a shop's console (``/console/forgot``):
the shop's owner and staff are platform users, so the link sets their
platform password; it is mailed only to a member of this shop, and leads
back to this console (``/console/reset/<token>``), then to its sign-in.
The answer is the same whatever the address."""

from __future__ import annotations

from flask import Blueprint, g, render_template, url_for

from app.accounts import reset_pages, resets
from app.accounts.auth import limit_reset_request, limit_sign_in
from app.core.links import shop_url
from app.core.pages import only_on

bp = Blueprint("console_password", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))


@bp.route("/forgot", methods=["GET", "POST"])
@limit_reset_request
def forgot():
    """Ask for a password link; the answer is the same for any address."""
    return reset_pages.forgot_page(
        resets.PLATFORM,
        lambda token: shop_url(g.shop.slug, url_for(".reset", token=token)),
        lambda **page: render_template("console/forgot.html", **page),
        site_name=g.shop.name,
        members_only=True,
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit_sign_in
def reset(token: str):
    """Choose a new password through a mailed link; then sign in here."""
    return reset_pages.reset_page(
        resets.PLATFORM,
        token,
        lambda **page: render_template("console/reset.html", **page),
        url_for("console.login"),
    )
