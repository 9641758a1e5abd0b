"""Account jobs (RQ): the password-reset mail."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from app.core.mail import send_mail


def mail_password_reset(email: str, link: str | None, locale: str, site: str) -> str:
    """``mail`` queue: mail ``email`` its password-reset ``link`` for ``site``
    (the shop's or the platform's name), in ``locale``. With no link (the address has no account) nothing is sent:
    the request that queued this did the same work either way. Safe to run
    twice (a second mail with the same link)."""
    if not link:
        return "no account"
    minutes = max(1, int(current_app.config["PASSWORD_RESET_SECONDS"]) // 60)
    context = {"link": link, "minutes": minutes, "site": site}
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("[%(site)s] Set a new password", site=site)
        text = render_template("mail/password_reset.txt", **context)
        html = render_template("mail/password_reset.html", **context)
    send_mail(email, subject, text, html)
    return "sent"
