"""The console's staff (员工, ``/console/staff``): the shop's members with
their roles and the "can see delivered codes" grant, inviting someone by
email, removing a staff member; and the page where an invited person
chooses a password and joins (``/console/join/<token>``).

Everyone who may open the console sees the list (``members.view``); only
the owner changes it (``members.manage``). Each change is on the audit
record. A page says only what happened: "mailed" when the mail server took
the invitation, otherwise that it was not, with the link to pass on.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from app.accounts import invitations
from app.accounts.auth import (
    current_principal,
    limit_sign_in,
    principal_for_platform_user,
    require,
    sign_in,
)
from app.accounts.members import list_members, remove_member, set_code_grant
from app.core.errors import KamengError, NotFound, ServiceUnavailable, ValidationFailed
from app.core.ids import id_or_404
from app.core.pages import only_on
from app.core.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from app.extensions import db, limiter

bp = Blueprint("console_staff", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

#: Invitations a shop may send an hour (``STAFF_INVITE_RATE_LIMIT``): a shop
#: is free to open, so its invitations must not become a way to mail anyone.
limit_invitations = limiter.limit(
    lambda: current_app.config.get("STAFF_INVITE_RATE_LIMIT", "30 per hour"),
    key_func=lambda: f"staff-invite|{getattr(g.get('shop'), 'id', '-')}",
    methods=["POST"],
)


class InviteForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(message=_l("Type the email to invite.")), Length(max=254)],
    )


class JoinForm(FlaskForm):
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l("At least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
            ),
        ],
    )
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("Passwords differ."))],
    )


def _render(form: InviteForm, link: str | None = None, status: int = 200):
    principal = current_principal()
    pending = invitations.pending_invitations() if principal.can("members.manage") else []
    return (
        render_template(
            "console/staff.html",
            members=list_members(),
            form=form,
            pending=pending,
            link=link,
            me=principal.id,
        ),
        status,
    )


@bp.get("/staff")
@require("members.view")
def staff():
    """The shop's members (owner, staff) and whether each may see delivered
    codes; the owner invites, removes, grants and revokes here."""
    return _render(InviteForm(formdata=None))


@bp.post("/staff/invite")
@require("members.manage")
@limit_invitations
def invite():
    """Invite by email: an existing account becomes staff at once; anyone
    else is mailed a link to sign up and join. A bad email, someone already
    a member, or a mail server that does not answer is said on the page,
    with the email kept in the form."""
    form = InviteForm()
    if not form.validate():
        return _render(form, status=422)
    principal = current_principal()
    try:
        done = invitations.invite_staff(
            form.email.data,
            actor=principal.actor,
            inviter_email=principal.email or "",
            shop_name=g.shop.name,
            locale=g.shop.locale,
            join_url=lambda token: url_for(".join", token=token, _external=True),
        )
    except ServiceUnavailable as err:
        db.session.rollback()
        flash(err.user_message(), "error")
        return _render(form, link=err.extra.get("link"), status=503)
    except KamengError as err:
        db.session.rollback()
        form.email.errors = [_message(err)]
        return _render(form, status=err.status)
    if done.added:
        flash(
            _(
                "%(email)s is staff now: they sign in to this console with their account.",
                email=done.email,
            ),
            "success",
        )
    else:
        flash(
            _(
                "Invitation mailed to %(email)s. The link works for %(days)s days.",
                email=done.email,
                days=invitations.INVITATION_DAYS,
            ),
            "success",
        )
    return redirect(url_for(".staff"))


def _message(err: KamengError) -> str:
    if isinstance(err, ValidationFailed) and "email" in err.errors and err.message is None:
        return _("That email address is not valid.")
    return err.user_message()


@bp.post("/staff/<member_id>/remove")
@require("members.manage")
def remove(member_id: str):
    """Remove a staff member (after the page's confirmation step): the
    owner only; their API keys are revoked with the membership."""
    ident = id_or_404(member_id, NotFound.title)
    try:
        email = remove_member(ident, current_principal().actor)
    except ValidationFailed as err:
        db.session.rollback()
        flash(err.user_message(), "error")
    else:
        flash(
            _("%(email)s is no longer staff; their API keys are revoked.", email=email), "success"
        )
    return redirect(url_for(".staff"))


@bp.post("/staff/<member_id>/codes")
@require("members.manage")
def member_codes(member_id: str):
    """Grant (``allow=1``) or revoke (``allow=0``) a staff member's access to
    delivered codes: the owner only, on the audit record. Another shop's
    member is 404."""
    allowed = request.form.get("allow") == "1"
    ident = id_or_404(member_id, NotFound.title)
    try:
        member = set_code_grant(ident, allowed, current_principal().actor)
    except ValidationFailed as err:
        db.session.rollback()
        flash(err.user_message(), "error")
    else:
        email = member.user.email
        if allowed:
            flash(_("%(email)s can now see delivered codes.", email=email), "success")
        else:
            flash(_("%(email)s can no longer see delivered codes.", email=email), "success")
    return redirect(url_for(".staff"))


@bp.route("/join/<token>", methods=["GET", "POST"])
@limit_sign_in
def join(token: str):
    """An invited person chooses a password: their account is created, they
    become staff and are signed in. A link that is not valid, expired or
    already used says so and how to go on."""
    try:
        invitation = invitations.read_invitation(token)
    except KamengError as err:
        db.session.rollback()
        return render_template(
            "console/join.html", problem=err.user_message(), form=None, invitation=None
        ), (404 if isinstance(err, NotFound) else 410)
    form = JoinForm()
    if form.validate_on_submit():
        try:
            user, _member = invitations.accept_invitation(token, form.password.data)
        except KamengError as err:
            db.session.rollback()
            if "password" in err.errors:
                form.password.errors = [err.user_message()]
            else:
                flash(err.user_message(), "error")
        else:
            sign_in(principal_for_platform_user(user), user)
            flash(_("Welcome to %(shop)s. You are staff here now.", shop=g.shop.name), "success")
            return redirect(url_for("console.dashboard"))
    return render_template("console/join.html", problem=None, form=form, invitation=invitation)
