"""The console's catalogue (商品管理, 卡密管理): categories, products and
their pictures, and a card product's stock.

- ``/console/categories``: the two-level tree; add, rename, move under
  another top category, re-order, delete (refused while it holds anything).
- ``/console/products``: search, filter and page in the database; put the
  chosen products on or off sale at once.
- ``/console/products/new`` and ``/console/products/<id>``: every field the
  API has, prices typed as ``12.50``; pictures uploaded, ordered, deleted.
- ``/console/products/<id>/cards``: counts, import (pasted or a file, UTF-8
  or GBK; small uploads in the request, large ones as a job whose progress
  the page polls), the codes masked, searched and paged, void, and the
  owner's audited reveal and export.

Who may: ``catalog.view`` reads the catalogue and ``catalog.manage``
changes it; ``cards.manage`` works the stock; ``cards.reveal`` (the owner)
sees codes. Another shop's ids are 404 (the tenant guard finds nothing).
Each view parses the form, calls one catalogue service (the API's) and
renders or redirects with a message; a form with errors is shown again
with everything typed in it.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from app.accounts.auth import authorize, current_principal, require
from app.billing.limits import PlanLimitReached
from app.catalog import bulk, card_reads, card_reveal, images, imports, services, stock
from app.catalog import categories as category_service
from app.catalog.forms import ProductForm, form_values, merged_errors, product_data, show_errors
from app.catalog.messages import page_errors, page_message
from app.catalog.models import CARD_STATUSES, PRODUCT_STATUSES
from app.core.errors import KamengError, NotFound, ValidationFailed
from app.core.ids import id_or_404, parse_uuid
from app.core.money import money_formatter
from app.core.pages import only_on
from app.core.redirects import safe_local_target
from app.extensions import db

bp = Blueprint("console_catalog", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PRODUCTS_PER_PAGE = 50
CARDS_PER_PAGE = 50
NO_STORE = {"Cache-Control": "no-store"}


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _pages(total: int, per_page: int) -> int:
    return max((total + per_page - 1) // per_page, 1)


def _flat(value) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _flat(item)]
    if isinstance(value, list):
        return [text for item in value for text in _flat(item)]
    return [str(value)]


def _refused(err: KamengError) -> str:
    """What a page says about a refused action (the session rolled back):
    the service's sentence for pages, else its field errors translated."""
    db.session.rollback()
    if err.message is not None:
        return str(err.message)
    return " ".join(_flat(page_errors(err.errors))) or err.user_message()


def _back(default: str) -> str:
    """The local page a form came from (``back``), to return to with its
    filters; ``default`` otherwise."""
    return safe_local_target(request.form.get("back"), default)


# --- categories ---------------------------------------------------------------


@bp.route("/categories", methods=["GET", "POST"])
@require("catalog.view")
def categories():
    """The tree with each category's product count; POST adds a category."""
    if request.method == "GET":
        return _categories_page()
    authorize(current_principal(), "catalog.manage")
    typed = {"name": request.form.get("name", ""), "parent_id": request.form.get("parent_id", "")}
    try:
        made = category_service.create_category(
            {"name": typed["name"], "parent_id": typed["parent_id"] or None}
        )
    except ValidationFailed as err:
        db.session.rollback()
        return _categories_page(new=typed, new_errors=page_errors(err.errors)), 422
    flash(_("Category %(name)s added.", name=made.name), "success")
    return redirect(url_for(".categories"))


def _categories_page(new=None, new_errors=None, editing=None, typed=None, edit_errors=None):
    tree = category_service.list_categories()
    return render_template(
        "console/catalog/categories.html",
        tree=tree,
        tops=[c for c in tree if c.parent_id is None],
        with_children={c.parent_id for c in tree if c.parent_id is not None},
        counts=category_service.product_counts(),
        new=new or {"name": "", "parent_id": ""},
        new_errors=new_errors or {},
        editing=editing,
        typed=typed or {},
        edit_errors=edit_errors or {},
    )


