"""The console's forms for suppliers and product sources (Flask-WTF: CSRF
on every form), and the step from what an operator typed to the values
the supply services take.

Money is typed as ``12.50`` and read with ``app.core.money.parse_money``;
whole numbers as digits. ``*_data`` returns the service's fields and, per
field, what could not be read (in the reader's language); the service
judges the rest and its field errors come back onto the same form
(``show_refusal``). Nothing typed is lost: a refused form is shown again as
it was sent, except the secret, which is never written back into a page.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, PasswordField, SelectField, StringField, TextAreaField

from app.core.money import decimal_text, parse_money
from app.supply.messages import page_errors
from app.supply.models import (
    KIND_ACCOUNT,
    KIND_HTTP,
    KIND_PLATFORM,
    SUPPLIER_ACTIVE,
    SUPPLIER_BLACKLISTED,
    SUPPLIER_SUSPENDED,
    SUPPLIER_VETTING,
)


def kind_label(kind: str) -> str:
    return {
        KIND_ACCOUNT: _("Supplier account (uploads codes)"),
        KIND_HTTP: _("External API"),
        KIND_PLATFORM: _("Another Kameng shop"),
    }.get(kind, kind)


def status_label(status: str) -> str:
    return {
        SUPPLIER_VETTING: _("Vetting"),
        SUPPLIER_ACTIVE: _("Active"),
        SUPPLIER_SUSPENDED: _("Suspended"),
        SUPPLIER_BLACKLISTED: _("Blacklisted"),
    }.get(status, status)


def _select(label) -> SelectField:
    return SelectField(label, choices=[], validate_choice=False)


class SupplierForm(FlaskForm):
    name = StringField(_l("Name"))
    kind = _select(_l("Kind"))
    account_id = _select(_l("Supplier account"))
    base_url = StringField(_l("API address"))
    key_id = StringField(_l("Key id"))
    secret = PasswordField(_l("Secret"))
    deposit = StringField(_l("Deposit"))
    markup_percent = StringField(_l("Markup on cost, percent"))
    note = TextAreaField(_l("Note"))

    def prepare(self, accounts: list, *, editing: bool) -> SupplierForm:
        self.kind.choices = [(k, kind_label(k)) for k in (KIND_ACCOUNT, KIND_HTTP, KIND_PLATFORM)]
        self.account_id.choices = [("", _("Choose an account"))] + [
            (str(a.id), a.email) for a in accounts
        ]
        self.editing = editing
        return self


def supplier_values(supplier, currency: str) -> dict[str, Any]:
    """A supplier's columns as its form shows them (never its secret)."""
    return {
        "name": supplier.name,
        "kind": supplier.kind,
        "account_id": str(supplier.account_id) if supplier.account_id else "",
        "base_url": supplier.base_url or "",
        "key_id": supplier.key_id or "",
        "deposit": decimal_text(supplier.deposit, currency) if supplier.deposit else "",
        "markup_percent": "" if supplier.markup_percent is None else str(supplier.markup_percent),
        "note": supplier.note,
    }


def _money(form, name: str, currency: str, errors: dict) -> int | None:
    text = (getattr(form, name).data or "").strip()
    if not text:
        return 0
    try:
        return parse_money(text, currency)
    except ValueError:
        errors[name] = [
            _("Write an amount like %(example)s.", example=decimal_text(1250, currency))
        ]
        return None


def supplier_data(form: SupplierForm, currency: str, *, editing: bool) -> tuple[dict, dict]:
    """The service's fields of a supplier, and what could not be read. The
    fields that do not belong to the chosen kind are left out."""
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {"name": form.name.data or "", "note": form.note.data or ""}
    kind = form.kind.data or ""
    if not editing:
        data["kind"] = kind
    deposit = _money(form, "deposit", currency, errors)
    if deposit is not None:
        data["deposit"] = deposit
    markup = (form.markup_percent.data or "").strip()
    if not markup:
        data["markup_percent"] = None
    elif markup.isdigit():
        data["markup_percent"] = int(markup)
    else:
        errors["markup_percent"] = [_("Must be a whole number.")]
    if kind == KIND_ACCOUNT:
        if form.account_id.data or not editing:
            data["account_id"] = form.account_id.data or None
    else:
        data["base_url"] = form.base_url.data or ""
        data["key_id"] = form.key_id.data or ""
        if form.secret.data or not editing:
            data["secret"] = form.secret.data or ""
    if kind == KIND_ACCOUNT and not editing and not form.account_id.data:
        errors["account_id"] = [_("Choose the supplier account that uploads codes.")]
        data.pop("account_id", None)
    return data, errors


class SourceForm(FlaskForm):
    supplier_id = _select(_l("Supplier"))
    sku = StringField(_l("Supplier SKU"))
    cost = StringField(_l("Cost"))
    priority = StringField(_l("Priority"), default="0")
    enabled = BooleanField(_l("On"), default=True)

    def prepare(self, suppliers: list) -> SourceForm:
        self.supplier_id.choices = [("", _("Choose a supplier"))] + [
            (str(s.id), s.name) for s in suppliers
        ]
        return self


def source_values(source, currency: str) -> dict[str, Any]:
    return {
        "supplier_id": str(source.supplier_id),
        "sku": source.sku,
        "cost": decimal_text(source.cost, currency),
        "priority": str(source.priority),
        "enabled": source.enabled,
    }


def source_data(form: SourceForm, currency: str) -> tuple[dict, dict]:
    """The service's fields of a source, and what could not be read."""
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {
        "sku": form.sku.data or "",
        "enabled": bool(form.enabled.data),
    }
    if form.supplier_id.data:
        data["supplier_id"] = form.supplier_id.data
    else:
        errors["supplier_id"] = [_("Choose a supplier.")]
    cost = _money(form, "cost", currency, errors)
    if cost is not None:
        data["cost"] = cost
    priority = (form.priority.data or "").strip() or "0"
    if priority.isdigit():
        data["priority"] = int(priority)
    else:
        errors["priority"] = [_("Must be a whole number.")]
    return data, errors


def show_refusal(form, read_errors: dict, err=None) -> list[str]:
    """Put what could not be read and what the service refused (``err``,
    its English field errors translated) on the form's fields; the
    sentences that belong to no field, for the top of the page."""
    judged = page_errors(err.errors) if err is not None and err.errors else {}
    stray: list[str] = []
    if err is not None and not err.errors:
        stray.append(err.user_message())
    for key, messages in {**judged, **read_errors}.items():
        target = getattr(form, key, None)
        if isinstance(target, Field):
            target.errors = list(messages)
        elif err is not None and err.message is not None and key in judged:
            stray.append(str(err.message))
        else:
            stray.extend(messages)
    return list(dict.fromkeys(stray))
