"""The shop's settings (``/console/settings``, 店铺设置), for the owner
(``shop.manage``): the shop's name, language, time zone, brand colour and
announcement; its logo and banner; its theme and the theme's settings; the
payment methods it offers; its custom domains.

One page, one form per section; each form posts to its own address, which
calls one service (``app.settings``) and goes back to the page with a
message. A refused form is shown again with every value as it was typed
and a message at each field that needs a change. Services answer in
English for the API; the messages here say the same in the reader's
language.

The logo and banner are served on the shop's host at ``/brand/<file>``
(``brand_bp``, registered with this module's blueprint): a public address,
not under ``/console/``, which a proxy may keep to the operators' network.
"""

from __future__ import annotations

from babel import Locale
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from app.accounts.auth import current_principal, require
from app.core.errors import KamengError, ValidationFailed
from app.core.pages import only_on
from app.core.themes import (
    available_themes,
    stored_settings,
    theme_settings_of,
    theme_settings_spec,
    theme_title,
)
from app.extensions import db
from app.payments import registry
from app.settings import brand_files, domains, services
from tenants.profile import ANNOUNCEMENT_MAX, COMMON_TIMEZONES, timezone_choices

bp = Blueprint("console_settings", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

#: Public: the shop's pictures on its own host.
brand_bp = Blueprint("shop_brand", __name__)
brand_bp.before_request(only_on("shop"))
bp.record_once(lambda state: state.app.register_blueprint(brand_bp))

BRAND_MAX_AGE = 365 * 86_400  # a file's name is its content's hash: it never changes
#: Each language as it calls itself (not translated, as in the language switch).
LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}
SETTING_PREFIX = "setting-"


# --- forms ------------------------------------------------------------------------


class ShopForm(FlaskForm):
    name = StringField(_l("Shop name"))
    locale = SelectField(_l("Default language"), validate_choice=False)
    timezone = SelectField(_l("Time zone"), validate_choice=False)
    brand_color = StringField(_l("Brand colour"))
    announcement = TextAreaField(_l("Announcement"))


class ThemeForm(FlaskForm):
    theme = HiddenField()


class PictureForm(FlaskForm):
    file = FileField(_l("Picture"))


class PaymentsForm(FlaskForm):
    stripe_account = StringField(_l("Stripe connected account"))


class DomainForm(FlaskForm):
    host = StringField(_l("Domain"))


def _shop_form(tenant, formdata=None) -> ShopForm:
    form = ShopForm(
        formdata=formdata,
        data={
            "name": tenant.name,
            "locale": tenant.locale,
            "timezone": tenant.timezone,
            "brand_color": tenant.brand_color,
            "announcement": tenant.announcement,
        },
    )
    form.locale.choices = [
        (name, LANGUAGE_NAMES.get(name, name)) for name in current_app.config["LANGUAGES"]
    ]
    common = [(zone, zone) for zone in COMMON_TIMEZONES]
    others = [(zone, zone) for zone in timezone_choices()[len(COMMON_TIMEZONES) :]]
    form.timezone.choices = {_("Common time zones"): common, _("Every time zone"): others}
    return form


def _field_messages() -> dict[str, str]:
    """What to tell the reader about each field a service refused."""
    return {
        "name": _("Give the shop a name of 1 to 120 characters."),
        "locale": _("Choose one of the languages."),
        "timezone": _("Choose a time zone from the list."),
        "brand_color": _("Write the colour as # and six hex digits, like #e4572e."),
        "announcement": _("At most %(count)s characters.", count=ANNOUNCEMENT_MAX),
        "host": _(
            "Use a domain name you own, such as shop.example.com: not an IP address, "
            "and not an address under %(platform)s.",
            platform=current_app.config["PLATFORM_DOMAIN"],
        ),
        "stripe_account": _("A Stripe account id looks like acct_1AbCdEfGhIjKlMnO."),
        "providers": _("Choose at least one of the payment methods listed."),
    }


def _show_errors(form, err: KamengError) -> dict[str, str]:
    """Put a refusal on the form's fields, in the reader's language, with a
    line at the top of the page. Returns the messages of fields the form
    does not hold (the page shows those itself)."""
    messages = _field_messages()
    loose = {}
    for name in err.errors or {}:
        text = messages.get(name) if isinstance(err, ValidationFailed) else None
        text = text or err.user_message()
        target = getattr(form, name, None)
        if target is not None:
            target.errors = [text]
        else:
            loose[name] = text
    flash(_("Not saved: see the marked fields.") if err.errors else err.user_message(), "error")
    return loose


