"""The console's forms for agent tiers, price rules and coupons (Flask-WTF:
CSRF on every form), and the step from what an operator typed to the
values the pricing services take.

Forms read text as people write it: money as ``12.50`` (``１２．５０`` from
a Chinese keyboard too), whole numbers, times in the shop's time zone from
a date-and-time field. ``*_data`` turns the text into the service's typed
fields, or says per field, in the reader's language, what could not be
read; whether the values are allowed is the service's to judge, and its
field errors come back onto the same form through ``show_errors``. Nothing
typed is dropped: a refused form is shown again as it was sent.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, SelectField, StringField
from wtforms.widgets import DateTimeLocalInput

from app.core.dates import local_input, local_moment
from app.core.money import decimal_text, parse_money
from app.pricing.messages import page_errors
from app.pricing.models import COUPON_FIXED, COUPON_PERCENT, UPGRADE_MANUAL

SCOPE_SHOP, SCOPE_CATEGORY, SCOPE_PRODUCT = "shop", "category", "product"
KIND_PRICE, KIND_PERCENT = "price", "percent"


class LocalTimeField(StringField):
    """A date and time in the shop's time zone, read as text."""

    widget = DateTimeLocalInput()


def _select(label, default: str = "") -> SelectField:
    return SelectField(label, choices=[], validate_choice=False, default=default)


# --- reading text -------------------------------------------------------------------


class _Reader:
    """Reads a form's fields into service values, noting per field (by the
    form's field name) what could not be read."""

    def __init__(self, form, currency: str, zone: str = "UTC") -> None:
        self.form, self.currency, self.zone = form, currency, zone
        self.errors: dict[str, list[str]] = {}

    def text(self, name: str) -> str:
        return (getattr(self.form, name).data or "").strip()

    def money(self, name: str, *, blank: int | None = None) -> int | None:
        text = self.text(name)
        if not text:
            if blank is None:
                self.errors[name] = [
                    _(
                        "Give an amount, like %(example)s.",
                        example=decimal_text(1250, self.currency),
                    )
                ]
            return blank
        try:
            return parse_money(text, self.currency)
        except ValueError:
            self.errors[name] = [
                _("Write an amount like %(example)s.", example=decimal_text(1250, self.currency))
            ]
            return None

    def whole(self, name: str, *, blank: int | None) -> int | None:
        text = self.text(name)
        if not text:
            return blank
        digits = text.removeprefix("-")
        if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
            self.errors[name] = [_("Write a whole number, like 10.")]
            return None
        return int(text)

    def moment(self, name: str):
        try:
            return local_moment(self.text(name), self.zone)
        except ValueError:
            self.errors[name] = [_("Choose a date and a time.")]
            return None


def _checked(data: dict, errors: dict) -> dict:
    """``data`` without the fields that could not be read (the service is
    asked about the rest)."""
    return {key: value for key, value in data.items() if key not in errors}


# --- agent tiers --------------------------------------------------------------------


def upgrade_choices() -> list[tuple[str, str]]:
    """The ways to reach a tier, as the form offers them, in the reader's language."""
    return [
        (UPGRADE_MANUAL, _("By hand (you set it)")),
        ("fee", _("By paying a fee")),
        ("recharge_total", _("By recharging a total")),
    ]


class TierForm(FlaskForm):
    name = StringField(_l("Name"))
    rank = StringField(_l("Rank"), default="0")
    upgrade_kind = _select(_l("How an account reaches it"), UPGRADE_MANUAL)
    upgrade_amount = StringField(_l("Fee or recharge total"))

    def prepare(self) -> TierForm:
        self.upgrade_kind.choices = upgrade_choices()
        return self


def tier_values(tier, currency: str) -> dict[str, Any]:
    """A tier's columns as its form shows them (``data=`` of the form)."""
    return {
        "name": tier.name,
        "rank": str(tier.rank),
        "upgrade_kind": tier.upgrade_kind,
        "upgrade_amount": decimal_text(tier.upgrade_amount, currency)
        if tier.upgrade_amount
        else "",
    }


def tier_data(form: TierForm, currency: str) -> tuple[dict, dict]:
    """The service's fields of a tier, and what could not be read."""
    read = _Reader(form, currency)
    kind = form.upgrade_kind.data or UPGRADE_MANUAL
    amount = 0 if kind == UPGRADE_MANUAL else read.money("upgrade_amount", blank=0)
    data = {
        "name": form.name.data or "",
        "rank": read.whole("rank", blank=0),
        "upgrade": {"kind": kind, "amount": amount},
    }
    if "upgrade_amount" in read.errors:
        data["upgrade"].pop("amount")
    return _checked(data, read.errors), read.errors


# --- a product, a category or the whole shop -----------------------------------------


