"""A shop's members (platform users with a role in it: owner, staff), who
joins and leaves (``add_staff``, ``remove_member``; invitations of people
without an account are ``app.accounts.invitations``), and what the owner
grants a staff member beyond the role: seeing delivered codes.

Every function works in the current shop only: a membership of another
shop is ``NotFound``, as if it did not exist. Who may call what is the
surfaces' question (``members.view``, ``members.manage``); the grant itself
becomes a permission in ``app.accounts.permissions.member_grants``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.accounts.models import ROLE_OWNER, ROLE_STAFF, ApiKey, Membership, PlatformUser
from app.audit import services as audit
from app.billing import limits
from app.core.errors import Conflict, NotFound, ValidationFailed
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


def owner_emails() -> list[str]:
    """The email addresses of the current shop's owners, for the mail the
    shop's business sends them (stock alerts, billing reminders)."""
    return list(
        db.session.scalars(
            select(PlatformUser.email)
            .join(Membership, Membership.user_id == PlatformUser.id)
            .where(Membership.role == ROLE_OWNER)
            .order_by(PlatformUser.email)
        )
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


def add_staff(user: PlatformUser, actor: str) -> Membership:
    """Make an existing platform user staff of the current shop, on the
    audit record (``member.added``). Commits. ``Conflict`` when they are a
    member already."""
    if db.session.scalar(select(Membership.id).where(Membership.user_id == user.id)):
        raise Conflict(
            "That user is already a member of this shop.",
            errors={"email": ["Already a member."]},
            message=_l("%(email)s is already a member of this shop.", email=user.email),
        )
    limits.check("staff")
    member = Membership(user_id=user.id, role=ROLE_STAFF)
    db.session.add(member)
    db.session.flush()
    audit.record(
        actor, "member.added", f"member:{member.id}", user_id=str(user.id), email=user.email
    )
    db.session.commit()
    return member


def remove_member(member_id: uuid.UUID, actor: str) -> str:
    """Remove a staff member from the current shop, on the audit record
    (``member.removed``), and revoke the API keys they made here: the
    membership and its keys end in one transaction (a key would stop
    working without a membership anyway; revoked, it stays dead if they
    are added again). Commits; returns the email. ``ValidationFailed`` for
    the owner, ``NotFound`` for another shop's member. Their open sessions
    end with their next request."""
    member = get_member(member_id)
    if member.role != ROLE_STAFF:
        raise ValidationFailed(
            "The owner cannot be removed.",
            message=_l("The shop's owner cannot be removed."),
        )
    email, user_id = member.user.email, member.user_id
    revoked = db.session.execute(
        update(ApiKey)
        .where(ApiKey.created_by_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.delete(member)
    audit.record(
        actor,
        "member.removed",
        f"member:{member_id}",
        user_id=str(user_id),
        email=email,
        keys_revoked=int(revoked or 0),
    )
    db.session.commit()
    return email
