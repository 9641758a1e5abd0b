"""Reading card files in whatever shape suppliers send them.

Accepted: one code per line, or ``number<sep>password`` with ``----``, tab,
``|``, comma or spaces between; or CSV with a header row naming the columns
(card/code/number/卡号/卡密 and password/pin/密码). Encodings: UTF-8 with or
without BOM, GB18030 (a superset of GBK and GB2312). Line endings LF, CRLF or
CR. Blank lines and surrounding spaces are ignored.

Each valid line becomes the card's secret, ``number`` or
``number\\tpassword`` (``codes.join_card_secret``): the same card written
``A,B`` in one file and ``A----B`` in another is one card, so its
fingerprint (``core.crypto``) finds it as a duplicate. A field holding a tab
is invalid: the secret could not be split back into what the file said.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from app.catalog.codes import SECRET_SEPARATOR, join_card_secret

MAX_PART = 255
SEPARATORS = ("----", "\t", "|", ",")
_WS = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
NUMBER_HEADERS = {
    "card", "cards", "code", "codes", "number", "no", "card_no", "cardno", "card number",
    "serial", "key", "licence", "license", "卡号", "卡密", "账号", "序列号", "激活码", "兑换码",
}  # fmt: skip
PASSWORD_HEADERS = {
    "password", "pass", "pwd", "pin", "secret", "密码", "卡密密码", "卡密码",
}  # fmt: skip


class UndecodableFile(ValueError):
    """The bytes are neither UTF-8 nor GB18030 text."""


@dataclass
class ParsedFile:
    encoding: str
    #: (line number, the card's secret) in file order, duplicates included
    entries: list[tuple[int, str]] = field(default_factory=list)
    #: (line number, reason)
    invalid: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.entries) + len(self.invalid)


def decode(raw: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)``. Raises ``UndecodableFile``."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise UndecodableFile(
            f"The file is neither UTF-8 nor GB18030/GBK text (byte {exc.start})."
        ) from exc


def _check_part(part: str) -> str | None:
    if not part:
        return "empty field"
    if len(part) > MAX_PART:
        return f"longer than {MAX_PART} characters"
    if _CONTROL.search(part):
        return "contains control characters"
    if SECRET_SEPARATOR in part:
        return "a tab inside a field"
    return None


def _canonical(parts: list[str]) -> tuple[str | None, str | None]:
    parts = [p.strip() for p in parts]
    if len(parts) > 2:
        return None, f"{len(parts)} fields; expected a code or number and password"
    for part in parts:
        problem = _check_part(part)
        if problem:
            return None, problem
    return join_card_secret(*parts), None


def split_line(line: str) -> list[str]:
    """Split one plain line into code or (number, password)."""
    for sep in SEPARATORS:
        if sep in line:
            return line.split(sep)
    return _WS.split(line)


def _header_columns(first: str) -> tuple[str, int, int | None] | None:
    """If ``first`` is a CSV header, return (delimiter, number col, password col)."""
    for delimiter in (",", "\t", ";", "|"):
        if delimiter not in first and delimiter != ",":
            continue
        names = [n.strip().strip('"').strip().lower() for n in first.split(delimiter)]
        number_col = next((i for i, n in enumerate(names) if n in NUMBER_HEADERS), None)
        if number_col is None:
            continue
        password_col = next((i for i, n in enumerate(names) if n in PASSWORD_HEADERS), None)
        return delimiter, number_col, password_col
    return None


def split_lines(text: str) -> list[str]:
    """Lines by LF, CRLF or CR only: other characters that ``str.splitlines``
    treats as breaks (form feed, U+2028 ...) stay in the line, where they are
    reported as control characters instead of silently shifting line numbers."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def parse(raw: bytes) -> ParsedFile:
    """Parse an upload into canonical forms and invalid lines (never raises
    for bad lines; raises ``UndecodableFile`` for undecodable bytes)."""
    text, encoding = decode(raw)
    lines = split_lines(text)
    result = ParsedFile(encoding)
    first_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first_index is None:
        return result
    header = _header_columns(lines[first_index])
    if header is not None:
        _parse_csv(lines, first_index, header, result)
        return result
    # The common case (no control characters anywhere, one or two short
    # fields) is decided inline; anything else goes through ``_canonical``,
    # which gives the reason.
    clean = _CONTROL.search(text) is None
    entries, invalid = result.entries, result.invalid
    add, reject = entries.append, invalid.append
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if "----" in stripped:
            parts = stripped.split("----")
        elif "\t" in stripped:
            parts = stripped.split("\t")
        elif "|" in stripped:
            parts = stripped.split("|")
        elif "," in stripped:
            parts = stripped.split(",")
        else:
            parts = _WS.split(stripped)
        if clean and len(parts) == 1:
            if len(stripped) <= MAX_PART:
                add((number, stripped))
                continue
        elif clean and len(parts) == 2:
            first, second = parts[0].strip(), parts[1].strip()
            if (
                first
                and second
                and len(first) <= MAX_PART
                and len(second) <= MAX_PART
                and SECRET_SEPARATOR not in first  # split on "----", a field may hold one
                and SECRET_SEPARATOR not in second
            ):
                add((number, join_card_secret(first, second)))
                continue
        canonical, problem = _canonical(parts)
        if problem:
            reject((number, problem))
        else:
            add((number, canonical))
    return result


def _parse_csv(lines, header_index, header, result: ParsedFile) -> None:
    delimiter, number_col, password_col = header
    width = max(number_col, password_col or 0) + 1
    for offset, line in enumerate(lines[header_index + 1 :], start=header_index + 2):
        if not line.strip():
            continue
        try:
            row = next(csv.reader(io.StringIO(line), delimiter=delimiter))
        except csv.Error as exc:
            result.invalid.append((offset, f"CSV: {exc}"))
            continue
        if len(row) < width:
            result.invalid.append((offset, f"{len(row)} columns; the header names {width}"))
            continue
        parts = [row[number_col]]
        if password_col is not None:
            parts.append(row[password_col])
        canonical, problem = _canonical(parts)
        if problem:
            result.invalid.append((offset, problem))
        else:
            result.entries.append((offset, canonical))
