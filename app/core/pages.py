"""Small helpers shared by page views: site gates, form error display, and
the typed filters of list pages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime

from flask import abort, flash, g, make_response

from app.core.errors import KamengError
from app.extensions import db


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


@dataclass
class TypedFilters:
    """A list page's filters as typed (kept to fill the form again), what
    they mean for the query (``wanted``: None while a field cannot be read),
    and a message per field that could not be read."""

    typed: dict
    wanted: object | None
    errors: dict = dataclasses.field(default_factory=dict)

    def link_args(self) -> dict:
        """The typed filters that are set, for links to other pages of the list."""
        return {k: v for k, v in self.typed.items() if v}


def _typed_day(text: str):
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return False


def typed_day_span(typed: dict, errors: dict) -> tuple[datetime | None, datetime | None]:
    """The instants of the days ``typed["start"]`` to ``typed["end"]`` (both
    included, in the shop's time zone; either may be empty). A day that
    cannot be read, or an end before the start, adds its message to
    ``errors`` under the field's name."""
    from flask_babel import gettext as _

    from app.core.dates import day_range, shop_timezone

    first, last = _typed_day(typed.get("start", "")), _typed_day(typed.get("end", ""))
    if first is False:
        errors["start"] = _("Use a date like 2024-05-01.")
    if last is False:
        errors["end"] = _("Use a date like 2024-05-01.")
    if first and last and last < first:
        errors["end"] = _("The end date is before the start date.")
    if first is False or last is False:
        return None, None
    return day_range(first or None, last or None, shop_timezone())


def attempt_save(save, check, read: dict):
    """A form page's save: save (when everything could be read) or only check the rest; the
    saved result, or ``(None, the service's refusal or None)``."""
    try:
        if read:
            check()
            return None, None
        return save(), None
    except KamengError as err:
        db.session.rollback()
        return None, err
