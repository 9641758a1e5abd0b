"""The console's pricing (定价): agent tiers, price rules and coupons.

- ``/console/agent-tiers``: the tiers, best first, with the accounts on
  each and their own price rules; add one on the same page; ``/<id>``
  edits one; deleting asks first and says what follows (its accounts pay
  retail prices, its rules go with it).
- ``/console/price-rules``: the rules a page at a time, filtered by
  product (``?product_id=``, the link on a product's page), category or
  tier; ``/new`` and ``/<id>``: the form. A product is found by part of
  its name (at most 20 offered), never listed whole; prices are typed as
  ``12.50``, times in the shop's time zone.
- ``/console/coupons``: a page at a time with each one's live uses,
  searched by code and filtered on or off; switched on or off in one click;
  ``/new`` and ``/<id>``: the form. Deleting asks first.

Who may: ``pricing.view`` reads tiers, rules and coupons, ``pricing.manage``
(the owner) changes them. Each view parses the form, calls one service
(the API's: ``app.pricing.admin``, ``rule_admin``, ``coupon_admin``) and
redirects with a
message; a refused form is shown again with everything typed in it and a
message at each field. Another shop's ids are 404.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import authorize, current_principal, require
from app.catalog.categories import list_categories
from app.core.dates import shop_timezone
from app.core.errors import Conflict, KamengError
from app.core.ids import id_or_404, parse_uuid
from app.core.money import money_formatter
from app.core.pages import attempt_save, only_on
from app.core.pagination import requested_page
from app.core.redirects import safe_local_target
from app.extensions import db
from app.pricing import admin, coupon_admin, rule_admin
from app.pricing.forms import (
    CouponForm,
    RuleForm,
    TierForm,
    coupon_data,
    coupon_values,
    rule_data,
    rule_values,
    show_refusal,
    tier_data,
    tier_values,
)

bp = Blueprint("console_pricing", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PER_PAGE = 50


def _actor() -> str:
    return current_principal().actor


def _pages(total: int) -> int:
    return max((total + PER_PAGE - 1) // PER_PAGE, 1)


def _refused(err: KamengError) -> str:
    """What a page says of a refused action (the session rolled back)."""
    db.session.rollback()
    return err.user_message()


def _status(read: dict, err: KamengError | None) -> int:
    return err.status if err is not None and not read else 422


# --- agent tiers --------------------------------------------------------------------


@bp.route("/agent-tiers", methods=["GET", "POST"])
@require("pricing.view")
def tiers():
    """The tiers; POST adds one (the form under the list)."""
    form = TierForm()
    stray: list[str] = []
    status = 200
    if request.method == "POST":
        authorize(current_principal(), "pricing.manage")
        data, read = tier_data(form, g.shop.currency)
        made, err = attempt_save(
            lambda: admin.create_tier(data, actor=_actor()), lambda: admin.check_tier(data), read
        )
        if made is not None:
            flash(_("Tier %(name)s added.", name=made.name), "success")
            return redirect(url_for(".tiers"))
        stray, status = show_refusal(form, read, err), _status(read, err)
    return render_template(
        "console/pricing/tiers.html",
        tiers=admin.list_tiers(),
        form=form.prepare(),
        stray=stray,
        money=money_formatter(g.shop.currency),
    ), status


@bp.route("/agent-tiers/<tier_id>", methods=["GET", "POST"])
@require("pricing.view")
def tier(tier_id: str):
    """One tier's form."""
    view = admin.get_tier(id_or_404(tier_id, "No such agent tier."))
    stray: list[str] = []
    status = 200
    if request.method == "GET":
        form = TierForm(data=tier_values(view.tier, g.shop.currency))
    else:
        authorize(current_principal(), "pricing.manage")
        form = TierForm()
        data, read = tier_data(form, g.shop.currency)
        saved, err = attempt_save(
            lambda: admin.update_tier(view.id, data, actor=_actor()),
            lambda: admin.check_tier(data, view.id),
            read,
        )
        if saved is not None:
            flash(_("Tier %(name)s saved.", name=saved.name), "success")
            return redirect(url_for(".tiers"))
        stray, status = show_refusal(form, read, err), _status(read, err)
    return render_template(
        "console/pricing/tier.html", view=view, form=form.prepare(), stray=stray
    ), status


@bp.post("/agent-tiers/<tier_id>/delete")
@require("pricing.manage")
def tier_delete(tier_id: str):
    """Delete a tier (the form asked first, with what follows)."""
    done = admin.delete_tier(id_or_404(tier_id, "No such agent tier."), actor=_actor())
    flash(
        _(
            "Tier %(name)s deleted: %(accounts)s accounts now pay retail prices, "
            "%(rules)s of its price rules were deleted with it.",
            name=done.name,
            accounts=done.accounts_to_retail,
            rules=done.price_rules_deleted,
        ),
        "success",
    )
    return redirect(url_for(".tiers"))


