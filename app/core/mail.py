"""Outgoing mail over SMTP (``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_FROM``;
optional ``MAIL_USERNAME``/``MAIL_PASSWORD`` and ``MAIL_STARTTLS``). Mail
to buyers is sent from the ``mail`` queue, never during their request; a
staff invitation is the exception, sent while the owner waits so the page
can say whether the mail server took it (``app.accounts.invitations``)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> None:
    cfg = current_app.config
    message = EmailMessage()
    message["From"] = cfg["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), timeout=20) as smtp:
        if cfg.get("MAIL_STARTTLS"):
            smtp.starttls()
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)
