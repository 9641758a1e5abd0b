"""Pages of a list, as every list endpoint of the API takes and answers them.

The one owner of the paging rule: ``?page=`` (from 1) and ``?per_page=``
(bounded per endpoint) come in; ``{"items", "total", "page", "per_page"}``
goes out. An endpoint's query schema subclasses ``PageArgs`` (and narrows
``per_page`` with ``per_page_field`` when its rows are larger or smaller),
its answer schema subclasses ``PageSchema`` adding ``items``, and the
endpoint returns ``page_of(items, total, args)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate

# Wide enough for any shop's card stock at the smallest page size; a page past
# the last one is answered with no items, not an error.
MAX_PAGE = 1_000_000


def per_page_field(default: int = 50, maximum: int = 200) -> fields.Integer:
    """The ``per_page`` query field: ``default`` when absent, 1 to ``maximum``."""
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=maximum))


class PageArgs(Schema):
    """``?page=`` (1 to ``MAX_PAGE``, default 1) and ``?per_page=`` (1 to 200,
    default 50). Subclasses add their filters and may replace ``per_page``."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = per_page_field()


class PageSchema(Schema):
    """``total`` (rows in every page), ``page`` and ``per_page`` of a page;
    a subclass adds ``items = fields.List(fields.Nested(ItemSchema))``."""

    total = fields.Integer(metadata={"description": "Rows in all pages together."})
    page = fields.Integer()
    per_page = fields.Integer()


def page_of(items: Sequence[Any], total: int, args: Mapping[str, Any]) -> dict[str, Any]:
    """The answer of a list endpoint: one page of ``items``, the ``total``
    across all pages, and the ``page`` and ``per_page`` of ``args`` (the
    loaded ``PageArgs``)."""
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


def offset_of(page: int, per_page: int) -> int:
    """How many rows come before ``page`` (from 1) at ``per_page`` a page."""
    return (page - 1) * per_page


@dataclass(frozen=True)
class Pager:
    """Where a list page stands among its pages, for the pages' pager: the
    ``page`` shown (from 1), ``per_page`` rows a page and the ``total`` rows
    of all pages. It only counts; the template builds the links."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1, even for an empty list)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def previous(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None

    @property
    def first_row(self) -> int:
        """The 1-based number of the page's first row (0 when it has none)."""
        return min(offset_of(self.page, self.per_page) + 1, self.total + 1) if self.total else 0

    @property
    def last_row(self) -> int:
        return min(self.page * self.per_page, self.total)

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and ``around`` either
        side of the current one; ``None`` stands for a gap."""
        shown = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers = sorted(n for n in shown if 1 <= n <= self.pages)
        out: list[int | None] = []
        for n in numbers:
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out


def requested_page(raw: object) -> int:
    """The page a list page's ``?page=`` asks for: a whole number from 1 to
    ``MAX_PAGE``; anything else reads as the first page (a page has no
    error to show for a mangled link)."""
    try:
        number = int(str(raw))
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE)
