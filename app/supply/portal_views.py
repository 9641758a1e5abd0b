"""The supplier's portal on a shop host (``/account/supply``, 供货商后台): a
signed-in supplier account (``supplier.stock``) sees the products it is a
source of (name, cost, codes available and sold), uploads codes for each
(pasted one a line or a ``.txt`` file; the answer counts what was added,
what was held already and what is not a code), its sales (paged, times in
the shop's zone, never a code) and what the shop owes it, with a link to
withdraw it (``/account/withdrawals``). ``/account/supply/<product>/take-back``
takes its unsold codes of a product off sale (asked first).

Any other signed-in account is sent to its account page; a visitor to the
sign-in page. Views parse, call ``app.supply.pool`` and render the theme's
page.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import current_principal, require
from app.agents import withdrawals
from app.core.errors import KamengError, NotFound, ValidationFailed
from app.core.ids import id_or_404, parse_uuid
from app.core.money import money_formatter
from app.core.pages import only_on
from app.core.pagination import Pager, requested_page
from app.core.themes import render_shop
from app.extensions import db
from app.supply import pool
from app.supply.portal_forms import UploadForm

bp = Blueprint("supplier_portal", __name__, url_prefix="/account")
bp.before_request(only_on("shop"))

SALES_PER_PAGE = 20
#: the largest .txt file read (10,000 codes of 500 characters, and line ends)
MAX_FILE_BYTES = 5_100_000


def _text_of(form: UploadForm) -> str:
    """The pasted codes and the chosen file's, one text (file second)."""
    text = form.codes.data or ""
    upload = form.file.data
    if upload is not None and getattr(upload, "filename", ""):
        raw = upload.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ValidationFailed(
                "The file is too large.",
                errors={"file": ["Too large."]},
                message=_("The file is too large: at most 10,000 codes in one upload."),
            )
        text = f"{text}\n{pool.decode_upload(raw)}" if text.strip() else pool.decode_upload(raw)
    return text


@bp.route("/supply", methods=["GET", "POST"])
@require("supplier.stock")
def supply():
    account_id = current_principal().shop_account_id
    form = UploadForm()
    problem: dict[str, str] = {}
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        product_id = parse_uuid(form.product_id.data or "")
        try:
            if product_id is None:
                raise NotFound("No such product.", message=_("Choose one of your products."))
            done = pool.upload_codes(
                account_id, product_id, _text_of(form), actor=current_principal().actor
            )
        except KamengError as err:
            db.session.rollback()
            problem[str(product_id)] = err.user_message()
            status = 422
        else:
            flash(
                _(
                    "Added %(added)s codes. Held already, not added again: %(duplicates)s. "
                    "Not codes: %(invalid)s.",
                    added=done.added,
                    duplicates=done.duplicates,
                    invalid=done.invalid,
                ),
                "success",
            )
            return redirect(url_for(".supply"))
    elif request.method == "POST":
        flash(_("The form had expired. Send it again."), "error")
    page = requested_page(request.args.get("page"))
    sales, total = pool.sales_page(account_id, page=page, per_page=SALES_PER_PAGE)
    posted_for = form.product_id.data if request.method == "POST" else None
    products = pool.supplied_products(account_id)
    shown = {str(p.product_id) for p in products}
    for key in [k for k in problem if k not in shown]:
        flash(problem.pop(key), "error")  # no product's form to show it beside
    return render_shop(
        "account/supply.html",
        products=products,
        sales=sales,
        pager=Pager(page, SALES_PER_PAGE, total),
        payable=pool.payable_of(account_id),
        open_count=withdrawals.open_count(account_id),
        form=form,
        posted_for=posted_for,
        problem=problem,
        money=money_formatter(g.shop.currency),
    ), status


@bp.post("/supply/<product_id>/take-back")
@require("supplier.stock")
def take_back(product_id: str):
    """Take the supplier's unsold codes of one product off sale (the page
    asked first)."""
    ident = id_or_404(product_id, NotFound.title)
    try:
        taken = pool.take_back_codes(
            current_principal().shop_account_id, ident, actor=current_principal().actor
        )
    except KamengError as err:
        db.session.rollback()
        flash(err.user_message(), "error")
    else:
        flash(
            _("Took back %(n)s unsold codes: the shop can no longer sell them.", n=taken), "success"
        )
    return redirect(url_for(".supply"))
