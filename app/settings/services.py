"""Changing a shop's profile, theme and payment methods.

Every function here acts on the current shop (the request's, or a
``tenant_context``), is atomic (the change and its audit row commit
together, or neither), and after the commit invalidates the cached shop
everywhere, so the next page of any process shows the change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from app.audit import services as audit
from app.core.errors import NotFound, ValidationFailed
from app.core.themes import (
    available_themes,
    validate_theme_settings,
    with_theme_settings,
)
from app.extensions import db
from app.payments import registry
from tenants.context import current_tenant_id
from tenants.models import Tenant
from tenants.profile import profile_values, update_profile
from tenants.resolve import invalidate_resolution

#: A Stripe connected account id as Stripe writes them.
STRIPE_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{1,59}")


def current_shop() -> Tenant:
    """The current shop's row, as stored now (not the cached snapshot)."""
    tenant = db.session.get(Tenant, current_tenant_id())
    if tenant is None:
        raise NotFound("No such shop.")
    return tenant


def _subject(tenant: Tenant) -> str:
    return f"shop:{tenant.slug}"


def _commit() -> None:
    db.session.commit()
    invalidate_resolution()


def save_profile(
    *, name: str, locale: str, timezone: str, brand_color: str, announcement: str, actor: str
) -> dict[str, tuple]:
    """Set the shop's name, default language, time zone, brand colour and
    announcement. ``ValidationFailed`` naming every bad field (nothing is
    written). Returns what changed (``{field: (before, after)}``); a save
    that changes nothing writes nothing, not even an audit row."""
    values = profile_values(
        name=name,
        locale=locale,
        timezone=timezone,
        brand_color=brand_color,
        announcement=announcement,
    )
    tenant = current_shop()
    changed = update_profile(tenant.id, values)
    if not changed:
        db.session.rollback()
        return changed
    audit.record(
        actor,
        "shop.profile",
        _subject(tenant),
        changed={field: list(pair) for field, pair in changed.items()},
    )
    _commit()
    return changed


def save_theme(
    *, theme: str, settings_theme: str | None, raw: Mapping[str, object], actor: str
) -> None:
    """Make ``theme`` the shop's theme, and store ``raw`` (a form's values)
    as the settings of ``settings_theme`` (the theme whose fields were
    shown; it may be another one). Each theme keeps its own values, so
    switching back finds them again. ``ValidationFailed`` for a theme that
    does not exist (``theme``) or a setting that is not valid (one error per
    setting, named as the manifest names it); nothing is written then."""
    names = available_themes()
    if theme not in names:
        raise ValidationFailed(
            f"No theme '{theme}'.",
            errors={"theme": ["Not one of the themes."]},
            message=_l("Choose one of the themes."),
        )
    tenant = current_shop()
    detail: dict = {"theme": [tenant.theme, theme]}
    if settings_theme in names:
        values = validate_theme_settings(settings_theme, raw)
        tenant.theme_settings = with_theme_settings(tenant.theme_settings, settings_theme, values)
        detail["settings"] = {settings_theme: values}
    tenant.theme = theme
    audit.record(actor, "shop.theme", _subject(tenant), **detail)
    _commit()


def save_payment_methods(
    *, offered: list[str], stripe_account: str | None, actor: str
) -> frozenset[str]:
    """Choose which of the platform's payment providers the shop offers, and
    set its Stripe connected account (``acct_…``) when it has none yet.

    A provider not shown (the platform does not offer it now) keeps the
    shop's earlier choice. The account cannot be changed here once set:
    refunds of earlier payments are made on the shop's account. Returns the
    providers now turned off. ``ValidationFailed`` when no provider would
    be left, a name is not one the platform offers, or the account id is
    not one."""
    shown = [a.name for a in registry.offered_by_platform()]
    errors: dict[str, list[str]] = {}
    message = None
    unknown = sorted(set(offered) - set(shown))
    if unknown:
        errors["providers"] = ["Not offered by the platform: " + ", ".join(unknown) + "."]
        message = _l("Choose among the payment methods listed.")
    elif shown and not set(offered) & set(shown):
        errors["providers"] = ["Choose at least one payment method."]
        message = _l("Choose at least one payment method, or buyers cannot pay.")
    tenant = current_shop()
    account = (stripe_account or "").strip() or None
    if account is not None and account != tenant.stripe_account_id:
        if tenant.stripe_account_id:
            errors["stripe_account"] = ["The shop's Stripe account is set already."]
            message = message or _l("The shop's Stripe account is set already.")
        elif not STRIPE_ACCOUNT.fullmatch(account):
            errors["stripe_account"] = ["Must look like acct_1AbCdEfGhIjKlMnO."]
            message = message or _l("A Stripe account id looks like acct_1AbCdEfGhIjKlMnO.")
    if errors:
        raise ValidationFailed(
            "Some payment settings are not valid.", errors=errors, message=message
        )
    before = frozenset(tenant.disabled_payment_providers or ())
    after = (before - set(shown)) | (set(shown) - set(offered))
    detail: dict = {}
    if after != before:
        tenant.disabled_payment_providers = sorted(after)
        detail["turned_off"] = [sorted(before), sorted(after)]
    if account is not None and account != tenant.stripe_account_id:
        tenant.stripe_account_id = account
        detail["stripe_account"] = account
    if not detail:
        db.session.rollback()
        return before
    audit.record(actor, "shop.payments", _subject(tenant), **detail)
    _commit()
    return after
