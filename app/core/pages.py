"""Small helpers shared by page views: site gates and form error display."""

from __future__ import annotations

from flask import abort, flash, g

from app.core.errors import KamengError


def only_on(site: str):
    """A blueprint ``before_request`` hook: 404 unless the host is ``site``."""

    def gate():
        if g.get("site") != site:
            abort(404)

    return gate


def flash_error(form, err: KamengError) -> None:
    """Show a service error on the form: per field where it names fields."""
    shown = False
    for field, messages in (err.errors or {}).items():
        target = getattr(form, field, None)
        if target is not None:
            target.errors = list(target.errors or []) + list(messages)
            shown = True
    if not shown:
        flash(err.detail, "error")
