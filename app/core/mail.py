"""Outgoing mail: over SMTP (``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_FROM``;
optional ``MAIL_USERNAME``/``MAIL_PASSWORD`` and ``MAIL_STARTTLS``), or, in
development and tests with no ``MAIL_SERVER``, into files: one ``.eml``
file a message in ``MAIL_FOLDER`` (``instance/mail/`` unless set), which
any mail program opens, so nothing leaves the machine and every message
can be read. Production refuses to start without a ``MAIL_SERVER``
(``app.config``). Mail to buyers is sent from the ``mail`` queue, never
during their request; a staff invitation is the exception, sent while the
owner waits so the page can say whether the mail server took it
(``app.accounts.invitations``).

Each thread keeps one SMTP connection and reuses it from message to
message (a worker process is one thread: one connection, across its jobs),
so a queue of mails costs one connect, greeting and login, not one each.
A connection idle past ``MAIL_KEEPALIVE_SECONDS`` (30 unless set) is
closed and opened again before use; one the server has dropped is opened
again and the message sent once more."""

from __future__ import annotations

import secrets
import smtplib
import threading
import time
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app


def build_message(to: str, subject: str, text: str, html: str | None = None) -> Message:
    """The message as it is sent (and as it is written to a file): UTF-8
    text, and the HTML as its alternative when there is one.

    Built with the classic ``email.mime`` classes, which cost about a third
    of ``EmailMessage``'s header registry and folding (a delivery mail is
    written for every order). Addresses that are not ASCII need the modern
    policy's handling of them, and get it."""
    cfg = current_app.config
    sender = cfg["MAIL_FROM"]
    if not (sender.isascii() and to.isascii()):
        return _modern_message(sender, to, subject, text, html)
    body = MIMEText(text, "plain", "utf-8")
    if html:
        message = MIMEMultipart("alternative")
        message.attach(body)
        message.attach(MIMEText(html, "html", "utf-8"))
    else:
        message = body
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=cfg["PLATFORM_DOMAIN"] or None)
    return message


def _modern_message(
    sender: str, to: str, subject: str, text: str, html: str | None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=current_app.config["PLATFORM_DOMAIN"] or None)
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
    settings = (
        server,
        int(cfg["MAIL_PORT"]),
        bool(cfg.get("MAIL_STARTTLS")),
        cfg.get("MAIL_USERNAME") or "",
        cfg.get("MAIL_PASSWORD") or "",
    )
    smtp, reused = _connection(settings, float(cfg.get("MAIL_KEEPALIVE_SECONDS", 30)))
    try:
        smtp.send_message(message)
    except (smtplib.SMTPServerDisconnected, OSError):
        close_connection()
        if not reused:
            raise
        # The server hung up on a connection kept from an earlier message:
        # nothing was taken, so open a new one and send once more.
        smtp, _ = _connection(settings, 0)
        try:
            smtp.send_message(message)
        except Exception:
            close_connection()
            raise
    except Exception:
        close_connection()  # a refusal may leave the session in any state
        raise
    return f"smtp:{server}"


_held = threading.local()


def _connection(settings: tuple, keepalive: float) -> tuple[smtplib.SMTP, bool]:
    """This thread's connection for ``settings`` (opened when there is none,
    it was idle past ``keepalive`` seconds, or the settings changed) and
    whether it was kept from an earlier message."""
    now = time.monotonic()
    held = getattr(_held, "link", None)
    if held is not None:
        kept_settings, smtp, used = held
        if kept_settings == settings and now - used < keepalive:
            _held.link = (settings, smtp, now)
            return smtp, True
        close_connection()
    server, port, starttls, username, password = settings
    smtp = smtplib.SMTP(server, port, timeout=20)
    try:
        if starttls:
            smtp.starttls()
        if username:
            smtp.login(username, password)
    except Exception:
        smtp.close()
        raise
    _held.link = (settings, smtp, now)
    return smtp, False


def close_connection() -> None:
    """Close this thread's kept SMTP connection, if any (politely when the
    server still listens)."""
    held = getattr(_held, "link", None)
    _held.link = None
    if held is None:
        return
    smtp = held[1]
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def write_to_folder(message: Message, folder: Path) -> Path:
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
