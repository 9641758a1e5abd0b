"""The agent centre (代理中心) in the shop's account pages, and the invite
link's sign-up page ``/join/<code>``.

- ``/account/agent``: the account's tier and the tiers it can reach (buy a
  fee tier, claim a recharge tier, see how far it is); for an agent also
  the invite link, commission totals, downline and sub-shop at a glance.
  A customer sees the tiers that make it an agent.
- ``/account/agent/prices``, ``/downline``, ``/commissions``: the agent's
  price list, downline and commission, a page at a time.
- ``/account/agent/sub-shop``: the sub-shop's address, title, notice and
  markups; ``/account/agent/api-keys``: the agent's own API keys.

Every page is the signed-in account's own (a visitor is sent to sign in);
the agent-only pages send a customer to the centre's first page. Views
parse, call one service, and render the theme's page.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts import agent_keys
from app.accounts import services as accounts
from app.accounts.auth import (
    current_principal,
    limit_sign_in,
    principal_for_shop_account,
    require,
    sign_in,
)
from app.accounts.forms import ApiKeyForm, SignupForm
from app.accounts.models import ROLE_AGENT
from app.agents import downline, earnings, invites, sub_shop_settings, upgrades
from app.agents.forms import SubShopForm, TierForm
from app.agents.models import COMMISSION_STATUSES
from app.agents.sub_shop_settings import ALL_CATEGORIES, MAX_MARKUP
from app.catalog import services as catalog
from app.catalog.categories import list_categories
from app.core.errors import KamengError
from app.core.ids import id_or_404
from app.core.money import money_formatter
from app.core.pages import flash_error, no_store, only_on
from app.core.pagination import Pager, requested_page
from app.core.themes import render_shop
from app.extensions import db
from app.pricing.rules import Audience, prices_of

bp = Blueprint("agent_centre", __name__)
bp.before_request(only_on("shop"))

PRICES_PER_PAGE = 20
DOWNLINE_PER_PAGE = 20
COMMISSIONS_PER_PAGE = 20


def _account():
    return accounts.get_shop_account(current_principal().shop_account_id)


def _money():
    return money_formatter(g.shop.currency)


def _only_agents():
    """``None`` for an agent; for anyone else where to go instead."""
    account = _account()
    if account.role != ROLE_AGENT:
        flash(_("These pages are for agents. Choose a tier to become one."), "error")
        return redirect(url_for(".centre"))
    return None


def sub_shop_url(code: str) -> str:
    return f"{request.url_root.rstrip('/')}/s/{code}"


# --- the invite link ----------------------------------------------------------


@bp.route("/join/<code>", methods=["GET", "POST"])
@limit_sign_in
def join(code: str):
    """Sign up as the sub-agent of the code's owner. An unknown code is a
    404 page; a code that cannot recruit now says why; a signed-in visitor
    is told they have an account already."""
    inviter = invites.inviter(code)
    context = {"inviter": downline.mask_email(inviter.email), "code": inviter.invite_code}
    if current_user.is_authenticated:
        return render_shop("join.html", form=None, refused=None, signed_in=True, **context)
    try:
        invites.check_recruiting(inviter)
    except invites.InviteRefused as err:
        page = render_shop(
            "join.html", form=None, refused=err.user_message(), signed_in=False, **context
        )
        return page, 403
    form = SignupForm()
    if form.validate_on_submit():
        try:
            account = invites.join(code, form.email.data, form.password.data)
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            sign_in(principal_for_shop_account(account), account)
            flash(_("Welcome! You are an agent of this shop now."), "success")
            return redirect(url_for(".centre"))
    return render_shop("join.html", form=form, refused=None, signed_in=False, **context)


# --- the centre ----------------------------------------------------------------


@bp.get("/account/agent")
@require("account.self")
def centre():
    """The tier and the tiers within reach; for an agent its invite link,
    commission, downline and sub-shop at a glance."""
    account = _account()
    offer = upgrades.tier_offer(account.id)
    agent = None
    if account.role == ROLE_AGENT:
        code = invites.invite_code_of(account.id)
        sub_shop = sub_shop_settings.get_sub_shop(account.id)
        agent = {
            "invite_url": url_for(".join", code=code, _external=True),
            "totals": earnings.commission_totals(account.id),
            "recent": earnings.commissions_page(account.id, per_page=5)[0],
            "direct": downline.direct_count(account.id),
            "sub_shop": sub_shop,
            "sub_shop_url": sub_shop_url(sub_shop.code) if sub_shop else None,
        }
    return render_shop(
        "account/agent.html",
        account=account,
        offer=offer,
        can_upgrade=account.role in upgrades.UPGRADABLE_ROLES,
        agent=agent,
        money=_money(),
    )


@bp.post("/account/agent/tier")
@require("account.self")
def buy_tier():
    """Move up to the tier of the button pressed; back to the centre with
    what happened."""
    form = TierForm()
    money = _money()
    if not form.validate_on_submit():
        flash(_("Choose a tier."), "error")
        return redirect(url_for(".centre"))
    try:
        upgrade = upgrades.buy_tier(
            current_principal().shop_account_id, id_or_404(form.tier_id.data, "No such tier.")
        )
    except KamengError as err:
        db.session.rollback()
        flash(err.user_message(), "error")
    else:
        if not upgrade.changed:
            flash(_("You already hold %(tier)s.", tier=upgrade.tier.name), "success")
        elif upgrade.charged:
            flash(
                _(
                    "Welcome to %(tier)s. %(fee)s was paid from your balance.",
                    tier=upgrade.tier.name,
                    fee=money(upgrade.charged),
                ),
                "success",
            )
        else:
            flash(_("Welcome to %(tier)s.", tier=upgrade.tier.name), "success")
    return redirect(url_for(".centre"))


@bp.get("/account/agent/prices")
@require("account.self")
def prices():
    """The products on sale with the shop's price and the agent's own, a
    page at a time (``?q=`` narrows by name)."""
    elsewhere = _only_agents()
    if elsewhere:
        return elsewhere
    page = requested_page(request.args.get("page"))
    query = (request.args.get("q") or "").strip()[:100]
    items, total = catalog.list_products(
        page=page, per_page=PRICES_PER_PAGE, q=query or None, public=True
    )
    own = prices_of([i.product for i in items], Audience.of(current_principal().shop_account_id))
    return render_shop(
        "account/agent_prices.html",
        items=items,
        own=own,
        query=query,
        pager=Pager(page, PRICES_PER_PAGE, total),
        money=_money(),
    )


@bp.get("/account/agent/downline", endpoint="downline")
@require("account.self")
def downline_list():
    """The accounts below the agent, nearest first, a page at a time."""
    elsewhere = _only_agents()
    if elsewhere:
        return elsewhere
    page = requested_page(request.args.get("page"))
    members, total = downline.downline_page(
        current_principal().shop_account_id, page=page, per_page=DOWNLINE_PER_PAGE
    )
    return render_shop(
        "account/agent_downline.html",
        members=members,
        levels=downline.levels_shown(),
        pager=Pager(page, DOWNLINE_PER_PAGE, total),
    )


@bp.get("/account/agent/commissions")
@require("account.self")
def commissions():
    """The agent's commission and its totals; ``?status=`` keeps one status."""
    elsewhere = _only_agents()
    if elsewhere:
        return elsewhere
    me = current_principal().shop_account_id
    status = request.args.get("status")
    status = status if status in COMMISSION_STATUSES else None
    page = requested_page(request.args.get("page"))
    rows, total = earnings.commissions_page(
        me, status=status, page=page, per_page=COMMISSIONS_PER_PAGE
    )
    return render_shop(
        "account/agent_commissions.html",
        rows=rows,
        status=status,
        statuses=COMMISSION_STATUSES,
        totals=earnings.commission_totals(me),
        pager=Pager(page, COMMISSIONS_PER_PAGE, total),
        money=_money(),
    )


