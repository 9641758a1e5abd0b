"""A shop's members (platform users with a role in it: owner, staff) and what
the owner grants a staff member beyond the role: seeing delivered codes.

Every function works in the current shop only: a membership of another
shop is ``NotFound``, as if it did not exist. Who may call what is the
surfaces' question (``members.view``, ``members.manage``); the grant itself
becomes a permission in ``app.accounts.permissions.member_grants``.
"""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.models import ROLE_OWNER, ROLE_STAFF, Membership
from app.audit import services as audit
from app.core.errors import NotFound, ValidationFailed
from app.extensions import db


def list_members() -> list[Membership]:
    """The current shop's members, owners first, then by when they joined."""
    return list(
        db.session.scalars(
            select(Membership).order_by(
                (Membership.role != ROLE_OWNER), Membership.created_at, Membership.id
            )
        ).all()
    )


def get_member(member_id: uuid.UUID) -> Membership:
    """A membership of the current shop; ``NotFound`` for any other id."""
    member = db.session.scalar(select(Membership).where(Membership.id == member_id))
    if member is None:
        raise NotFound("No such member.", message=_l("No such member."))
    return member


def set_code_grant(member_id: uuid.UUID, allowed: bool, actor: str) -> Membership:
    """Grant (or revoke) a staff member of the current shop the right to see
    delivered codes, on the audit record (``member.codes_granted`` or
    ``member.codes_revoked``, in the same transaction). Commits.

    Idempotent: setting what is already set changes and records nothing.
    The owner always sees codes: an owner's membership is ``ValidationFailed``.
    Takes effect with the member's next request, their API keys included.
    """
    member = get_member(member_id)
    if member.role != ROLE_STAFF:
        raise ValidationFailed(
            "Only a staff member's access to codes can be changed; the owner always has it.",
            message=_l("The owner always sees codes; only staff need the grant."),
        )
    if member.can_view_codes == allowed:
        return member
    member.can_view_codes = allowed
    audit.record(
        actor,
        "member.codes_granted" if allowed else "member.codes_revoked",
        f"member:{member.id}",
        user_id=str(member.user_id),
        email=member.user.email,
    )
    db.session.commit()
    return member
