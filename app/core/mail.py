"""Outgoing mail: over SMTP (``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_FROM``;
optional ``MAIL_USERNAME``/``MAIL_PASSWORD`` and ``MAIL_STARTTLS``), or, in
development and tests with no ``MAIL_SERVER``, into files: one ``.eml``
file a message in ``MAIL_FOLDER`` (``instance/mail/`` unless set), which
any mail program opens, so nothing leaves the machine and every message
can be read. Production refuses to start without a ``MAIL_SERVER``
(``app.config``). Mail to buyers is sent from the ``mail`` queue, never
during their request; a staff invitation is the exception, sent while the
owner waits so the page can say whether the mail server took it
(``app.accounts.invitations``)."""

from __future__ import annotations

import secrets
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app


def build_message(to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    """The message as it is sent (and as it is written to a file)."""
    cfg = current_app.config
    message = EmailMessage()
    message["From"] = cfg["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=cfg["PLATFORM_DOMAIN"] or None)
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> str:
    """Send one message. Returns where it went: ``smtp:<server>`` or the path
    of the file it was written to. Raises what the SMTP server or the file
    system raised (``smtplib.SMTPException``, ``OSError``): nothing was sent."""
    cfg = current_app.config
    message = build_message(to, subject, text, html)
    server = cfg.get("MAIL_SERVER")
    if not server:
        return str(write_to_folder(message, Path(cfg["MAIL_FOLDER"])))
    with smtplib.SMTP(server, int(cfg["MAIL_PORT"]), timeout=20) as smtp:
        if cfg.get("MAIL_STARTTLS"):
            smtp.starttls()
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)
    return f"smtp:{server}"


def write_to_folder(message: EmailMessage, folder: Path) -> Path:
    """Write ``message`` to a new file in ``folder`` (made when missing),
    named so the files sort by time. Written under a temporary name and
    renamed, so a reader never sees half a message."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(4)}.eml"
    partial = folder / f".{name}.part"
    partial.write_bytes(message.as_bytes())
    final = folder / name
    partial.rename(final)
    return final