@bp.route("/account/agent/sub-shop", methods=["GET", "POST"])
@require("account.self")
def sub_shop():
    """Open or change the sub-shop: address, title, notice and a markup per
    category (blank: the markup for every other category)."""
    elsewhere = _only_agents()
    if elsewhere:
        return elsewhere
    me = current_principal().shop_account_id
    current = sub_shop_settings.get_sub_shop(me)
    categories = list_categories()
    form = SubShopForm(obj=current if request.method == "GET" else None)
    typed = _markups_shown(current, categories)
    markup_errors: dict[str, str] = {}
    if request.method == "POST":
        typed = {key: request.form.get(f"markup-{key}", "").strip() for key in typed}
        markups = _typed_markups(typed, markup_errors)
        if form.validate_on_submit() and not markup_errors:
            try:
                _saved, created = sub_shop_settings.save_sub_shop(
                    me,
                    code=form.code.data,
                    title=form.title.data,
                    notice=form.notice.data or "",
                    markups=markups,
                )
            except KamengError as err:
                db.session.rollback()
                flash_error(form, err)
            else:
                flash(
                    _("Your sub-shop is open.") if created else _("Your sub-shop is saved."),
                    "success",
                )
                return redirect(url_for(".sub_shop"))
    return render_shop(
        "account/agent_sub_shop.html",
        form=form,
        sub_shop=current,
        sub_shop_url=sub_shop_url(current.code) if current else None,
        categories=categories,
        typed=typed,
        markup_errors=markup_errors,
        max_markup=MAX_MARKUP,
    )


