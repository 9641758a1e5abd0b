"""Shop addresses: the ``<slug>`` of ``<slug>.<PLATFORM_DOMAIN>``.

The one owner of the rule: what a shop address may look like, which words
are the platform's own, and when one is taken. Sign-up (``accounts``), the
console's "open another shop" and the ``tenants`` CLI all go through here.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from tenants.context import all_tenants
from tenants.models import Tenant

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,30})[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    """www api admin static mail smtp imap pop ftp platform app apps console dashboard
    help support status docs blog shop shops store login signup register account accounts
    billing pay payment payments checkout webhook webhooks cdn assets media img images
    auth oauth sso dev test staging demo-admin root system kameng healthz metrics
    ns ns1 ns2 mx""".split()
)


def validate_slug(slug: str) -> str:
    """Return the normalised slug or raise ``ValidationFailed`` saying why."""
    value = (slug or "").strip().lower()
    if not 3 <= len(value) <= 32:
        raise ValidationFailed(
            "The shop address must be 3 to 32 characters long.",
            errors={"slug": ["Must be 3 to 32 characters long."]},
            message=_l("The shop address must be 3 to 32 characters long."),
        )
    if not SLUG_RE.match(value) or "--" in value:
        raise ValidationFailed(
            "The shop address may use lowercase letters, digits and single hyphens, "
            "and must not start or end with a hyphen.",
            errors={"slug": ["Use a-z, 0-9 and single hyphens, not at the ends."]},
            message=_l(
                "Use lowercase letters, digits and single hyphens, not at the start or end."
            ),
        )
    if value in RESERVED_SLUGS:
        raise ValidationFailed(
            f"'{value}' is reserved; choose another shop address.",
            errors={"slug": ["This address is reserved."]},
            message=_l("%(slug)s is reserved; choose another shop address.", slug=value),
        )
    return value


def slug_taken(slug: str) -> Conflict:
    """The ``Conflict`` that says ``slug`` belongs to another shop."""
    return Conflict(
        f"The shop address '{slug}' is taken.",
        errors={"slug": ["Already taken."]},
        message=_l("The shop address %(slug)s is taken; choose another.", slug=slug),
    )


def ensure_slug_free(slug: str) -> None:
    """Raise ``slug_taken`` when a shop (of any status) has ``slug`` already.
    A check before writing: the unique index on ``tenants.slug`` still
    decides a race, and the writer turns its ``IntegrityError`` into the
    same ``slug_taken``. Reads across tenants; writes nothing."""
    with all_tenants():
        if db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)):
            raise slug_taken(slug)
