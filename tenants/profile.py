"""A shop's profile as its operator sets it (店铺设置): name, default
language, time zone, brand colour and announcement.

The rules live here, once: the console's form asks the same predicates so it
can say what is wrong in the reader's language, and :func:`profile_values`
checks everything again before anything is written. Writing is
:func:`update_profile`, which joins the caller's transaction (the caller
records the change, commits and calls ``invalidate_resolution``).
"""

from __future__ import annotations

import uuid
import zoneinfo
from functools import lru_cache

from flask import current_app

from app.core.errors import NotFound, ValidationFailed
from app.core.themes import is_hex_color
from app.extensions import db
from tenants.models import Tenant
from tenants.provisioning import validate_shop_name

#: Offered first in the time-zone list: where most shops are.
COMMON_TIMEZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "UTC",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
)
#: Entries of the time-zone database that name no place a shop is in.
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})
ANNOUNCEMENT_MAX = 500
#: The fields :func:`update_profile` writes, in the order the page shows them.
PROFILE_FIELDS = ("name", "locale", "timezone", "brand_color", "announcement")


@lru_cache(maxsize=1)
def timezone_choices() -> tuple[str, ...]:
    """Every IANA time zone this system knows, the common ones first, the
    rest in alphabetical order."""
    rest = sorted(zoneinfo.available_timezones() - _NOT_ZONES - set(COMMON_TIMEZONES))
    return COMMON_TIMEZONES + tuple(rest)


def is_timezone(name: object) -> bool:
    return isinstance(name, str) and name in _zone_set()


@lru_cache(maxsize=1)
def _zone_set() -> frozenset[str]:
    return frozenset(timezone_choices())


def languages() -> list[str]:
    """The languages a shop may speak by default (the platform's)."""
    return list(current_app.config["LANGUAGES"])


def clean_announcement(text: object) -> str:
    """The announcement as stored: plain text, surrounding blanks dropped,
    line ends as ``\\n``."""
    return str(text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def profile_values(
    *, name: str, locale: str, timezone: str, brand_color: str, announcement: str
) -> dict:
    """The values to store, checked together: ``ValidationFailed`` naming
    every field that is not valid (nothing is written)."""
    errors: dict[str, list[str]] = {}
    values: dict = {}
    try:
        values["name"] = validate_shop_name(name)
    except ValidationFailed as err:
        errors.update(err.errors)
    if locale in languages():
        values["locale"] = locale
    else:
        errors["locale"] = ["Must be one of: " + ", ".join(languages()) + "."]
    if is_timezone(timezone):
        values["timezone"] = timezone
    else:
        errors["timezone"] = ["Must be an IANA time zone such as Asia/Shanghai."]
    color = (brand_color or "").strip()
    if is_hex_color(color):
        values["brand_color"] = color.lower()
    else:
        errors["brand_color"] = ["Must be a colour like #e4572e."]
    text = clean_announcement(announcement)
    if len(text) <= ANNOUNCEMENT_MAX:
        values["announcement"] = text
    else:
        errors["announcement"] = [f"At most {ANNOUNCEMENT_MAX} characters."]
    if errors:
        raise ValidationFailed("Some settings are not valid.", errors=errors)
    return values


def update_profile(tenant_id: uuid.UUID, values: dict) -> dict[str, tuple]:
    """Write checked ``values`` (from :func:`profile_values`) to the shop,
    in the caller's transaction (flushed, not committed). Returns what
    changed: ``{field: (before, after)}``."""
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("No such shop.")
    changed = {}
    for field in PROFILE_FIELDS:
        if field in values and getattr(tenant, field) != values[field]:
            changed[field] = (getattr(tenant, field), values[field])
            setattr(tenant, field, values[field])
    db.session.flush()
    return changed
