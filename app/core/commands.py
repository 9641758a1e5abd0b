"""What every ``flask --app wsgi …`` command shares: bad input is one line
on stderr and exit code 1 (click's ``ClickException``)."""

from __future__ import annotations

import click


def fail(err: Exception) -> None:
    """Raise ``ClickException`` with the error's detail and field errors on one line."""
    detail = getattr(err, "detail", None) or str(err)
    errors = getattr(err, "errors", None) or {}
    extra = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items())
    if extra and extra not in detail:
        detail = f"{detail} ({extra})"
    raise click.ClickException(detail)
