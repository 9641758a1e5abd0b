"""The inputs a product asks the buyer for (a top-up's game account, server,
phone number): the operator's schema, and the check of a buyer's answers.

A product's ``input_fields`` is a list of at most ``MAX_FIELDS`` objects::

    {"name": "account", "label": "QQ number", "required": true,
     "pattern": "[1-9][0-9]{4,11}", "min_length": 5, "max_length": 12}

``name`` is the key the buyer's answer goes under; ``pattern`` must match
the whole answer. The operator's pattern runs against anonymous buyers'
input in the web process, so it is compiled and run by RE2 (``google-re2``),
whose matching time is linear in the input whatever the pattern: no pattern
can make one request take seconds, where Python's backtracking ``re`` takes
exponential time on patterns as plain as ``a{0,30}a{0,30}...b``. RE2 has no
back-references or lookaround; a pattern using them is refused when the
product is saved. The pattern's length, RE2's compiled program and its
memory are bounded, and answers are at most ``MAX_INPUT_LENGTH`` characters
before they are matched.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Any

import re2

from app.core.errors import ValidationFailed

log = logging.getLogger(__name__)

MAX_FIELDS = 10
MAX_INPUT_LENGTH = 128
MAX_PATTERN_LENGTH = 200
MAX_LABEL_LENGTH = 60
#: RE2's compiled size of a pattern (its instruction count); ``[0-9]{4,11}``
#: is about 20, ``.{0,500}`` about 4,500.
MAX_PROGRAM_SIZE = 5_000
#: Memory RE2 may use for one pattern (its compiled program and DFA cache).
MAX_PATTERN_MEMORY = 1 << 20
# Our own names for fields: a fixed pattern, not the operator's, on a short string.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SPEC_KEYS = ("name", "label", "required", "pattern", "min_length", "max_length")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _RefusedPattern(Exception):
    """A pattern RE2 will not run for us; the message says why."""


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_PATTERN_MEMORY
    options.log_errors = False  # a refused pattern is the operator's mistake, not ours
    return options


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str):
    """The operator's ``pattern`` compiled by RE2 within our bounds; raises
    ``_RefusedPattern`` with the reason otherwise. Cached: the same few
    patterns are matched on every order of a product."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _RefusedPattern(f"At most {MAX_PATTERN_LENGTH} characters.")
    try:
        compiled = re2.compile(pattern, _re2_options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise _RefusedPattern(
            f"Not a valid regular expression: {reason}. Back-references and "
            "lookaround such as (?=...) are not supported."
        ) from None
    if compiled.programsize > MAX_PROGRAM_SIZE:
        raise _RefusedPattern("Too complex: use fewer or smaller repeats.")
    return compiled


def _pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is refused, or ``None`` when it is usable."""
    try:
        _compiled(pattern)
    except _RefusedPattern as exc:
        return str(exc)
    return None


def _answer_matches(pattern: str, value: str) -> bool:
    """``value`` (at most ``MAX_INPUT_LENGTH`` characters) matches the whole
    ``pattern``; in time linear in ``value``. A stored pattern RE2 refuses
    (saved before patterns were checked with it) matches nothing: the
    operator must fix it, and a buyer's answer is never run through a
    backtracking engine."""
    try:
        compiled = _compiled(pattern)
    except _RefusedPattern:
        log.warning("inputs: a product's pattern is refused by RE2; no answer matches it")
        return False
    return compiled.fullmatch(value) is not None


def _clean_spec(spec: Any, seen: set[str]) -> tuple[dict, dict]:
    """One field's spec, normalised, and its errors by key."""
    if not isinstance(spec, Mapping):
        return {}, {"_schema": ["Must be an object."]}
    errors: dict[str, list[str]] = {}
    for key in spec:
        if key not in _SPEC_KEYS:
            errors[str(key)] = ["Unknown field."]
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        errors["name"] = ["Lower-case letters, digits and _, starting with a letter (max 32)."]
    elif name in seen:
        errors["name"] = ["Two fields have this name."]
    label = spec.get("label")
    if not isinstance(label, str) or not label.strip():
        errors["label"] = ["Give the label buyers see."]
    elif len(label.strip()) > MAX_LABEL_LENGTH:
        errors["label"] = [f"At most {MAX_LABEL_LENGTH} characters."]
    required = spec.get("required", True)
    if not isinstance(required, bool):
        errors["required"] = ["Must be true or false."]
    pattern = spec.get("pattern")
    if pattern is not None:
        problem = _pattern_problem(pattern) if isinstance(pattern, str) else "Must be a string."
        if problem:
            errors["pattern"] = [problem]
    lengths = {}
    for key, default in (("min_length", 0), ("max_length", MAX_INPUT_LENGTH)):
        value = spec.get(key, default)
        if value is None:
            value = default
        if not _is_int(value) or not 0 <= value <= MAX_INPUT_LENGTH:
            errors[key] = [f"A whole number from 0 to {MAX_INPUT_LENGTH}."]
        lengths[key] = value
    if "min_length" not in errors and "max_length" not in errors:
        if lengths["max_length"] < max(lengths["min_length"], 1):
            errors["max_length"] = ["Must be at least min_length and at least 1."]
    if errors:
        return {}, errors
    seen.add(name)
    return {
        "name": name,
        "label": label.strip(),
        "required": required,
        "pattern": pattern or None,
        "min_length": lengths["min_length"],
        "max_length": lengths["max_length"],
    }, {}


def clean_input_fields(value: Any) -> tuple[list[dict], dict | list | None]:
    """The operator's ``input_fields`` normalised, and the errors (``None``
    when valid): a list of messages, or a dict of errors by field index."""
    if value is None:
        return [], None
    if not isinstance(value, list):
        return [], ["Must be a list of fields."]
    if len(value) > MAX_FIELDS:
        return [], [f"At most {MAX_FIELDS} fields."]
    cleaned, errors, seen = [], {}, set()
    for index, spec in enumerate(value):
        field, problems = _clean_spec(spec, seen)
        if problems:
            errors[str(index)] = problems
        cleaned.append(field)
    return (cleaned, None) if not errors else ([], errors)


def validate_inputs(product, inputs: Any) -> dict[str, str]:
    """Check a buyer's answers against ``product.input_fields``; checkout calls it.

    Returns the answers to keep (stripped strings, by field name; optional
    fields left blank are omitted). Raises ``ValidationFailed`` with errors
    keyed by field name (unknown names included). Pure: no database access.
    """
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, Mapping):
        raise ValidationFailed(
            "The product's details must be an object.", errors={"inputs": ["Must be an object."]}
        )
    fields = product.input_fields or []
    known = {f["name"] for f in fields}
    errors: dict[str, list[str]] = {
        str(key): ["This product asks for no such detail."] for key in inputs if key not in known
    }
    answers: dict[str, str] = {}
    for field in fields:
        name = field["name"]
        raw = inputs.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if field.get("required", True):
                errors[name] = [f"{field['label']} is required."]
            continue
        if not isinstance(raw, str):
            errors[name] = ["Must be text."]
            continue
        value = raw.strip()
        low = field.get("min_length") or 0
        high = field.get("max_length") or MAX_INPUT_LENGTH
        if len(value) < low or len(value) > min(high, MAX_INPUT_LENGTH):
            errors[name] = [f"Must be {low} to {high} characters."]
        elif field.get("pattern") and not _answer_matches(field["pattern"], value):
            errors[name] = [f"{field['label']} is not in the expected format."]
        else:
            answers[name] = value
    if errors:
        raise ValidationFailed(
            "Some details the product needs are missing or invalid; see 'errors'.",
            errors=errors,
        )
    return answers
