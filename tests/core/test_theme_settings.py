"""Theme settings as a manifest declares them: each type parses what an
operator may type and refuses the rest; a stored value that is no longer
valid reads as the default."""

from __future__ import annotations

import json

import pytest

from app.core import themes

SPEC = [
    {"name": "layout", "type": "choice", "choices": ["list", "grid"], "default": "list",
     "label": {"en": "Product layout", "zh_CN": "商品布局"}},
    {"name": "show_stock", "type": "bool", "default": True, "label": {"en": "Show stock"}},
    {"name": "accent", "type": "color", "default": "#e4572e", "label": {}},
    {"name": "columns", "type": "int", "min": 2, "max": 6, "default": 4, "label": {}},
    {"name": "note", "type": "text", "max_length": 10, "default": "", "label": {}},
]  # fmt: skip


@pytest.fixture
def theme():
    """The parsed settings of a manifest with every kind of setting."""
    return themes.parse_spec(json.dumps(SPEC))


def test_each_type_takes_what_it_should_and_names_what_it_expects(theme):
    values = themes.validate_settings(
        theme, {"layout": "grid", "accent": "#00AA11", "columns": " 3 ", "note": "hi"}
    )
    assert values == {
        "layout": "grid",
        "show_stock": False,  # an unticked box is not sent by a form
        "accent": "#00aa11",
        "columns": 3,
        "note": "hi",
    }
    with pytest.raises(Exception) as refused:
        themes.validate_settings(
            theme, {"layout": "table", "accent": "red", "columns": "9", "note": "x" * 11}
        )
    assert set(refused.value.errors) == {"layout", "accent", "columns", "note"}
    assert refused.value.errors["columns"] == ["Must be a number from 2 to 6."]


def test_a_stored_value_no_longer_valid_reads_as_the_default(theme):
    stored = {"layout": "carousel", "columns": 12, "accent": "#123456", "gone": 1}
    assert themes.settings_of(theme, stored) == {
        "layout": "list",
        "show_stock": True,
        "accent": "#123456",
        "columns": 4,
        "note": "",
    }


def test_labels_follow_the_language():
    (layout, *_) = themes.parse_spec(json.dumps(SPEC))
    assert layout.label_for("zh_CN") == "商品布局"
    assert layout.label_for("en") == "Product layout"
    assert layout.label_for("fr") == "Product layout"


def test_an_unknown_setting_type_is_refused():
    with pytest.raises(ValueError, match="unknown type"):
        themes.parse_spec(json.dumps([{"name": "x", "type": "html", "label": {}}]))
