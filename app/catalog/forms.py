"""The console's product form (Flask-WTF: CSRF on every form), and the step
from what an operator typed to the values the catalogue services take.

The form reads text, as people write it: a price as ``12.50`` (or
``１２．５０`` from a Chinese keyboard), quantities as whole numbers, a
blank cost as 0. ``product_data`` turns that text into the service's typed
fields, or says per field, in the reader's language, what could not be
read; whether the values are allowed (ranges, the top-up's inputs, the RE2
patterns) is the service's to judge (``services.create_product`` and
``update_product``), and its field errors come back onto the same form
through ``show_errors``. Nothing typed is ever dropped: a form with errors
is shown again as it was sent.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms import Form as SubForm

from app.catalog.messages import page_errors
from app.catalog.models import KIND_CARD, KIND_MANUAL, KIND_TOPUP, STATUS_DRAFT
from app.core.money import decimal_text, parse_money

#: blank input-field rows offered under a product's own, for a new field
BLANK_ROWS = 2


def kind_choices() -> list[tuple[str, str]]:
    """The product kinds as the form offers them, in the reader's language."""
    return [
        (KIND_CARD, _("Card codes (auto delivery)")),
        (KIND_TOPUP, _("Direct top-up")),
        (KIND_MANUAL, _("Manual delivery")),
    ]


def status_choices() -> list[tuple[str, str]]:
    """The product statuses as the form offers them, in the reader's language."""
    return [("draft", _("Draft")), ("on_sale", _("On sale")), ("off_sale", _("Off sale"))]


class InputFieldForm(SubForm):
    """One detail a top-up asks the buyer for (a row of the product form)."""

    name = StringField(_l("Key"))
    label = StringField(_l("Label buyers see"))
    pattern = StringField(_l("Pattern (regular expression)"))
    required = BooleanField(_l("Required"), default=True)
    min_length = StringField(_l("Min length"))
    max_length = StringField(_l("Max length"))

    def is_blank(self) -> bool:
        return not any(
            (f.data or "").strip()
            for f in (self.name, self.label, self.pattern, self.min_length, self.max_length)
        )


class ProductForm(FlaskForm):
    """Every field of a product as text; ``product_data`` reads it."""

    kind = SelectField(_l("Kind"), choices=[], validate_choice=False, default=KIND_CARD)
    name = StringField(_l("Name"))
    category_id = SelectField(_l("Category"), choices=[], validate_choice=False, default="")
    description = TextAreaField(_l("Description"))
    price = StringField(_l("Price"))
    cost = StringField(_l("Cost"))
    min_quantity = StringField(_l("Minimum per order"), default="1")
    max_quantity = StringField(_l("Maximum per order"), default="100")
    input_fields = FieldList(FormField(InputFieldForm))
    delivery_note = TextAreaField(_l("Delivery note"))
    low_stock_threshold = StringField(_l("Low-stock alert at"), default="0")
    status = SelectField(_l("Status"), choices=[], validate_choice=False, default=STATUS_DRAFT)
    sort = StringField(_l("Sort order"), default="0")

    def prepare(self, categories) -> ProductForm:
        """Fill the choices (translated now, in the reader's language) and
        offer ``BLANK_ROWS`` empty input-field rows."""
        self.kind.choices = kind_choices()
        self.status.choices = status_choices()
        self.category_id.choices = [("", _("No category"))] + [
            (str(c.id), ("— " if c.parent_id else "") + c.name) for c in categories
        ]
        blanks = sum(1 for row in self.input_fields if row.form.is_blank())
        for _i in range(BLANK_ROWS - blanks):
            self.input_fields.append_entry()
        return self


def form_values(product, currency: str) -> dict[str, Any]:
    """A product's columns as the form shows them (``data=`` of the form)."""
    return {
        "kind": product.kind,
        "name": product.name,
        "category_id": str(product.category_id) if product.category_id else "",
        "description": product.description,
        "price": decimal_text(product.price, currency),
        "cost": decimal_text(product.cost, currency),
        "min_quantity": str(product.min_quantity),
        "max_quantity": str(product.max_quantity),
        "input_fields": [
            {
                "name": spec.get("name", ""),
                "label": spec.get("label", ""),
                "pattern": spec.get("pattern") or "",
                "required": spec.get("required", True),
                "min_length": str(spec.get("min_length") or ""),
                "max_length": str(spec.get("max_length") or ""),
            }
            for spec in product.input_fields or []
        ],
        "delivery_note": product.delivery_note,
        "low_stock_threshold": str(product.low_stock_threshold),
        "status": product.status,
        "sort": str(product.sort),
    }