@bp.post("/categories/<category_id>")
@require("catalog.manage")
def category_update(category_id: str):
    """Rename a category, or move it under another top category (or to the top)."""
    ident = id_or_404(category_id, "No such category.")
    typed = {"name": request.form.get("name", ""), "parent_id": request.form.get("parent_id", "")}
    try:
        category = category_service.update_category(
            ident, {"name": typed["name"], "parent_id": typed["parent_id"] or None}
        )
    except ValidationFailed as err:
        db.session.rollback()
        page = _categories_page(editing=ident, typed=typed, edit_errors=page_errors(err.errors))
        return page, 422
    flash(_("Category %(name)s saved.", name=category.name), "success")
    return redirect(url_for(".categories"))


@bp.post("/categories/<category_id>/move")
@require("catalog.manage")
def category_move(category_id: str):
    """One place up or down among its siblings."""
    category_service.move_category(
        id_or_404(category_id, "No such category."), request.form.get("direction") == "up"
    )
    return redirect(url_for(".categories"))


@bp.post("/categories/<category_id>/delete")
@require("catalog.manage")
def category_delete(category_id: str):
    """Delete an empty category; refused, with the reason, while it holds anything."""
    ident = id_or_404(category_id, "No such category.")
    name = category_service.get_category(ident).name
    try:
        category_service.delete_category(ident)
    except KamengError as err:
        flash(_("%(name)s was not deleted: %(reason)s", name=name, reason=_refused(err)), "error")
    else:
        flash(_("Category %(name)s deleted.", name=name), "success")
    return redirect(url_for(".categories"))


# --- products -----------------------------------------------------------------


@bp.get("/products")
@require("catalog.view")
def products():
    """Products, a page at a time, searched by name and filtered by status
    and category (a top category includes its children)."""
    q = (request.args.get("q") or "").strip()[:100]
    status = request.args.get("status") or None
    if status not in PRODUCT_STATUSES:
        status = None
    category_id = parse_uuid(request.args.get("category") or "")
    page = _page_number()
    rows, total = services.list_products(
        page=page, per_page=PRODUCTS_PER_PAGE, category_id=category_id, q=q, status=status
    )
    tree = category_service.list_categories()
    return render_template(
        "console/catalog/products.html",
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, PRODUCTS_PER_PAGE),
        q=q,
        status=status,
        category_id=category_id,
        tree=tree,
        names={c.id: c.name for c in tree},
        money=money_formatter(g.shop.currency),
    )


@bp.post("/products/status")
@require("catalog.manage")
def products_status():
    """Put the chosen products on sale or off sale (批量上架/下架) at once."""
    back = _back(url_for(".products"))
    ids = [i for i in (parse_uuid(v) for v in request.form.getlist("ids")) if i is not None]
    wanted = request.form.get("status", "")
    try:
        change = bulk.set_products_status(ids, wanted)
    except KamengError as err:
        flash(_refused(err), "error")
        return redirect(back)
    if wanted == "on_sale":
        flash(_("Put on sale: %(n)s.", n=change.changed), "success")
    else:
        flash(_("Taken off sale: %(n)s.", n=change.changed), "success")
    if change.refused:
        names = "、".join(change.refused)
        flash(
            _(
                "Not put on sale (a top-up needs at least one input field): %(names)s",
                names=names,
            ),
            "error",
        )
    return redirect(back)


@bp.route("/products/new", methods=["GET", "POST"])
@require("catalog.manage")
def product_new():
    """A new product (a draft card product unless chosen otherwise)."""
    form = ProductForm()
    stray: list[str] = []
    status = 200
    if request.method == "POST":  # the CSRF token was checked before the view
        data, errors = product_data(form, g.shop.currency)
        try:
            if errors:
                services.check_product(data)
            else:
                made = services.create_product(data)
                flash(_("Product %(name)s created.", name=made.name), "success")
                return redirect(url_for(".product", product_id=made.id))
        except ValidationFailed as err:
            db.session.rollback()
            errors = merged_errors(errors, err.errors)
        except PlanLimitReached as err:  # said above the form, which keeps what was typed
            db.session.rollback()
            flash(err.user_message(), "error")
        stray, status = show_errors(form, errors), 422
    form.prepare(category_service.list_categories())
    return _product_page(form, None, stray), status


