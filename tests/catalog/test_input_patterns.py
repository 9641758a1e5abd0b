"""An operator's input pattern against buyers' answers: whatever the pattern,
checking an answer cannot hold a web process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from app.catalog.inputs import MAX_INPUT_LENGTH, clean_input_fields, validate_inputs
from app.core.errors import ValidationFailed

# No nesting, no alternation, no unbounded repeat: Python's backtracking re
# tries every way to share the a's among the ten repeats before it fails.
PATHOLOGICAL = "a{0,30}" * 10 + "b"
HOSTILE = "a" * MAX_INPUT_LENGTH


class _Product:
    input_fields = [{"name": "acct", "label": "Account", "required": True, "pattern": PATHOLOGICAL}]


def test_a_pattern_of_many_bounded_repeats_refuses_a_hostile_answer_at_once():
    # In a child process, so a matcher that backtracks is killed, not waited for.
    script = textwrap.dedent(
        f"""
        from app.catalog.inputs import validate_inputs
        from app.core.errors import ValidationFailed

        class Product:
            input_fields = [{{"name": "acct", "label": "Account", "pattern": {PATHOLOGICAL!r}}}]

        try:
            validate_inputs(Product, {{"acct": {HOSTILE!r}}})
        except ValidationFailed as exc:
            print(exc.errors["acct"][0])
        """
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        pytest.fail("checking one buyer's answer against the pattern did not finish")

    assert done.stdout.strip() == "Account is not in the expected format.", done.stderr


def test_the_same_pattern_still_accepts_an_answer_it_matches():
    assert validate_inputs(_Product, {"acct": "aaab"}) == {"acct": "aaab"}


def test_nested_and_alternated_repeats_are_accepted_because_matching_is_linear():
    fields, errors = clean_input_fields(
        [
            {"name": "a", "label": "A", "pattern": "(a{1,30}){1,30}"},
            {"name": "b", "label": "B", "pattern": "(?:[a-z]+|[0-9]+)+"},
        ]
    )

    assert errors is None
    assert [f["pattern"] for f in fields] == ["(a{1,30}){1,30}", "(?:[a-z]+|[0-9]+)+"]


def test_a_stored_pattern_re2_cannot_run_matches_no_answer():
    class Stored:  # saved before patterns were checked with RE2
        input_fields = [{"name": "code", "label": "Code", "pattern": r"(\d)\1"}]

    with pytest.raises(ValidationFailed) as refused:
        validate_inputs(Stored, {"code": "11"})

    assert refused.value.errors == {"code": ["Code is not in the expected format."]}


def test_chinese_answers_match_a_chinese_pattern():
    class Server:
        input_fields = [{"name": "server", "label": "Server", "pattern": "[一-龥]{2,8}[0-9]?区"}]

    assert validate_inputs(Server, {"server": "华东一区"}) == {"server": "华东一区"}