def _markups_shown(current, categories) -> dict[str, str]:
    """Each markup input's text: ``*`` first, then every category, as saved."""
    saved = (current.markups or {}) if current else {}
    keys = [ALL_CATEGORIES] + [str(c.id) for c in categories]
    return {key: str(saved[key]) if key in saved else "" for key in keys}


def _typed_markups(typed: dict[str, str], errors: dict[str, str]) -> dict[str, int]:
    """The markups typed as whole percents; a blank input names none, and
    anything else that is not a whole percent gets its message in ``errors``."""
    markups: dict[str, int] = {}
    for key, text in typed.items():
        if not text:
            continue
        number = text.removesuffix("%").strip()
        if number.isascii() and number.isdigit() and int(number) <= MAX_MARKUP:
            markups[key] = int(number)
        else:
            errors[key] = _("A whole percent from 0 to %(max)s.", max=MAX_MARKUP)
    return markups


@bp.route("/account/agent/api-keys", methods=["GET", "POST"])
@require("account.self")
def api_keys():
    """The agent's API keys: make one (shown once, on this answer only) or
    revoke one."""
    elsewhere = _only_agents()
    if elsewhere:
        return elsewhere
    me = current_principal().shop_account_id
    form = ApiKeyForm()
    created = None
    if form.validate_on_submit():
        try:
            key, plaintext = agent_keys.create_agent_key(me, form.name.data)
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            created = {"name": key.name, "key": plaintext}
            form = ApiKeyForm(formdata=None)
    page = render_shop(
        "account/agent_keys.html",
        form=form,
        keys=agent_keys.list_agent_keys(me),
        created=created,
        max_keys=agent_keys.MAX_LIVE_KEYS,
        api_base=f"{request.url_root.rstrip('/')}/api/v1",
    )
    return no_store(page)


@bp.post("/account/agent/api-keys/<key_id>/revoke")
@require("account.self")
def revoke_api_key(key_id: str):
    elsewhere = _only_agents()
    if elsewhere:
        return elsewhere
    key = agent_keys.revoke_agent_key(
        current_principal().shop_account_id, id_or_404(key_id, "No such API key.")
    )
    flash(_("The key “%(name)s” is revoked.", name=key.name), "success")
    return redirect(url_for(".api_keys"))
