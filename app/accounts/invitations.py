"""Inviting staff (邀请员工) by email.

Someone who already has a platform account becomes staff at once
(``members.add_staff``). Anyone else is mailed a link to sign up and join:
the link carries a signed token (the shop, the email, who invited) that
expires after ``INVITATION_DAYS`` and works only while no account with that
email exists, so it is spent by its own use. No row is kept for an
invitation; the audit log records each one (``member.invited``), and the
pending ones are read from there.

The mail is sent while the owner waits (a short SMTP exchange), not from the
queue: the page then says "mailed" only when the mail server took it, and
otherwise offers the link to pass on by hand.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts.members import add_staff
from app.accounts.models import ROLE_STAFF, Membership, PlatformUser
from app.accounts.services import check_password, normalize_email
from app.audit import services as audit
from app.audit.models import AuditEvent
from app.billing import limits
from app.core.errors import Conflict, NotFound, ServiceUnavailable
from app.core.mail import send_mail
from app.core.security import hash_password
from app.extensions import db
from tenants.context import current_tenant_id

INVITATION_DAYS = 7
_SALT = "kameng.staff-invitation"


@dataclass(frozen=True)
class Invited:
    """What inviting did: ``added`` (an existing account is staff now) or
    mailed an invitation link."""

    email: str
    added: bool


@dataclass(frozen=True)
class Invitation:
    """A valid invitation to the current shop, read from its token."""

    email: str
    invited_by: str
    invited_at: datetime


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def invitation_token(email: str, invited_by: str) -> str:
    """A signed token inviting ``email`` to the current shop as staff."""
    return _serializer().dumps({"s": str(current_tenant_id()), "e": email, "by": invited_by})


def invite_staff(
    email: str,
    *,
    actor: str,
    inviter_email: str,
    shop_name: str,
    locale: str,
    join_url: Callable[[str], str],
) -> Invited:
    """Invite ``email`` to the current shop as staff (see the module doc).

    An existing account is added at once (``member.added``). Otherwise the
    invitation is mailed in ``locale`` with the link ``join_url(token)``,
    then recorded (``member.invited``) and committed; when the mail server
    does not take it, ``ServiceUnavailable`` carries the link
    (``err.extra["link"]``) and nothing is recorded. ``ValidationFailed``
    for a malformed email, ``Conflict`` for someone already a member.
    """
    email = normalize_email(email)
    user = db.session.scalar(select(PlatformUser).where(PlatformUser.email == email))
    if user is not None:
        add_staff(user, actor)
        return Invited(email, added=True)
    limits.check("staff")  # before the mail: an invitation must be usable
    link = join_url(invitation_token(email, inviter_email))
    context = {
        "shop_name": shop_name,
        "inviter": inviter_email,
        "link": link,
        "days": INVITATION_DAYS,
    }
    with force_locale(locale):
        subject = _("[%(shop)s] You are invited to help run the shop", shop=shop_name)
        text = render_template("mail/invitation.txt", **context)
        html = render_template("mail/invitation.html", **context)
    try:
        send_mail(email, subject, text, html)
    except (OSError, smtplib.SMTPException) as err:
        raise ServiceUnavailable(
            f"The mail server did not take the invitation: {err}",
            message=_l(
                "The invitation could not be mailed (the mail server did not answer). "
                "Try again later, or send %(email)s this link yourself:",
                email=email,
            ),
            link=link,
        ) from None
    audit.record(actor, "member.invited", f"email:{email}", email=email)
    db.session.commit()
    return Invited(email, added=False)


def read_invitation(token: str) -> Invitation:
    """The invitation ``token`` makes to the current shop. ``NotFound`` for
    a token that is forged, damaged or for another shop; ``Conflict`` once
    it has expired or its email has an account (it was used)."""
    try:
        data, signed_at = _serializer().loads(
            token or "", max_age=INVITATION_DAYS * 86400, return_timestamp=True
        )
    except SignatureExpired:
        raise Conflict(
            "This invitation has expired.",
            message=_l("This invitation has expired. Ask the shop's owner to invite you again."),
        ) from None
    except BadSignature:
        raise NotFound(
            "No such invitation.",
            message=_l("This invitation link is not valid. Check that it was copied whole."),
        ) from None
    if not isinstance(data, dict) or data.get("s") != str(current_tenant_id()):
        raise NotFound(
            "No such invitation.",
            message=_l("This invitation link is not valid. Check that it was copied whole."),
        )
    email = str(data.get("e") or "")
    if db.session.scalar(select(PlatformUser.id).where(PlatformUser.email == email)):
        raise Conflict(
            "This invitation was used.",
            message=_l(
                "An account with this email exists already: sign in. If you cannot open "
                "the console, ask the shop's owner to invite you again."
            ),
        )
    return Invitation(email, str(data.get("by") or ""), signed_at)


def accept_invitation(token: str, password: str) -> tuple[PlatformUser, Membership]:
    """Create the invited person's account with ``password`` and make them
    staff of the current shop, on the audit record (``member.joined``): one
    transaction, committed. Errors as ``read_invitation``, and
    ``ValidationFailed`` for a password too short or too long."""
    invitation = read_invitation(token)
    check_password(password)
    limits.check("staff")
    user = PlatformUser(email=invitation.email, password_hash=hash_password(password))
    try:
        db.session.add(user)
        db.session.flush()
        member = Membership(user_id=user.id, role=ROLE_STAFF)
        db.session.add(member)
        db.session.flush()
        audit.record(
            f"operator {user.email}",
            "member.joined",
            f"member:{member.id}",
            user_id=str(user.id),
            email=user.email,
            invited_by=invitation.invited_by,
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same link accepted twice at once
        raise Conflict(
            "This invitation was used.",
            message=_l("This invitation was used already. Sign in instead."),
        ) from None
    return user, member


@dataclass(frozen=True)
class PendingInvitation:
    email: str
    invited_at: datetime
    expires_at: datetime


def pending_invitations(limit: int = 50) -> list[PendingInvitation]:
    """Invitations of the current shop still open: mailed within
    ``INVITATION_DAYS`` to an email that has no account yet, latest first,
    one per email (at most ``limit``)."""
    since = datetime.now(UTC) - timedelta(days=INVITATION_DAYS)
    rows = db.session.execute(
        select(AuditEvent.subject, AuditEvent.created_at)
        .where(AuditEvent.action == "member.invited", AuditEvent.created_at >= since)
        .order_by(AuditEvent.created_at.desc())
        .limit(limit * 4)
    ).all()
    latest: dict[str, datetime] = {}
    for subject, created_at in rows:
        latest.setdefault(subject.removeprefix("email:"), created_at)
    if not latest:
        return []
    joined = set(
        db.session.scalars(select(PlatformUser.email).where(PlatformUser.email.in_(latest)))
    )
    return [
        PendingInvitation(email, at, at + timedelta(days=INVITATION_DAYS))
        for email, at in latest.items()
        if email not in joined
    ][:limit]