def scope_choices(whole_shop: str) -> list[tuple[str, str]]:
    """Where a rule or coupon applies, as the form offers it (``whole_shop``
    names the widest choice)."""
    return [
        (SCOPE_SHOP, whole_shop),
        (SCOPE_CATEGORY, _("One category (and its subcategories)")),
        (SCOPE_PRODUCT, _("One product")),
    ]


def _scope_of(row) -> str:
    if row.product_id is not None:
        return SCOPE_PRODUCT
    return SCOPE_CATEGORY if row.category_id is not None else SCOPE_SHOP


def _scope_data(form, errors: dict) -> dict:
    """``product_id`` and ``category_id`` as the chosen scope sets them."""
    scope = form.scope.data
    product = form.product_id.data or None
    category = form.category_id.data or None
    if scope == SCOPE_PRODUCT and product is None:
        errors["product_id"] = [_("Find the product and choose it.")]
    if scope == SCOPE_CATEGORY and category is None:
        errors["category_id"] = [_("Choose a category.")]
    return {
        "product_id": product if scope == SCOPE_PRODUCT else None,
        "category_id": category if scope == SCOPE_CATEGORY else None,
    }


class _ScopedForm(FlaskForm):
    scope = _select(_l("Applies to"), SCOPE_SHOP)
    category_id = _select(_l("Category"))
    product_id = _select(_l("Product"))
    product_search = StringField(_l("Find a product by name"))

    def prepare_scope(self, whole_shop: str, categories, products) -> None:
        """Fill the choices: the categories, and ``products`` (``(id, name)``:
        the chosen product and what a search found, never the catalogue)."""
        self.scope.choices = scope_choices(whole_shop)
        self.category_id.choices = [("", _("Choose a category"))] + [
            (str(c.id), ("— " if c.parent_id else "") + c.name) for c in categories
        ]
        self.product_id.choices = [("", _("Choose a product"))] + [
            (str(i), name) for i, name in products
        ]


# --- price rules --------------------------------------------------------------------


def price_kind_choices() -> list[tuple[str, str]]:
    """A rule's two kinds of price, in the reader's language."""
    return [(KIND_PRICE, _("A unit price")), (KIND_PERCENT, _("A percent off"))]


class RuleForm(_ScopedForm):
    tier_id = _select(_l("For"))
    kind = _select(_l("Price by"), KIND_PRICE)
    price = StringField(_l("Unit price"))
    percent_off = StringField(_l("Percent off"))
    min_quantity = StringField(_l("From quantity"), default="1")
    starts_at = LocalTimeField(_l("Starts"))
    ends_at = LocalTimeField(_l("Ends"))
    priority = StringField(_l("Priority"), default="0")
    allow_below_cost = BooleanField(_l("May go below the product's cost"))

    def prepare(self, categories, tiers, products) -> RuleForm:
        self.prepare_scope(_("The whole shop"), categories, products)
        self.tier_id.choices = [("", _("Everyone (retail buyers and every tier)"))] + [
            (str(t.id), t.name) for t in tiers
        ]
        self.kind.choices = price_kind_choices()
        return self


def rule_values(rule, currency: str, zone: str) -> dict[str, Any]:
    """A rule's columns as its form shows them, times in time zone ``zone``."""
    return {
        "scope": _scope_of(rule),
        "product_id": str(rule.product_id or ""),
        "category_id": str(rule.category_id or ""),
        "tier_id": str(rule.tier_id or ""),
        "kind": KIND_PRICE if rule.price is not None else KIND_PERCENT,
        "price": decimal_text(rule.price, currency) if rule.price is not None else "",
        "percent_off": str(rule.percent_off or ""),
        "min_quantity": str(rule.min_quantity),
        "starts_at": local_input(rule.starts_at, zone),
        "ends_at": local_input(rule.ends_at, zone),
        "priority": str(rule.priority),
        "allow_below_cost": rule.allow_below_cost,
    }


def rule_data(form: RuleForm, currency: str, zone: str) -> tuple[dict, dict]:
    """The service's fields of a rule (every one: a full update), and what
    could not be read."""
    read = _Reader(form, currency, zone)
    percent = form.kind.data == KIND_PERCENT
    data = {
        **_scope_data(form, read.errors),
        "tier_id": form.tier_id.data or None,
        "price": None if percent else read.money("price"),
        "percent_off": read.whole("percent_off", blank=None) if percent else None,
        "min_quantity": read.whole("min_quantity", blank=1),
        "starts_at": read.moment("starts_at"),
        "ends_at": read.moment("ends_at"),
        "priority": read.whole("priority", blank=0),
        "allow_below_cost": bool(form.allow_below_cost.data),
    }
    if percent and data["percent_off"] is None and "percent_off" not in read.errors:
        read.errors["percent_off"] = [_("Give the percent off, a whole number from 1 to 100.")]
    return _checked(data, read.errors), read.errors