def _setting_message(setting) -> str:
    """What a theme setting of this kind accepts, in the reader's language."""
    if setting.type == "color":
        return _("Write the colour as # and six hex digits, like #e4572e.")
    if setting.type == "choice":
        return _("Choose one of: %(choices)s.", choices=", ".join(setting.choices))
    if setting.type == "int":
        if setting.minimum is not None and setting.maximum is not None:
            return _(
                "Write a whole number from %(low)s to %(high)s.",
                low=setting.minimum,
                high=setting.maximum,
            )
        return _("Write a whole number.")
    return _("At most %(count)s characters.", count=setting.max_length)


# --- the page ---------------------------------------------------------------------


def _language() -> str:
    """The reader's language as the platform names it (``zh_CN``, ``en``)."""
    current = get_locale()
    for name in current_app.config["LANGUAGES"]:
        if current is not None and Locale.parse(name) == current:
            return name
    return "en"


def _theme_section(tenant, theme: str, typed: dict | None = None, errors: dict | None = None):
    """The theme picker and the fields of ``theme``'s settings: what was
    typed (after a refusal), else the values stored for it, else defaults."""
    language = _language()
    values = theme_settings_of(theme, stored_settings(tenant.theme_settings, theme))
    fields = []
    for setting in theme_settings_spec(theme):
        value = values.get(setting.name)
        if typed is not None:
            value = typed.get(setting.name, False if setting.type == "bool" else value)
        fields.append(
            {
                "setting": setting,
                "input": SETTING_PREFIX + setting.name,
                "label": setting.label_for(language),
                "value": value,
                "error": (errors or {}).get(setting.name),
            }
        )
    return {
        "shown": theme,
        "current": tenant.theme,
        "choices": [(name, theme_title(name, language)) for name in available_themes()],
        "fields": fields,
    }


def _payment_section(tenant, chosen: list[str] | None = None):
    off = set(tenant.disabled_payment_providers or ())
    return [
        {
            "name": adapter.name,
            "title": adapter.title or adapter.name,
            "on": adapter.name in chosen if chosen is not None else adapter.name not in off,
        }
        for adapter in registry.offered_by_platform()
    ]


def _page(status: int = 200, **override):
    """The settings page; ``override`` holds the section a refused form
    shows again as typed."""
    tenant = services.current_shop()
    shown_theme = override.pop("theme_section", None)
    if shown_theme is None:
        wanted = request.args.get("theme")
        shown_theme = _theme_section(
            tenant, wanted if wanted in available_themes() else tenant.theme
        )
    context = {
        "tenant": tenant,
        "shop_form": override.pop("shop_form", None) or _shop_form(tenant),
        "theme_form": ThemeForm(formdata=None),
        "theme_section": shown_theme,
        "picture_forms": {
            kind: override.pop(f"{kind}_form", None) or PictureForm(formdata=None, prefix=kind)
            for kind in brand_files.KINDS
        },
        "pictures": {kind: getattr(tenant, column) for kind, column in brand_files.KINDS.items()},
        "max_picture_kb": current_app.config["UPLOAD_MAX_IMAGE_BYTES"] // 1024,
        "payments_form": override.pop("payments_form", None) or PaymentsForm(formdata=None),
        "providers": override.pop("providers", None) or _payment_section(tenant),
        "domain_form": override.pop("domain_form", None) or DomainForm(formdata=None),
        "providers_error": override.pop("providers_error", None),
        "domains": domains.list_domains(),
        "announcement_max": ANNOUNCEMENT_MAX,
    }
    return render_template("console/settings.html", **context), status


def _saved(message: str, section: str):
    flash(message, "success")
    return redirect(url_for(".settings", _anchor=section))


@bp.get("/settings")
@require("shop.manage")
def settings():
    return _page()


@bp.post("/settings/shop")
@require("shop.manage")
def save_shop():
    tenant = services.current_shop()
    form = _shop_form(tenant, formdata=request.form)
    if form.validate_on_submit():
        try:
            changed = services.save_profile(
                name=form.name.data or "",
                locale=form.locale.data or "",
                timezone=form.timezone.data or "",
                brand_color=form.brand_color.data or "",
                announcement=form.announcement.data or "",
                actor=current_principal().actor,
            )
        except ValidationFailed as err:
            db.session.rollback()
            _show_errors(form, err)
        else:
            return _saved(
                _("Saved.") if changed else _("Nothing was changed."),
                "shop",
            )
    return _page(422, shop_form=form)