@bp.route("/products/<product_id>", methods=["GET", "POST"])
@require("catalog.view")
def product(product_id: str):
    """A product's form (every field the API has) and its pictures."""
    view = services.get_product(id_or_404(product_id, "No such product."))
    currency = g.shop.currency
    stray: list[str] = []
    status = 200
    if request.method == "GET":
        form = ProductForm(data=form_values(view.product, currency))
    else:
        authorize(current_principal(), "catalog.manage")
        form = ProductForm()
        data, errors = product_data(form, currency)
        try:
            if errors:
                services.check_product(data, view.id)
            else:
                saved = services.update_product(view.id, data)
                flash(_("Product %(name)s saved.", name=saved.name), "success")
                return redirect(url_for(".product", product_id=view.id))
        except ValidationFailed as err:
            db.session.rollback()
            errors = merged_errors(errors, err.errors)
        except KamengError as err:  # a card product holding codes keeps its kind
            stray, status = [_refused(err)], err.status
        if errors:
            stray, status = show_errors(form, errors), 422
    form.prepare(category_service.list_categories())
    return _product_page(form, view, stray), status


def _product_page(form: ProductForm, view, stray: list[str]):
    return render_template(
        "console/catalog/product.html",
        form=form,
        view=view,
        stray=stray,
        currency=g.shop.currency,
        money=money_formatter(g.shop.currency),
    )


@bp.post("/products/<product_id>/delete")
@require("catalog.manage")
def product_delete(product_id: str):
    """Delete a product that never held cards (otherwise: set it off sale)."""
    view = services.get_product(id_or_404(product_id, "No such product."))
    try:
        services.delete_product(view.id)
    except KamengError as err:
        flash(_refused(err), "error")
        return redirect(url_for(".product", product_id=view.id))
    flash(_("Product %(name)s deleted.", name=view.name), "success")
    return redirect(url_for(".products"))


@bp.post("/products/<product_id>/images")
@require("catalog.manage")
def image_add(product_id: str):
    """Upload a picture (PNG, JPEG, WebP or GIF, judged by its content)."""
    ident = services.get_product(id_or_404(product_id, "No such product.")).id
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a picture to upload."), "error")
        return redirect(url_for(".product", product_id=ident) + "#pictures")
    try:
        images.add_image(ident, upload.stream)
    except KamengError as err:
        flash(_refused(err), "error")
    else:
        flash(_("Picture added."), "success")
    return redirect(url_for(".product", product_id=ident) + "#pictures")


@bp.post("/products/<product_id>/images/<image_id>/move")
@require("catalog.manage")
def image_move(product_id: str, image_id: str):
    """One place earlier (the first picture is the product's main one) or later."""
    ident = id_or_404(product_id, "No such product.")
    images.move_image(
        ident, id_or_404(image_id, "No such image."), request.form.get("direction") == "up"
    )
    return redirect(url_for(".product", product_id=ident) + "#pictures")


@bp.post("/products/<product_id>/images/<image_id>/delete")
@require("catalog.manage")
def image_delete(product_id: str, image_id: str):
    """Delete one picture (the form asked first)."""
    ident = id_or_404(product_id, "No such product.")
    images.delete_image(ident, id_or_404(image_id, "No such image."))
    flash(_("Picture deleted."), "success")
    return redirect(url_for(".product", product_id=ident) + "#pictures")


# --- card stock -----------------------------------------------------------------


@bp.get("/products/<product_id>/cards")
@require("cards.manage")
def cards(product_id: str):
    """The product's stock: counts, the import form (with the report or the
    progress of ``?import=``), and its codes, masked, searched and paged."""
    ident = id_or_404(product_id, "No such product.")
    try:
        card_reads.get_card_product(ident)
    except ValidationFailed as err:  # a top-up or manual item holds no codes
        flash(_refused(err), "error")
        return redirect(url_for(".product", product_id=ident))
    shown = _import_of(ident, request.args["import"]) if request.args.get("import") else None
    return _cards_page(ident, shown_import=shown)


def _import_of(product_id, import_id: str) -> dict:
    """This product's import in the current shop (404 for any other)."""
    state = imports.get_import(id_or_404(import_id, "No such import."))
    if state["import"].product_id != product_id:
        raise NotFound("No such import.")
    return state