# --- price rules --------------------------------------------------------------------


@bp.get("/price-rules")
@require("pricing.view")
def rules():
    """The rules, a page at a time, filtered by product, category or tier."""
    wanted = {
        key: parse_uuid(request.args.get(key) or "")
        for key in ("product_id", "category_id", "tier_id")
    }
    page = requested_page(request.args.get("page"))
    rows, total = rule_admin.list_rules(**wanted, page=page, per_page=PER_PAGE)
    product = rule_admin.product_choices(search=None, chosen=wanted["product_id"])
    return render_template(
        "console/pricing/rules.html",
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total),
        names=rule_admin.names_for(rows),
        wanted=wanted,
        filter_args={k: str(v) for k, v in wanted.items() if v},
        product_name=product[0][1] if product else None,
        categories=list_categories(),
        tiers=admin.list_tiers(),
        stage_of=rule_admin.stage_of_rule,
        money=money_formatter(g.shop.currency),
    )


def _picker(form, found: str | None) -> tuple[list, dict]:
    """The products the form offers (the chosen one and a search's
    matches, never the catalogue), and what the page says of the search."""
    chosen = form.product_id.data or None
    products = rule_admin.product_choices(search=found, chosen=chosen)
    matches = [p for p in products if str(p[0]) != chosen]
    if found and len(matches) == 1 and not chosen:
        form.product_id.data = str(matches[0][0])
    return products, {"searched": found, "matches": len(matches)}


def _rule_page(form: RuleForm, rule=None, stray=(), found=None):
    products, search = _picker(form, found)
    return render_template(
        "console/pricing/rule.html",
        form=form.prepare(list_categories(), admin.list_tiers(), products),
        rule=rule,
        stray=list(stray),
        search=search,
        currency=g.shop.currency,
    )


def _finding(form) -> str | None:
    """The product search asked for with the form's "Find" button, if any:
    the form comes back with the matches and everything typed, unsaved."""
    if "find" not in request.form:
        return None
    form.scope.data = "product"
    return (form.product_search.data or "").strip()


@bp.route("/price-rules/new", methods=["GET", "POST"])
@require("pricing.manage")
def rule_new():
    """A new rule (for ``?product_id=`` when given)."""
    if request.method == "GET":
        product = parse_uuid(request.args.get("product_id") or "")
        form = RuleForm(data={"scope": "product", "product_id": str(product)} if product else None)
        return _rule_page(form)
    form = RuleForm()
    found = _finding(form)
    if found is not None:
        return _rule_page(form, found=found)
    data, read = rule_data(form, g.shop.currency, shop_timezone())
    made, err = attempt_save(
        lambda: rule_admin.create_rule(data, actor=_actor()),
        lambda: rule_admin.check_rule(data),
        read,
    )
    if made is not None:
        flash(_("Price rule added."), "success")
        return redirect(_rules_of(made))
    return _rule_page(form, stray=show_refusal(form, read, err)), _status(read, err)


def _rules_of(rule) -> str:
    """The list a rule is seen in: its product's rules, else all."""
    if rule.product_id is not None:
        return url_for(".rules", product_id=rule.product_id)
    return url_for(".rules")


@bp.route("/price-rules/<rule_id>", methods=["GET", "POST"])
@require("pricing.view")
def rule(rule_id: str):
    """One rule's form."""
    found_rule = rule_admin.get_rule(id_or_404(rule_id, "No such price rule."))
    if request.method == "GET":
        form = RuleForm(data=rule_values(found_rule, g.shop.currency, shop_timezone()))
        return _rule_page(form, found_rule)
    authorize(current_principal(), "pricing.manage")
    form = RuleForm()
    found = _finding(form)
    if found is not None:
        return _rule_page(form, found_rule, found=found)
    data, read = rule_data(form, g.shop.currency, shop_timezone())
    saved, err = attempt_save(
        lambda: rule_admin.update_rule(found_rule.id, data, actor=_actor()),
        lambda: rule_admin.check_rule(data, found_rule.id),
        read,
    )
    if saved is not None:
        flash(_("Price rule saved."), "success")
        return redirect(_rules_of(saved))
    return _rule_page(form, found_rule, show_refusal(form, read, err)), _status(read, err)


