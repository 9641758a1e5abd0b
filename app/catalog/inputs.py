"""The inputs a product asks the buyer for (a top-up's game account, server,
phone number): the operator's schema, and the check of a buyer's answers.

A product's ``input_fields`` is a list of at most ``MAX_FIELDS`` objects::

    {"name": "account", "label": "QQ number", "required": true,
     "pattern": "[1-9][0-9]{4,11}", "min_length": 5, "max_length": 12}

``name`` is the key the buyer's answer goes under; ``pattern`` must match
the whole answer. The operator's pattern runs against buyers' input, so it
is held to what Python's backtracking ``re`` can run in bounded time: no
nested or alternated repetition, no back-references, at most three
unbounded repeats, and answers are at most ``MAX_INPUT_LENGTH`` characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from re import _parser  # re's own parser: the tree re.compile builds, to inspect
from typing import Any

from app.core.errors import ValidationFailed

MAX_FIELDS = 10
MAX_INPUT_LENGTH = 128
MAX_PATTERN_LENGTH = 200
MAX_LABEL_LENGTH = 60
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SPEC_KEYS = ("name", "label", "required", "pattern", "min_length", "max_length")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is refused, or ``None`` when it is usable."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"At most {MAX_PATTERN_LENGTH} characters."
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"Not a valid regular expression: {exc.msg}."
    tree = _parser.parse(pattern)
    unbounded = 0

    def walk(items, inside_repeat: bool) -> str | None:
        nonlocal unbounded
        for op, arg in items:
            name = str(op)
            if name in ("GROUPREF", "GROUPREF_EXISTS"):
                return "Back-references are not allowed."
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                _low, high, sub = arg
                repeats = high is _parser.MAXREPEAT or high > 1
                if high is _parser.MAXREPEAT:
                    unbounded += 1
                if repeats and inside_repeat:
                    return "Nested repetition such as (a+)+ is not allowed."
                if repeats and any(str(o) == "BRANCH" for o, _ in _flatten(sub)):
                    return "Repeating an alternation such as (a|b)+ is not allowed."
                problem = walk(sub, inside_repeat or repeats)
            elif name == "SUBPATTERN":
                problem = walk(arg[-1], inside_repeat)
            elif name in ("ASSERT", "ASSERT_NOT"):
                problem = walk(arg[1], inside_repeat)
            elif name == "BRANCH":
                problem = None
                for branch in arg[1]:
                    problem = problem or walk(branch, inside_repeat)
            else:
                problem = None
            if problem:
                return problem
        return None

    problem = walk(tree, False)
    if problem is None and unbounded > 3:
        problem = "At most three unbounded repeats (*, +, {n,})."
    return problem


def _flatten(items):
    """Every node of a parse (sub)tree."""
    for op, arg in items:
        yield op, arg
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            yield from _flatten(arg[2])
        elif name == "SUBPATTERN":
            yield from _flatten(arg[-1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            yield from _flatten(arg[1])
        elif name == "BRANCH":
            for branch in arg[1]:
                yield from _flatten(branch)


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
        elif field.get("pattern") and not re.fullmatch(field["pattern"], value):
            errors[name] = [f"{field['label']} is not in the expected format."]
        else:
            answers[name] = value
    if errors:
        raise ValidationFailed(
            "Some details the product needs are missing or invalid; see 'errors'.",
            errors=errors,
        )
    return answers
