"""The platform site (apex host): landing, operator sign-up and sign-in,
"my shops", a forgotten password (``/forgot`` mails a link to
``/reset/<token>``). The platform owner's console is ``admin_views``."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts import reset_pages, resets, services
from app.accounts.auth import (
    current_principal,
    limit_reset_request,
    limit_sign_in,
    principal_for_platform_user,
    require,
    sign_in,
    sign_out,
)
from app.accounts.forms import (
    LoginForm,
    NewShopForm,
    ShopSignupForm,
)
from app.accounts.handoff import issue_handoff
from app.accounts.shops import ShopQuotaReached, open_shop
from app.core.errors import KamengError, NotFound
from app.core.links import platform_url, shop_url
from app.core.pages import flash_error, only_on
from app.core.redirects import safe_local_target
from app.extensions import db, limiter

bp = Blueprint("platform", __name__)
bp.before_request(only_on("platform"))

#: Opening shops, by sign-up or "new shop": SHOP_CREATE_RATE_LIMIT per client
#: address, one budget for both forms. Only a shop opened (the redirect that
#: follows) counts, so a form sent back with a mistake costs nothing.
limit_shop_creation = limiter.shared_limit(
    lambda: current_app.config["SHOP_CREATE_RATE_LIMIT"],
    scope="open-shop",
    key_func=lambda: request.remote_addr or "-",
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 302,
)


def _show_error(form, err: KamengError) -> None:
    if isinstance(err, ShopQuotaReached):
        flash(err.user_message(), "error")
    else:
        flash_error(form, err)


def landing():
    return render_template("platform/landing.html", principal=current_principal())


@bp.route("/signup", methods=["GET", "POST"])
@limit_sign_in
@limit_shop_creation
def signup():
    form = ShopSignupForm()
    if form.validate_on_submit():
        try:
            user, tenant = services.sign_up_operator(
                form.email.data,
                form.password.data,
                shop_slug=form.slug.data,
                shop_name=form.shop_name.data,
            )
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            sign_in(principal_for_platform_user(user), user)
            flash(_("Your shop %(name)s is open.", name=tenant.name), "success")
            return redirect(url_for("platform.shops", created=tenant.slug))
    return render_template("platform/signup.html", form=form, domain=_domain())


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate_platform_user(form.email.data, form.password.data)
        if user is None:
            flash(_("Wrong email or password."), "error")
        else:
            sign_in(principal_for_platform_user(user), user, remember=form.remember.data)
            return redirect(safe_local_target(request.args.get("next"), url_for("platform.shops")))
    return render_template("platform/login.html", form=form)


@bp.route("/forgot", methods=["GET", "POST"])
@limit_reset_request
def forgot():
    """Ask for a password link; the answer is the same for any address."""
    return reset_pages.forgot_page(
        resets.PLATFORM,
        lambda token: platform_url(url_for(".reset", token=token)),
        lambda **page: render_template("platform/forgot.html", **page),
        site_name=current_app.config["PLATFORM_NAME"],
    )


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit_sign_in
def reset(token: str):
    """Choose a new password through a mailed link; then sign in with it."""
    return reset_pages.reset_page(
        resets.PLATFORM,
        token,
        lambda **page: render_template("platform/reset.html", **page),
        url_for(".login"),
    )


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("index"))


@bp.route("/shops", methods=["GET", "POST"])
@require("platform.console")
@limit_shop_creation
def shops():
    principal = current_principal()
    form = NewShopForm()
    if form.validate_on_submit():
        user = services.get_platform_user(principal.id)
        try:
            tenant = open_shop(form.slug.data, form.shop_name.data, user)
        except KamengError as err:
            db.session.rollback()
            _show_error(form, err)
        else:
            flash(_("Your shop %(name)s is open.", name=tenant.name), "success")
            return redirect(url_for("platform.shops", created=tenant.slug))
    rows = services.shops_of(principal.id)
    return render_template(
        "platform/shops.html",
        rows=rows,
        form=form,
        created=request.args.get("created"),
        domain=_domain(),
    )


@bp.post("/shops/<slug>/console")
@require("platform.console")
def open_console(slug: str):
    """Hand the signed-in operator over to the shop's own console session."""
    principal = current_principal()
    for _member, tenant in services.shops_of(principal.id):
        if tenant.slug == slug:
            token = issue_handoff(principal.id, tenant.id)
            return redirect(shop_url(slug, url_for("console.handoff", token=token)))
    raise NotFound(_("You are not a member of that shop."))


def _domain() -> str:
    return current_app.config["PLATFORM_DOMAIN"]