def _whole(text: str | None, default: int) -> tuple[int | None, str | None]:
    """A whole number as typed (``default`` when left blank), or why not."""
    text = (text or "").strip()
    if not text:
        return default, None
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
        return None, _("Write a whole number, like 10.")
    return sign * int(digits), None


def product_data(form: ProductForm, currency: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service's fields from the form, and the errors of what could not
    be read (by field; input-field rows by their place among the rows
    sent). Blank input-field rows are left out."""
    errors: dict[str, Any] = {}
    data: dict[str, Any] = {
        "kind": form.kind.data,
        "name": form.name.data or "",
        "category_id": form.category_id.data or None,
        "description": form.description.data or "",
        "delivery_note": form.delivery_note.data or "",
        "status": form.status.data,
    }
    for key, blank in (("price", None), ("cost", 0)):
        text = (getattr(form, key).data or "").strip()
        if not text and blank is not None:
            data[key] = blank
            continue
        example = decimal_text(1250, currency)
        if not text:
            errors[key] = [_("Give the price, like %(example)s.", example=example)]
            continue
        try:
            data[key] = parse_money(text, currency)
        except ValueError:
            errors[key] = [_("Write an amount like %(example)s.", example=example)]
    for key, default in (
        ("min_quantity", 1),
        ("max_quantity", 100),
        ("low_stock_threshold", 0),
        ("sort", 0),
    ):
        value, problem = _whole(getattr(form, key).data, default)
        if problem:
            errors[key] = [problem]
        else:
            data[key] = value
    specs, row_errors = [], {}
    for row in rows_sent(form):
        spec: dict[str, Any] = {
            "name": (row.form.name.data or "").strip(),
            "label": (row.form.label.data or "").strip(),
            "required": bool(row.form.required.data),
            "pattern": (row.form.pattern.data or "").strip() or None,
        }
        problems = {}
        for key in ("min_length", "max_length"):
            value, problem = _whole(getattr(row.form, key).data, -1)
            if problem:
                problems[key] = [problem]
            elif value != -1:
                spec[key] = value
        if problems:
            row_errors[str(len(specs))] = problems
        specs.append(spec)
    data["input_fields"] = specs
    if row_errors:
        errors["input_fields"] = row_errors
    return data, errors


def merged_errors(read: dict[str, Any], judged: dict[str, Any]) -> dict[str, Any]:
    """The form's errors (what could not be read) and the service's (what
    it judged of the rest) together; the form's win where both speak."""
    merged = dict(judged)
    for key, value in read.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            rows = dict(merged[key])
            for index, problems in value.items():
                rows[index] = {**rows.get(index, {}), **problems}
            merged[key] = rows
        else:
            merged[key] = value
    return merged


def rows_sent(form: ProductForm) -> list:
    """The form's input-field rows that hold anything, in order: the rows
    whose place the data and the service's errors count by."""
    return [row for row in form.input_fields if not row.form.is_blank()]


def show_errors(form: ProductForm, errors: dict[str, Any]) -> list[str]:
    """Put field errors (``product_data``'s, or a service's in English) on
    the form, translated; returns those that belong to no field of the
    form, to be shown above it."""
    errors = page_errors(errors)
    stray: list[str] = []
    rows = rows_sent(form)
    for key, messages in errors.items():
        if key == "input_fields" and isinstance(messages, dict):
            for index, problems in messages.items():
                row = rows[int(index)] if index.isdigit() and int(index) < len(rows) else None
                for sub, texts in (problems or {}).items():
                    target = getattr(row.form, sub, None) if row is not None else None
                    if target is None:
                        stray.extend(texts)
                    else:
                        target.errors = list(target.errors or []) + list(texts)
            continue
        target = getattr(form, key, None)
        if target is None or key == "input_fields":
            stray.extend(messages if isinstance(messages, list) else [str(messages)])
        else:
            target.errors = list(target.errors or []) + list(messages)
    return stray