def _cards_page(product_id, *, shown_import=None, typed="", import_error=None, revealed=None):
    """The stock page of a card product (``ValidationFailed`` for another kind)."""
    product = card_reads.get_card_product(product_id)
    status = request.args.get("status") or None
    if status not in CARD_STATUSES:
        status = None
    search = (request.args.get("q") or "").strip()[:300]
    page = _page_number()
    rows, total = card_reads.list_cards(product_id, status, page, CARDS_PER_PAGE, search=search)
    return render_template(
        "console/catalog/cards.html",
        product=product,
        counts=card_reads.stock_of(product_id),
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, CARDS_PER_PAGE),
        status=status,
        search=search,
        statuses=CARD_STATUSES,
        shown_import=shown_import,
        typed=typed,
        import_error=import_error,
        revealed=revealed,
        page_message=page_message,
        sync_limit=current_app.config["CARD_IMPORT_SYNC_LIMIT"],
    )


@bp.post("/products/<product_id>/cards/import")
@require("cards.manage")
def cards_import(product_id: str):
    """Import pasted codes or a chosen file (a file wins when both are
    given). Done or queued: back to the page, which shows the report or the
    progress. Refused (invalid lines, nothing stored): the page with the
    report and the pasted text as it was."""
    ident = id_or_404(product_id, "No such product.")
    card_reads.get_card_product(ident)
    typed = request.form.get("codes", "")
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw, filename = upload.read(), upload.filename[:255]
    else:
        raw, filename = typed.encode("utf-8"), None
    try:
        record = imports.start_import(ident, raw, filename, current_principal().actor[:80])
    except KamengError as err:
        return _cards_page(ident, typed=typed, import_error=_refused(err)), 422
    if record.status in (imports.DONE, imports.QUEUED):
        return redirect(url_for(".cards", product_id=ident, **{"import": record.id}) + "#import")
    return _cards_page(ident, shown_import=imports.get_import(record.id), typed=typed), 422


@bp.get("/products/<product_id>/cards/imports/<import_id>")
@require("cards.manage")
def cards_import_progress(product_id: str, import_id: str):
    """An import's progress for the page's script: lines done of all, and
    whether it has finished (then the page reloads to show the report)."""
    state = _import_of(id_or_404(product_id, "No such product."), import_id)
    record = state["import"]
    return jsonify(
        status=record.status,
        done=state["done"],
        total=state["total"],
        finished=record.status in imports.FINISHED,
    )


@bp.post("/products/<product_id>/cards/void")
@require("cards.manage")
def cards_void(product_id: str):
    """Void the chosen codes for good (bad or refunded codes); recorded in
    the audit log. The form asked first."""
    ident = card_reads.get_card_product(id_or_404(product_id, "No such product.")).id
    back = _back(url_for(".cards", product_id=ident))
    ids = [i for i in (parse_uuid(v) for v in request.form.getlist("ids")) if i is not None]
    if not ids:
        flash(_("Choose the codes to void first."), "error")
        return redirect(back)
    voided = stock.void_cards(ids, current_principal().actor)
    flash(_("Codes voided: %(n)s.", n=voided), "success")
    return redirect(back)


@bp.post("/products/<product_id>/cards/<card_id>/reveal")
@require("cards.reveal")
def card_reveal_page(product_id: str, card_id: str):
    """Show one code to the owner, on the audit record; the answer is not stored."""
    id_or_404(product_id, "No such product.")
    revealed = card_reveal.reveal_card(
        id_or_404(card_id, "No such card."), current_principal().actor
    )
    return _cards_page(revealed["product_id"], revealed=revealed), 200, NO_STORE


@bp.post("/products/<product_id>/cards/export")
@require("cards.reveal")
def cards_export(product_id: str):
    """The available codes as a text file, one per line (the owner; audited).
    The codes stay in stock."""
    ident = id_or_404(product_id, "No such product.")
    text, count = card_reveal.export_codes(ident, current_principal().actor)
    return Response(
        text,
        mimetype="text/plain",
        headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="cards-{ident}.txt"',
            "X-Exported-Count": str(count),
        },
    )
