"""The console's supply API page (对接接口, ``/console/supply/credentials``):
open or close the shop's supply API (``/supply/v1``), issue a credential
for one of the shop's accounts (typically an agent: it buys at that
account's tier price, from its wallet) and show its secret once, and
revoke one (asked first).

``supply.view`` (owner and staff) reads the page; ``supply.manage`` (the
owner) changes anything, through ``app.supply.credentials`` (the API's
service), on the audit record. A refused form is shown again as typed.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.auth import authorize, current_principal, require
from app.core.errors import KamengError, NotFound
from app.core.ids import id_or_404
from app.core.links import shop_url
from app.core.pages import flash_error, only_on
from app.core.pagination import Pager, requested_page
from app.extensions import db
from app.supply import credentials
from app.supply.credential_forms import CredentialForm

bp = Blueprint("console_supply_api", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PER_PAGE = 50


def _page(form: CredentialForm, issued=None, status: int = 200, editing=None):
    page = requested_page(request.args.get("page"))
    rows, total = credentials.list_credentials(page=page, per_page=PER_PAGE)
    return render_template(
        "console/supply/credentials.html",
        form=form,
        rows=rows,
        pager=Pager(page, PER_PAGE, total),
        issued=issued,
        editing=editing or {},
        is_open=credentials.supply_open(),
        may_manage=current_principal().can("supply.manage"),
        base_url=shop_url(g.shop.slug, "/supply/v1"),
    ), status


@bp.route("/supply/credentials", methods=["GET", "POST"])
@require("supply.view")
def credentials_page():
    """The supply API's switch and credentials; POST issues a credential."""
    if request.method == "GET":
        return _page(CredentialForm(formdata=None))
    authorize(current_principal(), "supply.manage")
    form = CredentialForm()
    if not form.validate():
        return _page(form, status=422)
    try:
        issued = credentials.issue_credential(
            email=form.email.data,
            name=form.name.data,
            callback_url=form.callback_url.data,
            actor=current_principal().actor,
        )
    except KamengError as err:
        db.session.rollback()
        flash_error(form, err)
        return _page(form, status=422)
    shown = {"key_id": issued.credential.key_id, "secret": issued.secret, "email": issued.email}
    flash(_("Copy the secret now: it will not be shown again."), "success")
    return _page(CredentialForm(formdata=None), issued=shown)


@bp.post("/supply/open")
@require("supply.manage")
def supply_switch():
    """Open (``open=1``) or close the shop's supply API."""
    is_open = credentials.set_supply_open(
        request.form.get("open") == "1", actor=current_principal().actor
    )
    flash(_("The supply API is open.") if is_open else _("The supply API is closed."), "success")
    return redirect(url_for(".credentials_page"))


@bp.post("/supply/credentials/<credential_id>/callback")
@require("supply.manage")
def callback(credential_id: str):
    """Set or clear a credential's callback URL; a refused URL is shown
    again as typed, with the reason."""
    typed = (request.form.get("callback_url") or "")[:1000]
    try:
        row = credentials.set_callback_url(
            id_or_404(credential_id, NotFound.title), typed, actor=current_principal().actor
        )
    except NotFound:
        raise
    except KamengError as err:
        db.session.rollback()
        editing = {"id": credential_id, "value": typed, "error": err.user_message()}
        return _page(CredentialForm(formdata=None), status=422, editing=editing)
    flash(_("Callback URL of %(name)s saved.", name=row.credential.name), "success")
    return redirect(url_for(".credentials_page"))


@bp.post("/supply/credentials/<credential_id>/revoke")
@require("supply.manage")
def revoke(credential_id: str):
    """Revoke a credential (asked first on the page)."""
    row = credentials.revoke_credential(
        id_or_404(credential_id, NotFound.title), actor=current_principal().actor
    )
    flash(_("Credential %(name)s is revoked.", name=row.credential.name), "success")
    return redirect(url_for(".credentials_page"))