@bp.post("/settings/theme")
@require("shop.manage")
def save_theme():
    form = ThemeForm()
    theme = form.theme.data or ""
    spec = theme_settings_spec(theme)
    typed = {
        s.name: request.form[SETTING_PREFIX + s.name]
        for s in spec
        if SETTING_PREFIX + s.name in request.form
    }
    if form.validate_on_submit():
        try:
            services.save_theme(
                theme=theme, settings_theme=theme, raw=typed, actor=current_principal().actor
            )
        except ValidationFailed as err:
            db.session.rollback()
            by_name = {s.name: s for s in spec}
            errors = {
                name: _setting_message(by_name[name]) for name in err.errors if name in by_name
            }
            if not errors:
                flash(err.user_message(), "error")
            tenant = services.current_shop()
            shown = theme if theme in available_themes() else tenant.theme
            section = _theme_section(tenant, shown, typed if shown == theme else None, errors)
            if errors:
                flash(_("Some theme settings need a change: see the marked fields."), "error")
            return _page(422, theme_section=section)
        return _saved(_("Theme saved. The shop shows it now."), "theme")
    return _page(422)


@bp.post("/settings/payments")
@require("shop.manage")
def save_payments():
    form = PaymentsForm()
    chosen = request.form.getlist("providers")
    loose: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            services.save_payment_methods(
                offered=chosen,
                stripe_account=form.stripe_account.data,
                actor=current_principal().actor,
            )
        except ValidationFailed as err:
            db.session.rollback()
            loose = _show_errors(form, err)
        else:
            return _saved(_("Payment settings saved."), "payments")
    tenant = services.current_shop()
    return _page(
        422,
        payments_form=form,
        providers=_payment_section(tenant, chosen),
        providers_error=loose.get("providers"),
    )


@bp.post("/settings/pictures/<kind>")
@require("shop.manage")
def upload_picture(kind: str):
    if kind not in brand_files.KINDS:
        abort(404)
    form = PictureForm(prefix=kind)
    if form.validate_on_submit():
        upload = form.file.data
        if not upload or not getattr(upload, "filename", ""):
            form.file.errors = [_("Choose a picture to upload.")]
        else:
            try:
                brand_files.store_brand_image(kind, upload.stream, actor=current_principal().actor)
            except KamengError as err:
                db.session.rollback()
                form.file.errors = [err.user_message()]
            else:
                return _saved(
                    _("Logo saved.") if kind == "logo" else _("Banner saved."), "pictures"
                )
    return _page(422, **{f"{kind}_form": form})


@bp.post("/settings/pictures/<kind>/remove")
@require("shop.manage")
def remove_picture(kind: str):
    if kind not in brand_files.KINDS:
        abort(404)
    brand_files.remove_brand_image(kind, actor=current_principal().actor)
    return _saved(
        _("The logo is removed.") if kind == "logo" else _("The banner is removed."), "pictures"
    )


@bp.post("/settings/domains")
@require("shop.manage")
def add_domain():
    form = DomainForm()
    if form.validate_on_submit():
        try:
            added = domains.add_domain(form.host.data or "", actor=current_principal().actor)
        except KamengError as err:
            db.session.rollback()
            _show_errors(form, err)
        else:
            return _saved(
                _(
                    "%(host)s is connected. Publish the TXT record below, then verify it.",
                    host=added.host,
                ),
                "domains",
            )
    return _page(422, domain_form=form)


@bp.post("/settings/domains/<host>/verify")
@require("shop.manage")
def verify_domain(host: str):
    """Look the domain's record up now and say what was found."""
    try:
        verified = domains.verify_domain(host, actor=current_principal().actor)
    except ValidationFailed as err:
        db.session.rollback()
        flash(err.user_message(), "error")
        return redirect(url_for(".settings", _anchor="domains"))
    return _saved(
        _("%(host)s is verified: the shop answers there now.", host=verified.host), "domains"
    )


@bp.post("/settings/domains/<host>/remove")
@require("shop.manage")
def remove_domain(host: str):
    removed = domains.remove_domain(host, actor=current_principal().actor)
    return _saved(
        _("%(host)s is removed: the shop no longer answers there.", host=removed), "domains"
    )


# --- the shop's pictures, public ---------------------------------------------------


@brand_bp.get("/brand/<name>")
def brand_file(name: str):
    """The shop's logo or banner, with a year-long cache lifetime (the name
    is the content's hash). Only the pictures the shop shows now."""
    shop = g.shop
    path, content_type = brand_files.brand_file(shop.id, name, (shop.logo_file, shop.banner_file))
    response = send_file(path, mimetype=content_type, max_age=BRAND_MAX_AGE, conditional=True)
    response.cache_control.immutable = True
    return response
