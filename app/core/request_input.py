"""One check of what a request carries, before any view reads it: text a
database can store, integers a column can hold, JSON a parser can walk.

A field's own validation cannot be trusted to catch these, because each is
legal to every layer above the database and fails only there, as a 500:

- NUL (U+0000): PostgreSQL refuses it in any text value, so ``/orders/a%00b``
  or ``{"name": "a\\u0000"}`` reached a query and failed there (SQLite takes
  it, so only the suite on PostgreSQL saw it);
- unpaired surrogates (U+D800 to U+DFFF): JSON's ``"\\ud800"`` escape decodes
  to a Python string no driver can encode as UTF-8, on either database;
- integers beyond signed 64 bits, and the non-JSON ``NaN``/``Infinity``
  (or ``1e400``) Python's parser accepts: no column holds them;
- JSON nested deeper than Python's parser recurses: a ``RecursionError``
  where a client error was due.

Every string the request carries is looked at: the path, the query (names
and values), the headers, form fields and upload file names, and the JSON
body (keys and values, at any depth). A request carrying one of these is
answered 400 ``unacceptable-input`` with ``errors`` naming where, before the
shop, the session or the API key is even looked up. Upload contents and
other raw bodies are the endpoint's to judge (card files, images, signed
webhook payloads are bytes, not text).
"""

from __future__ import annotations

import math
import re

from flask import Flask, request

from app.core.errors import UnacceptableInput

#: Characters no text value may hold: NUL, and the UTF-16 surrogate range
#: (well-formed text never carries one alone).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: Deeper than any body the API takes (a product's input fields are three
#: levels; a payment provider's event a dozen), far short of the parser's limit.
MAX_JSON_DEPTH = 64
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

TEXT_PROBLEM = "contains a NUL character or an unpaired surrogate"
NUMBER_PROBLEM = "is a number outside signed 64 bits, or not finite"
DEPTH_PROBLEM = f"nests deeper than {MAX_JSON_DEPTH} levels"


def _bad_text(value: object) -> bool:
    # Not only ``str``: a multipart part without a usable name comes out None.
    return isinstance(value, str) and _UNSTORABLE.search(value) is not None


def _bad_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not INT_MIN <= value <= INT_MAX
    return isinstance(value, float) and not math.isfinite(value)


def _pairs_problems(location: str, pairs) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, value in pairs:
        if _bad_text(name) or _bad_text(value):
            errors[f"{location}.{name}"] = [TEXT_PROBLEM]
    return errors


def json_problems(document: object) -> dict[str, list[str]]:
    """Where ``document`` (a parsed JSON body) holds unstorable text, an
    integer no column holds or nests too deep: ``{"json.a.0.b": [why]}``.
    Walked without recursion, so depth costs no stack."""
    errors: dict[str, list[str]] = {}
    stack: list[tuple[str, object, int]] = [("json", document, 0)]
    while stack:
        where, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                errors[where] = [DEPTH_PROBLEM]
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and _bad_text(key):
                    errors[f"{where}.{key!r}"] = [TEXT_PROBLEM]
                    continue
                stack.append((f"{where}.{key}", item, depth + 1))
        elif isinstance(value, str):
            if _bad_text(value):
                errors[where] = [TEXT_PROBLEM]
        elif _bad_number(value):
            errors[where] = [NUMBER_PROBLEM]
    return errors


def _json_body_problems() -> dict[str, list[str]]:
    if not request.is_json:
        return {}
    try:
        document = request.get_json(silent=True)
    except RecursionError:
        return {"json": [DEPTH_PROBLEM]}
    # A body that is not JSON at all is the endpoint's to refuse (400).
    return json_problems(document) if document is not None else {}


def _form_problems() -> dict[str, list[str]]:
    if request.mimetype not in _FORM_TYPES:
        return {}
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        return {}  # the endpoint reading the upload answers 413 in its own words
    errors = _pairs_problems("form", request.form.items(multi=True))
    for name, upload in request.files.items(multi=True):
        if _bad_text(name) or _bad_text(upload.filename or ""):
            errors[f"files.{name}"] = [TEXT_PROBLEM]
    return errors


def request_problems() -> dict[str, list[str]]:
    """Every place the current request carries what the app cannot store."""
    errors: dict[str, list[str]] = {}
    if _bad_text(request.path):
        errors["path"] = [TEXT_PROBLEM]
    errors.update(_pairs_problems("query", request.args.items(multi=True)))
    errors.update(_pairs_problems("header", request.headers.items()))
    errors.update(_form_problems())
    errors.update(_json_body_problems())
    return errors


def check_request_input() -> None:
    """Refuse the request (400 ``unacceptable-input``) if it carries text,
    numbers or JSON the app cannot store; otherwise do nothing."""
    errors = request_problems()
    if errors:
        raise UnacceptableInput(
            "Text may not contain NUL characters (U+0000) or unpaired surrogates "
            "(U+D800 to U+DFFF), integers must fit in signed 64 bits, and JSON may "
            f"nest at most {MAX_JSON_DEPTH} levels; see 'errors' for where.",
            errors=errors,
        )


def install_request_input_check(app: Flask) -> None:
    """Check every request before the views (and the API gate) read it."""
    app.before_request(check_request_input)
