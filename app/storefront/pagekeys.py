"""What a cached storefront answer is kept under: the request's share of the
page cache's key (``app/storefront/pagecache.py``).

The key holds what the answer depends on and nothing a visitor can vary at
will, so no made-up header or query string adds a copy: the shop's host (its
port only when it is the one the server listens on), the scheme, the page
with its ids in one spelling, the query parameters that page reads
(``PAGE_QUERIES``) with their values in one spelling, and the language the
app will render in, resolved by the app's own rule
(:func:`app.core.locales.asked_language`) rather than taken from the raw
``lang`` cookie or ``Accept-Language`` header. Parameters a page does not
read are left out. A value the app would refuse, a repeated parameter,
``?lang=`` (it sets a cookie), ``?sub_shop=`` (a sub-shop's prices), a
cookie other than ``lang``, an
``Authorization`` header or an oversized query or header: the request goes
to the app, uncached.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from werkzeug.http import parse_cookie

from app.catalog.models import PRODUCT_STATUSES
from app.core.ids import parse_uuid
from app.core.locales import asked_language
from app.core.pagination import MAX_PAGE
from tenants.resolve import normalize_host

#: Paths worth asking Redis about (the cached endpoints); anything else skips it.
_PATHS = re.compile(r"^/(?:p/[^/]{1,64}|c/[^/]{1,64}|search|api/v1/products(?:/[^/]{1,64})?)?$")
MAX_QUERY = 2_000  # bytes of query string worth reading; a longer one is not cached
MAX_QUERY_FIELDS = 20
MAX_ACCEPT_LANGUAGE = 500


class _NotCached(Exception):
    """The request is answered by the app and not stored."""


def _whole(low: int, high: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not (value.isascii() and value.isdigit() and len(value) <= 7):
            raise _NotCached
        number = int(value)
        if not low <= number <= high:
            raise _NotCached  # the app refuses it (422): nothing to keep
        return str(number)

    return parse


def _an_id(value: str) -> str:
    ident = parse_uuid(value) if len(value) <= 64 else None
    if ident is None:
        raise _NotCached
    return str(ident)


def _search(value: str) -> str | None:
    needle = value.strip()
    if len(needle) > 100:
        raise _NotCached  # the app refuses it (422)
    return needle or None  # blank: no search at all


def _another_audience(value: str) -> None:
    raise _NotCached  # a sub-shop's prices: answered by the app, never kept


def _public_ignores_status(value: str) -> None:
    if value not in PRODUCT_STATUSES:
        raise _NotCached  # the app refuses it (422)
    return None  # the public list shows products on sale whatever it says


#: The query parameters each cached page reads, and for each the one spelling
#: of a value it accepts (``None``: the same answer as without it). The
#: product list mirrors ``catalog.schemas.ProductQuery``, which drops
#: parameters it does not know; the pages read none.
PAGE_QUERIES: dict[str, dict[str, Callable[[str], str | None]]] = {
    "home": {},
    "product": {},
    "category": {"page": _whole(1, MAX_PAGE)},
    "search": {"q": _search, "page": _whole(1, MAX_PAGE)},
    "product_api": {"sub_shop": _another_audience},
    "products_api": {
        "page": _whole(1, MAX_PAGE),
        "per_page": _whole(1, 100),
        "category_id": _an_id,
        "q": _search,
        "status": _public_ignores_status,
        "sub_shop": _another_audience,
    },
}
_DEFAULTS = {
    "products_api": {"page": "1", "per_page": "20"},
    "category": {"page": "1"},
    "search": {"page": "1"},
}


def _page_of(path: str) -> tuple[str, str]:
    """Which cached page ``path`` is, and its path in one spelling."""
    if path == "/":
        return "home", path
    if path.startswith("/p/"):
        return "product", "/p/" + _an_id(path[3:])
    if path.startswith("/c/"):
        return "category", "/c/" + _an_id(path[3:])
    if path == "/search":
        return "search", path
    if path == "/api/v1/products":
        return "products_api", path
    return "product_api", "/api/v1/products/" + _an_id(path[len("/api/v1/products/") :])


def _query_part(page: str, query: str) -> str:
    """The parameters ``page`` reads, normalised, in a fixed order."""
    if len(query) > MAX_QUERY:
        raise _NotCached
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise _NotCached from None
    reads = PAGE_QUERIES[page]
    values = dict(_DEFAULTS.get(page, {}))
    seen = set()
    for name, value in pairs:
        if name == "lang" or name in seen:
            raise _NotCached  # ?lang= sets a cookie; a repeat may be read either way
        seen.add(name)
        if name in reads:
            normal = reads[name](value)
            if normal is None:
                values.pop(name, None)
            else:
                values[name] = normal
    return urlencode(sorted(values.items()))


def request_part(environ: dict, languages: list[str]) -> str | None:
    """The request's share of the page cache's key, or ``None`` when the
    request may not be cached. Reads only the WSGI environ."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    path = environ.get("PATH_INFO", "")
    if not _PATHS.match(path) or environ.get("HTTP_AUTHORIZATION"):
        return None
    cookies = parse_cookie(environ)
    if set(cookies) - {"lang"}:
        return None  # a session, a remembered sign-in: not anonymous
    accept_language = environ.get("HTTP_ACCEPT_LANGUAGE", "")
    if len(accept_language) > MAX_ACCEPT_LANGUAGE:
        return None
    raw_host = environ.get("HTTP_HOST", "")
    try:
        host = normalize_host(raw_host)
    except Exception:  # noqa: BLE001 - a bad host is the app's to answer
        return None
    # Pages may link to the Host as sent, port included: only the bare host
    # and the server's own port are kept, not one copy per port a visitor names.
    sent = raw_host.lower()
    if sent == host:
        port = ""
    elif sent == f"{host}:{environ.get('SERVER_PORT', '')}":
        port = environ["SERVER_PORT"]
    else:
        return None
    try:
        page, path = _page_of(path)
        query = _query_part(page, environ.get("QUERY_STRING", ""))
    except _NotCached:
        return None
    language = asked_language(languages, None, cookies.get("lang"), accept_language)
    scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    # ``-``: nothing asked for one of ours; the shop's own locale decides.
    return f"{host}|{port}|{scheme}|{path}?{query}|{language or '-'}"
