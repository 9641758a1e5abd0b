"""Where a page may send the browser next (``?next=`` after sign-in).

The one owner of the open-redirect rule: a ``next`` target is followed only
when it is a path on the host that answered, never another site. Browsers
are lenient (they drop tabs and newlines, read ``\\`` as ``/``, and treat
``//host`` as another host), so the rule is strict: anything unusual falls
back to the page's default.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MAX_TARGET_LENGTH = 2048
# Percent-decoding rounds looked at; a target still changing after them is refused.
_MAX_DECODES = 5
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_local_target(value: str | None, default: str) -> str:
    """``value`` when it is a path on this host (``/orders?page=2``), else
    ``default``.

    Refused: anything empty, longer than ``MAX_TARGET_LENGTH``, not starting
    with ``/``, starting with ``//`` or ``/\\``, with a scheme or a host, or
    holding a backslash or an ASCII control character (tab, CR, LF, ...) in
    any of its percent-decoded forms (decoded until it stops changing,
    ``_MAX_DECODES`` times at most). ``value`` is returned as given, never
    its decoded form.
    """
    if not value or not isinstance(value, str) or len(value) > MAX_TARGET_LENGTH:
        return default
    decoded = value
    for _ in range(_MAX_DECODES + 1):
        if not _is_local_path(decoded):
            return default
        step = unquote(decoded)
        if step == decoded:
            return value
        decoded = step
    return default


def _is_local_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or _UNSAFE.search(text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc
