"""The shop's agent settings (代理设置): how many upline levels earn
commission, how long commission waits before it settles (the refund
window), the first-order discount, and the smallest withdrawal and its fee.

The values live on the shop's row (``tenants.models.Tenant``); commission,
checkout and withdrawals read them there. Saving is atomic (the change and
its audit row commit together), changes nothing when nothing differs, and
clears the cached shop everywhere afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.audit import services as audit
from app.core.errors import ValidationFailed
from app.extensions import db
from app.settings.services import current_shop
from tenants.resolve import invalidate_resolution

#: each setting and its bounds (whole numbers; ``withdraw_min`` in minor
#: units, ``withdraw_fee_bps`` in basis points: 150 is 1.5 %)
BOUNDS: dict[str, tuple[int, int]] = {
    "agent_depth": (0, 3),
    "commission_hold_days": (0, 90),
    "first_order_percent": (0, 90),
    "withdraw_min": (0, 10**12),
    "withdraw_fee_bps": (0, 5_000),
}
INVALID = "The request has invalid fields; see 'errors'."


def agent_settings() -> dict[str, int]:
    """The current shop's agent settings, as stored now."""
    tenant = current_shop()
    return {key: int(getattr(tenant, key)) for key in BOUNDS}


def check_agent_settings(data: Mapping[str, Any]) -> dict[str, int]:
    """The given settings, checked: ``ValidationFailed`` naming each bad
    one (a whole number outside its bounds, or an unknown name)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, int] = {}
    for key, value in data.items():
        if key not in BOUNDS:
            errors[str(key)] = ["Unknown field."]
            continue
        low, high = BOUNDS[key]
        if isinstance(value, bool) or not isinstance(value, int):
            errors[key] = ["Must be a whole number."]
        elif not low <= value <= high:
            errors[key] = [f"A whole number from {low} to {high}."]
        else:
            values[key] = value
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


@dataclass(frozen=True)
class Saved:
    """The settings after a save, and what it changed (``{field: (before, after)}``)."""

    settings: dict[str, int]
    changed: dict[str, tuple]


def save_agent_settings(data: Mapping[str, Any], *, actor: str) -> Saved:
    """Set the given agent settings of the current shop (the others stay):
    ``agent_depth`` 0..3, ``commission_hold_days`` 0..90,
    ``first_order_percent`` 0..90, ``withdraw_min`` (minor units) >= 0,
    ``withdraw_fee_bps`` 0..5000. ``ValidationFailed`` naming each bad field,
    nothing written. Returns the settings and what changed, which is on
    the audit record as ``shop.agent_settings``. Commits."""
    values = check_agent_settings(data)
    tenant = current_shop()
    changed = {
        key: (int(getattr(tenant, key)), value)
        for key, value in values.items()
        if int(getattr(tenant, key)) != value
    }
    if not changed:
        db.session.rollback()
        return Saved(agent_settings(), changed)
    for key, (_before, after) in changed.items():
        setattr(tenant, key, after)
    audit.record(
        actor,
        "shop.agent_settings",
        f"shop:{tenant.slug}",
        changed={key: list(pair) for key, pair in changed.items()},
    )
    db.session.commit()
    invalidate_resolution()
    return Saved(agent_settings(), changed)
