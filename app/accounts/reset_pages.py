"""The two steps of a forgotten password as pages, shared by the shop's, the
console's and the platform's sign-in (each surface passes its own site,
links and template): ask for a link, then choose a new password through
it. The rules stay in ``app.accounts.resets``; this is only the page flow,
written once."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect
from flask_babel import get_locale
from flask_babel import gettext as _

from app.accounts import resets
from app.accounts.forms import ForgotPasswordForm, ResetPasswordForm
from app.core.errors import KamengError
from app.core.pages import flash_error, no_store
from app.extensions import db


def forgot_page(site: str, link_for: Callable[[str], str], render: Callable, **request_kw):
    """The request form; on a valid post, ``resets.request_reset`` (the answer
    is the same for any address). ``render(form=, sent=)`` draws the page."""
    form = ForgotPasswordForm()
    sent = None
    if form.validate_on_submit():
        try:
            resets.request_reset(
                site, form.email.data, link_for, locale=str(get_locale()), **request_kw
            )
        except KamengError as err:
            flash_error(form, err)
        else:
            sent = form.email.data
    return render(form=form, sent=sent)


def reset_page(site: str, token: str, render: Callable, sign_in_url: str):
    """The new-password form behind a mailed link: an invalid link is a 400
    page saying why; a changed password goes to ``sign_in_url``.
    ``render(form=, invalid=)`` draws the page; never stored by a cache."""
    form = ResetPasswordForm()
    try:
        resets.account_for_token(site, token)
    except resets.ResetLinkInvalid as err:
        return no_store(render(form=None, invalid=err.user_message()), 400)
    if form.validate_on_submit():
        try:
            resets.reset_password(site, token, form.password.data)
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            flash(_("Your password is changed. Sign in with it."), "success")
            return redirect(sign_in_url)
    return no_store(render(form=form, invalid=None))
