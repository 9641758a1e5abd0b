"""The catalogue's messages in the reader's language, for pages.

The catalogue services answer in English: field errors (``errors`` of a
``ValidationFailed``), an import's report (each invalid line's reason, its
``message``). The API shows that English to developers as it is; a page
shows ``page_message(text)``, the same words translated. The services stay
the one owner of every rule and its wording; this module only knows how to
say their sentences in another language:

- a fixed sentence is a msgid of its own, marked here with ``N_`` so that
  ``pybabel extract`` finds it;
- a sentence with a number or a name in it is matched by a pattern and
  rebuilt from a msgid with a placeholder.

A sentence this module does not know is shown as it is, in English: never
lost, only untranslated. ``tests/console/test_catalog_pages.py`` checks the
sentences the console can meet.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _


def N_(message: str) -> str:
    """Mark ``message`` for extraction (gettext_noop); return it unchanged."""
    return message


FIXED = frozenset(
    {
        # products (services)
        N_("Give the product a name."),
        N_("Must not be negative."),
        N_("Must be a whole number."),
        N_("Must be at least min_quantity."),
        N_("A top-up on sale needs at least one input (the account)."),
        N_("Not a category id."),
        N_("No such category."),
        N_("Unknown field."),
        N_("Missing data for required field."),
        # a top-up's input fields (inputs)
        N_("Must be a list of fields."),
        N_("Must be an object."),
        N_("Lower-case letters, digits and _, starting with a letter (max 32)."),
        N_("Two fields have this name."),
        N_("Give the label buyers see."),
        N_("Must be true or false."),
        N_("Must be a string."),
        N_("Must be at least min_length and at least 1."),
        N_("Too complex: use fewer or smaller repeats."),
        # categories
        N_("Give the category a name."),
        N_("A category cannot be its own parent."),
        N_("Categories have two levels: choose a top category as the parent."),
        N_("This category has subcategories, so it stays a top category."),
        # card imports (imports, jobs, cardfile)
        N_("Nothing was imported: fix the invalid lines and upload again."),
        N_("The import failed on our side; nothing was imported."),
        N_(
            "Another import added some of these codes at the same time; nothing was "
            "imported. Upload the file again to import the rest."
        ),
        N_("empty field"),
        N_("contains control characters"),
        N_("a tab inside a field"),
    }
)

_Rebuild = Callable[[re.Match], str]

PATTERNS: tuple[tuple[re.Pattern, _Rebuild], ...] = (
    (
        re.compile(r"Must be at least (-?\d+)\."),
        lambda m: _("Must be at least %(n)s.", n=m[1]),
    ),
    (
        re.compile(r"Must be at most (-?\d+)\."),
        lambda m: _("Must be at most %(n)s.", n=m[1]),
    ),
    (
        re.compile(r"At most (\d+) characters\."),
        lambda m: _("At most %(n)s characters.", n=m[1]),
    ),
    (
        re.compile(r"At most (\d+) fields\."),
        lambda m: _("At most %(n)s fields.", n=m[1]),
    ),
    (
        re.compile(r"A whole number from (-?\d+) to (-?\d+)\."),
        lambda m: _("A whole number from %(low)s to %(high)s.", low=m[1], high=m[2]),
    ),
    (
        re.compile(r"One of (.+)\."),
        lambda m: _("One of %(choices)s.", choices=m[1]),
    ),
    (
        re.compile(
            r"Not a valid regular expression: (.*)\. Back-references and lookaround "
            r"such as \(\?=\.\.\.\) are not supported\.",
            re.DOTALL,
        ),
        lambda m: _(
            "Not a valid regular expression (%(reason)s). Back-references and "
            "lookaround such as (?=...) are not supported.",
            reason=m[1],
        ),
    ),
    (
        re.compile(r"longer than (\d+) characters"),
        lambda m: _("longer than %(n)s characters", n=m[1]),
    ),
    (
        re.compile(r"(\d+) fields; expected a code or number and password"),
        lambda m: _("%(n)s fields; expected a code, or a number and a password", n=m[1]),
    ),
    (
        re.compile(r"(\d+) columns; the header names (\d+)"),
        lambda m: _("%(n)s columns; the header names %(width)s", n=m[1], width=m[2]),
    ),
    (
        re.compile(r"CSV: (.*)", re.DOTALL),
        lambda m: _("CSV: %(reason)s", reason=m[1]),
    ),
    (
        re.compile(r"The file is neither UTF-8 nor GB18030/GBK text \(byte (\d+)\)\."),
        lambda m: _("The file is neither UTF-8 nor GB18030/GBK text (byte %(n)s).", n=m[1]),
    ),
)


def page_message(text: str) -> str:
    """``text``, a catalogue service's English sentence, in the reader's
    language; unknown sentences come back unchanged."""
    text = str(text)
    if text in FIXED:
        return _(text)
    for pattern, rebuild in PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return rebuild(match)
    return text


def page_errors(errors: object) -> object:
    """A service's field ``errors`` (lists of sentences, nested by field and
    row) with every sentence through ``page_message``; same shape."""
    if isinstance(errors, dict):
        return {key: page_errors(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [page_errors(item) for item in errors]
    return page_message(errors)
