"""The console's suppliers (供货商) and product sources (货源).

- ``/console/suppliers``: the suppliers a page at a time, each with its
  record (success rate, median and p95 latency, flagged when under the
  shop's threshold) and its status actions (vet, suspend, blacklist; each
  asks first); ``/new`` adds one, ``/<id>`` edits one. A secret is typed in
  and never shown back: left blank on an edit, the stored one stays.
- ``/console/suppliers/<id>`` of a supplier account also shows its pool
  (codes available, sold, withdrawn), what the shop owes it and its sales,
  a page at a time (``app.supply.pool.operator_pool``).
- ``/console/products/<id>/sources``: a product's sources with their last
  synced stock; add one under the list, ``/<source_id>`` edits one,
  removing asks first.

Who may: ``supply.view`` reads, ``supply.manage`` (the owner) changes.
Each view parses the form, calls one service of ``app.supply.suppliers``
or ``app.supply.sources`` (the API's) and redirects with a message; a
refused form is shown again with what was typed and a message at each
field. Another shop's ids are 404.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import authorize, current_principal, require
from app.core.errors import KamengError, NotFound
from app.core.ids import id_or_404
from app.core.money import money_formatter
from app.core.pages import attempt_save, only_on
from app.core.pagination import Pager, requested_page
from app.extensions import db
from app.supply import pool, sources, suppliers
from app.supply.forms import (
    SourceForm,
    SupplierForm,
    kind_label,
    show_refusal,
    source_data,
    source_values,
    status_label,
    supplier_data,
    supplier_values,
)
from app.supply.models import SUPPLIER_STATUSES

bp = Blueprint("console_supply", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PER_PAGE = 50


def _actor() -> str:
    return current_principal().actor


def _helpers() -> dict:
    return {
        "money": money_formatter(g.shop.currency),
        "kind_label": kind_label,
        "status_label": status_label,
    }


# --- suppliers ----------------------------------------------------------------------


@bp.get("/suppliers")
@require("supply.view")
def suppliers_list():
    """The suppliers by name, a page at a time, with their records."""
    status = request.args.get("status")
    status = status if status in SUPPLIER_STATUSES else None
    page = requested_page(request.args.get("page"))
    rows, total = suppliers.list_suppliers(status=status, page=page, per_page=PER_PAGE)
    return render_template(
        "console/supply/suppliers.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        status=status,
        statuses=SUPPLIER_STATUSES,
        **_helpers(),
    )


def _supplier_form(view=None):
    editing = view is not None
    status = 200
    stray: list[str] = []
    if request.method == "GET":
        form = SupplierForm(data=supplier_values(view.supplier, g.shop.currency) if view else None)
    else:
        authorize(current_principal(), "supply.manage")
        form = SupplierForm()
        if editing:
            form.kind.data = view.kind
        data, read = supplier_data(form, g.shop.currency, editing=editing)
        if editing:
            saved, err = attempt_save(
                lambda: suppliers.update_supplier(view.id, data, actor=_actor()),
                lambda: suppliers.check_supplier(data, view.id),
                read,
            )
        else:
            saved, err = attempt_save(
                lambda: suppliers.create_supplier(data, actor=_actor()),
                lambda: suppliers.check_supplier(data),
                read,
            )
        if saved is not None:
            flash(_("Supplier %(name)s saved.", name=saved.name), "success")
            return redirect(url_for(".supplier", supplier_id=saved.id))
        stray = show_refusal(form, read, err)
        status = err.status if err is not None and not read else 422
    form.prepare(suppliers.supplier_accounts(), editing=editing)
    page = requested_page(request.args.get("page"))
    account_pool = (
        pool.operator_pool(view.supplier, page=page, per_page=PER_PAGE) if editing else None
    )
    return render_template(
        "console/supply/supplier.html",
        view=view,
        form=form,
        stray=stray,
        account_pool=account_pool,
        pager=Pager(page, PER_PAGE, account_pool.total) if account_pool else None,
        **_helpers(),
    ), status


@bp.route("/suppliers/new", methods=["GET", "POST"])
@require("supply.manage")
def supplier_new():
    """The form for a new supplier."""
    return _supplier_form()


@bp.route("/suppliers/<supplier_id>", methods=["GET", "POST"])
@require("supply.view")
def supplier(supplier_id: str):
    """One supplier's form and record."""
    return _supplier_form(suppliers.get_supplier(id_or_404(supplier_id, "No such supplier.")))


@bp.post("/suppliers/<supplier_id>/status")
@require("supply.manage")
def supplier_status(supplier_id: str):
    """Vet, suspend or blacklist a supplier (the form asked first)."""
    ident = id_or_404(supplier_id, "No such supplier.")
    try:
        done = suppliers.set_status(ident, request.form.get("status", ""), actor=_actor())
    except KamengError as err:
        db.session.rollback()
        if isinstance(err, NotFound):
            raise
        flash(err.user_message(), "error")
        return redirect(url_for(".suppliers_list"))
    flash(
        _(
            "Supplier %(name)s is now: %(status)s.",
            name=done.name,
            status=status_label(done.status),
        ),
        "success",
    )
    if request.form.get("back") == "edit":
        return redirect(url_for(".supplier", supplier_id=ident))
    return redirect(url_for(".suppliers_list"))


@bp.post("/suppliers/<supplier_id>/delete")
@require("supply.manage")
def supplier_delete(supplier_id: str):
    """Delete a supplier and its sources (the form asked first)."""
    ident = id_or_404(supplier_id, "No such supplier.")
    try:
        suppliers.delete_supplier(ident, actor=_actor())
    except KamengError as err:
        db.session.rollback()
        if isinstance(err, NotFound):
            raise
        flash(err.user_message(), "error")
        return redirect(url_for(".supplier", supplier_id=ident))
    flash(_("Supplier deleted."), "success")
    return redirect(url_for(".suppliers_list"))


# --- a product's sources ------------------------------------------------------------


def _sources_page(product_id, form, stray, status, editing=None):
    page = sources.sources_page(product_id)
    form.prepare(page.choices)
    return render_template(
        "console/supply/sources.html",
        page=page,
        form=form,
        stray=stray,
        editing=editing,
        **_helpers(),
    ), status


@bp.route("/products/<product_id>/sources", methods=["GET", "POST"])
@require("supply.view")
def product_sources(product_id: str):
    """The product's sources; POST links a new one (the form under the list)."""
    ident = id_or_404(product_id, "No such product.")
    form = SourceForm()
    stray: list[str] = []
    status = 200
    if request.method == "POST":
        authorize(current_principal(), "supply.manage")
        data, read = source_data(form, g.shop.currency)
        made, err = attempt_save(
            lambda: sources.add_source(ident, data, actor=_actor()),
            lambda: sources.check_source(ident, data),
            read,
        )
        if made is not None:
            flash(_("Source added."), "success")
            return redirect(url_for(".product_sources", product_id=ident))
        stray = show_refusal(form, read, err)
        status = err.status if err is not None and not read else 422
    return _sources_page(ident, form, stray, status)


@bp.route("/products/<product_id>/sources/<source_id>", methods=["GET", "POST"])
@require("supply.view")
def product_source(product_id: str, source_id: str):
    """One source's form, on its product's sources page."""
    ident = id_or_404(product_id, "No such product.")
    source = sources.find_source(ident, id_or_404(source_id, "No such source."))
    stray: list[str] = []
    status = 200
    if request.method == "GET":
        form = SourceForm(data=source_values(source, g.shop.currency))
    else:
        authorize(current_principal(), "supply.manage")
        form = SourceForm()
        data, read = source_data(form, g.shop.currency)
        saved, err = attempt_save(
            lambda: sources.update_source(ident, source.id, data, actor=_actor()),
            lambda: sources.check_source(ident, data, source.id),
            read,
        )
        if saved is not None:
            flash(_("Source saved."), "success")
            return redirect(url_for(".product_sources", product_id=ident))
        stray = show_refusal(form, read, err)
        status = err.status if err is not None and not read else 422
    return _sources_page(ident, form, stray, status, editing=source.id)


@bp.post("/products/<product_id>/sources/<source_id>/delete")
@require("supply.manage")
def product_source_delete(product_id: str, source_id: str):
    """Unlink a source (the form asked first)."""
    ident = id_or_404(product_id, "No such product.")
    sources.remove_source(ident, id_or_404(source_id, "No such source."), actor=_actor())
    flash(_("Source removed."), "success")
    return redirect(url_for(".product_sources", product_id=ident))
