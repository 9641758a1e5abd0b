"""Which of our languages a visitor asked for: the one owner of that rule.

Flask-Babel's locale selector (``app/__init__.py``) and the page cache's key
(``app/storefront/pagecache.py``) both call :func:`asked_language`, so a
cached page is stored under the language the app would render it in, and
never under the raw ``Accept-Language`` header.
"""

from __future__ import annotations

from collections.abc import Sequence

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

# Accept-Language tags we understand, best first, and the locale each means.
_ACCEPTED = {"zh-CN": "zh_CN", "zh": "zh_CN", "en": "en"}


def asked_language(
    languages: Sequence[str],
    link: str | None,
    cookie: str | None,
    accept_language: str | None,
) -> str | None:
    """The locale the visitor asked for, one of ``languages``: the link's
    ``?lang=``, else the ``lang`` cookie, else the best match of the
    ``Accept-Language`` header; ``None`` when none of them names one of ours
    (the shop's own locale, then the platform default, decide). Pure."""
    for wanted in (link, cookie):
        if wanted in languages:
            return wanted
    if not accept_language:
        return None
    best = parse_accept_header(accept_language, LanguageAccept).best_match(list(_ACCEPTED))
    locale = _ACCEPTED.get(best) if best else None
    return locale if locale in languages else None
