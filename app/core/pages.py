"""Small helpers shared by page views: site gates and form error display."""

from __future__ import annotations

from flask import abort, flash, g, make_response

from app.core.errors import KamengError


def only_on(site: str):
    """A blueprint ``before_request`` hook: 404 unless the host is ``site``."""

    def gate():
        if g.get("site") != site:
            abort(404)

    return gate


def flash_error(form, err: KamengError) -> None:
    """Show a service error on the form, in the reader's language: beside the
    field it names, else as a message at the top. The words are the error's
    ``message`` (the translated sentence a service gives for pages); an
    error without one shows its per-field texts beside the fields, or its
    translated title at the top, never the API's English ``detail``."""
    shown = False
    for field, messages in (err.errors or {}).items():
        target = getattr(form, field, None)
        if target is not None:
            said = [err.user_message()] if err.message is not None else list(messages)
            target.errors = list(target.errors or []) + said
            shown = True
            if err.message is not None:
                break  # one sentence says it: not again beside a second field
    if not shown:
        flash(err.user_message(), "error")


def no_store(body, status: int = 200):
    """A page no cache may keep (it holds a secret link, or answers for one)."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response