# --- coupons --------------------------------------------------------------------------


def coupon_kind_choices() -> list[tuple[str, str]]:
    """A coupon's two kinds, in the reader's language."""
    return [(COUPON_FIXED, _("An amount off")), (COUPON_PERCENT, _("A percent off"))]


class CouponForm(_ScopedForm):
    code = StringField(_l("Code"))
    kind = _select(_l("Takes off"), COUPON_FIXED)
    amount = StringField(_l("Amount off"))
    percent = StringField(_l("Percent off"))
    min_spend = StringField(_l("Minimum spend"))
    max_uses = StringField(_l("Uses in all"))
    max_uses_per_buyer = StringField(_l("Uses per buyer"))
    starts_at = LocalTimeField(_l("Valid from"))
    expires_at = LocalTimeField(_l("Expires"))
    allow_below_cost = BooleanField(_l("May go below the goods' cost"))
    active = BooleanField(_l("On: buyers may use it"), default=True)

    def prepare(self, categories, products) -> CouponForm:
        self.prepare_scope(_("Any product"), categories, products)
        self.kind.choices = coupon_kind_choices()
        return self


def coupon_values(coupon, currency: str, zone: str) -> dict[str, Any]:
    """A coupon's columns as its form shows them, times in time zone ``zone``."""
    fixed = coupon.kind == COUPON_FIXED
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "amount": decimal_text(coupon.amount, currency) if fixed else "",
        "percent": "" if fixed else str(coupon.amount),
        "min_spend": decimal_text(coupon.min_spend, currency) if coupon.min_spend else "",
        "scope": _scope_of(coupon),
        "product_id": str(coupon.product_id or ""),
        "category_id": str(coupon.category_id or ""),
        "max_uses": str(coupon.max_uses or ""),
        "max_uses_per_buyer": str(coupon.max_uses_per_buyer or ""),
        "starts_at": local_input(coupon.starts_at, zone),
        "expires_at": local_input(coupon.expires_at, zone),
        "allow_below_cost": coupon.allow_below_cost,
        "active": coupon.active,
    }


def coupon_data(form: CouponForm, currency: str, zone: str) -> tuple[dict, dict]:
    """The service's fields of a coupon (every one), and what could not be read."""
    read = _Reader(form, currency, zone)
    percent = form.kind.data == COUPON_PERCENT
    if percent:
        amount = read.whole("percent", blank=None)
        if amount is None and "percent" not in read.errors:
            read.errors["percent"] = [_("Give the percent off, a whole number from 1 to 100.")]
    else:
        amount = read.money("amount")
    data = {
        "code": form.code.data or "",
        "kind": form.kind.data or COUPON_FIXED,
        "amount": amount,
        "min_spend": read.money("min_spend", blank=0),
        **_scope_data(form, read.errors),
        "max_uses": read.whole("max_uses", blank=None),
        "max_uses_per_buyer": read.whole("max_uses_per_buyer", blank=None),
        "starts_at": read.moment("starts_at"),
        "expires_at": read.moment("expires_at"),
        "allow_below_cost": bool(form.allow_below_cost.data),
        "active": bool(form.active.data),
    }
    errors = dict(read.errors)
    if "percent" in errors or (not percent and "amount" in errors):
        data.pop("amount")
    return _checked(data, errors), errors


# --- the service's errors on the form -------------------------------------------------

#: a service's field -> the form's field that shows it, where they differ
_FIELD_OF = {"upgrade.kind": "upgrade_kind", "upgrade.amount": "upgrade_amount"}


def _flat(errors: dict, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for key, value in errors.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, name + "."))
        else:
            flat[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return flat


def show_refusal(form, read_errors: dict, err=None, *, field_of: dict | None = None) -> list[str]:
    """Put what could not be read (``read_errors``, already in the reader's
    language) and what the service refused (``err``, a ``KamengError``;
    its English field errors are translated) on the form's fields; the
    reader's word wins where both speak of a field. Returns the sentences
    that belong to no field of the form, for the top of the page (the
    error's own page sentence where it has one). ``field_of`` maps a
    service's field to the form's where they differ."""
    names = {**_FIELD_OF, **(field_of or {})}
    judged: dict[str, list[str]] = {}
    stray: list[str] = []
    if err is not None and err.errors:
        judged = _flat(page_errors(err.errors))
    elif err is not None:
        stray.append(err.user_message())
    for key, messages in {**judged, **read_errors}.items():
        target = getattr(form, names.get(key, key), None)
        if isinstance(target, Field):
            target.errors = list(messages)
        elif key in judged and err is not None and err.message is not None:
            stray.append(str(err.message))
        else:
            stray.extend(messages)
    return list(dict.fromkeys(stray))
