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


def current_translations():
    """Flask-Babel's ``get_translations()`` for the current context, found
    once per context and locale: the templates' ``_`` asks for it once per
    string, and each ask walked Flask-Babel's context, domain and locale
    lookups (about a tenth of a product page's CPU). Remembered on
    Flask-Babel's own per-context namespace with the locale and domain it
    was found for, so ``force_locale`` (a new locale object) or a domain
    change finds the right one."""
    from flask import g, has_app_context
    from flask_babel import get_translations

    if not has_app_context():
        return get_translations()
    space = g.get("_flask_babel")
    if space is not None:
        known = getattr(space, "kameng_translations", None)
        if (
            known is not None
            and known[0] is getattr(space, "babel_locale", None)
            and known[1] is getattr(space, "babel_domain", None)
        ):
            return known[2]
    found = get_translations()
    space = g.get("_flask_babel")
    if space is not None:
        locale = getattr(space, "babel_locale", None)
        space.kameng_translations = (locale, getattr(space, "babel_domain", None), found)
    return found


def install_template_gettext(env) -> None:
    """The templates' ``_``/``gettext``/``ngettext``/``pgettext`` through
    :func:`current_translations` (Flask-Babel's, with the lookup done once
    per context); same strings, same newstyle formatting."""
    env.install_gettext_callables(
        gettext=lambda s: current_translations().ugettext(s),
        ngettext=lambda s, p, n: current_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: current_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: current_translations().unpgettext(c, s, p, n),
    )