@bp.post("/price-rules/<rule_id>/delete")
@require("pricing.manage")
def rule_delete(rule_id: str):
    """Delete a rule (the form asked first)."""
    rule_admin.delete_rule(id_or_404(rule_id, "No such price rule."), actor=_actor())
    flash(_("Price rule deleted."), "success")
    return redirect(url_for(".rules"))


# --- coupons --------------------------------------------------------------------------

STATES = {"on": True, "off": False}


@bp.get("/coupons")
@require("pricing.view")
def coupons():
    """The coupons with their live uses, searched by code, on or off."""
    q = (request.args.get("q") or "").strip()[:32]
    state = request.args.get("state") or ""
    state = state if state in STATES else ""
    page = requested_page(request.args.get("page"))
    rows, total = coupon_admin.list_coupons(
        q=q or None, active=STATES.get(state), page=page, per_page=PER_PAGE
    )
    return render_template(
        "console/pricing/coupons.html",
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total),
        q=q,
        state=state,
        names=rule_admin.names_for([row.coupon for row in rows]),
        money=money_formatter(g.shop.currency),
    )


def _coupon_page(form: CouponForm, view=None, stray=(), found=None):
    products, search = _picker(form, found)
    return render_template(
        "console/pricing/coupon.html",
        form=form.prepare(list_categories(), products),
        view=view,
        stray=list(stray),
        search=search,
        currency=g.shop.currency,
    )


def _coupon_refusal(form: CouponForm, read: dict, err) -> list[str]:
    field_of = {"amount": "percent"} if form.kind.data == "percent" else None
    return show_refusal(form, read, err, field_of=field_of)


@bp.route("/coupons/new", methods=["GET", "POST"])
@require("pricing.manage")
def coupon_new():
    """A new coupon."""
    if request.method == "GET":
        return _coupon_page(CouponForm())
    form = CouponForm()
    found = _finding(form)
    if found is not None:
        return _coupon_page(form, found=found)
    data, read = coupon_data(form, g.shop.currency, shop_timezone())
    made, err = attempt_save(
        lambda: coupon_admin.create_coupon(data, actor=_actor()),
        lambda: coupon_admin.check_coupon(data),
        read,
    )
    if made is not None:
        flash(_("Coupon %(code)s added.", code=made.code), "success")
        return redirect(url_for(".coupons"))
    return _coupon_page(form, stray=_coupon_refusal(form, read, err)), _status(read, err)


@bp.route("/coupons/<coupon_id>", methods=["GET", "POST"])
@require("pricing.view")
def coupon(coupon_id: str):
    """One coupon's form, with its uses."""
    view = coupon_admin.get_coupon(id_or_404(coupon_id, "No such coupon."))
    if request.method == "GET":
        form = CouponForm(data=coupon_values(view.coupon, g.shop.currency, shop_timezone()))
        return _coupon_page(form, view)
    authorize(current_principal(), "pricing.manage")
    form = CouponForm()
    found = _finding(form)
    if found is not None:
        return _coupon_page(form, view, found=found)
    data, read = coupon_data(form, g.shop.currency, shop_timezone())
    saved, err = attempt_save(
        lambda: coupon_admin.update_coupon(view.id, data, actor=_actor()),
        lambda: coupon_admin.check_coupon(data, view.id),
        read,
    )
    if saved is not None:
        flash(_("Coupon %(code)s saved.", code=saved.code), "success")
        return redirect(url_for(".coupons"))
    return _coupon_page(form, view, _coupon_refusal(form, read, err)), _status(read, err)


@bp.post("/coupons/<coupon_id>/active")
@require("pricing.manage")
def coupon_active(coupon_id: str):
    """Switch a coupon on or off (``active`` is ``1`` or ``0``)."""
    on = request.form.get("active") == "1"
    view = coupon_admin.update_coupon(
        id_or_404(coupon_id, "No such coupon."), {"active": on}, actor=_actor()
    )
    if on:
        flash(_("Coupon %(code)s is on: buyers may use it.", code=view.code), "success")
    else:
        flash(_("Coupon %(code)s is off: buyers are refused it.", code=view.code), "success")
    return redirect(safe_local_target(request.form.get("back"), url_for(".coupons")))


@bp.post("/coupons/<coupon_id>/delete")
@require("pricing.manage")
def coupon_delete(coupon_id: str):
    """Delete a coupon no order used (the form asked first); a used one is
    refused with the reason."""
    ident = id_or_404(coupon_id, "No such coupon.")
    try:
        code = coupon_admin.delete_coupon(ident, actor=_actor())
    except Conflict as err:  # used by orders
        flash(_refused(err), "error")
        return redirect(url_for(".coupon", coupon_id=ident))
    flash(_("Coupon %(code)s deleted.", code=code), "success")
    return redirect(url_for(".coupons"))
