"""Reading card files in the shapes suppliers send them (no database)."""

from __future__ import annotations

import pytest

from app.catalog import cardfile
from app.catalog.codes import split_card_secret


def canonical(raw: bytes) -> list[str]:
    parsed = cardfile.parse(raw)
    assert parsed.invalid == [], parsed.invalid
    return [c for _, c in parsed.entries]


@pytest.mark.parametrize(
    "text",
    [
        "A1----B1\nA2----B2\n",
        "A1\tB1\nA2\tB2",
        "A1|B1\nA2|B2",
        "A1,B1\nA2,B2",
        "A1 B1\nA2   B2",
        "  A1 ---- B1  \n\n\n   A2----B2\n\n",
    ],
    ids=["dashes", "tab", "bar", "comma", "spaces", "padded-and-blank"],
)
def test_every_separator_gives_the_same_cards(text):
    assert canonical(text.encode()) == ["A1\tB1", "A2\tB2"]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR-only"])
def test_any_line_ending_numbers_lines_the_same(ending):
    raw = ending.join(["CODE1", "", "CODE2", "bad|x|y", "CODE3"]).encode()
    parsed = cardfile.parse(raw)
    assert parsed.entries == [(1, "CODE1"), (3, "CODE2"), (5, "CODE3")]
    assert parsed.invalid == [(4, "3 fields; expected a code or number and password")]


def test_utf8_with_bom_is_read_without_the_bom():
    parsed = cardfile.parse("卡号一----密码一\r\n卡号二----密码二".encode("utf-8-sig"))
    assert parsed.encoding == "utf-8-sig"
    assert [c for _, c in parsed.entries] == ["卡号一\t密码一", "卡号二\t密码二"]


def test_gbk_and_gb18030_are_read():
    raw = "点卡甲----密码甲\r\n点卡乙----密码乙\r\n".encode("gbk")
    parsed = cardfile.parse(raw)
    assert parsed.encoding == "gb18030"
    assert [c for _, c in parsed.entries] == ["点卡甲\t密码甲", "点卡乙\t密码乙"]


def test_plain_utf8_is_utf8():
    assert cardfile.parse("点卡----一".encode()).encoding == "utf-8"


@pytest.mark.parametrize(
    "header",
    ["card,password", "卡号,密码", "Code , PIN", '"number","pwd"'],
)
def test_csv_with_a_header_takes_the_named_columns(header):
    raw = f'{header}\nA1,B1\n\n"A2","B,2"\n'.encode()
    parsed = cardfile.parse(raw)
    assert parsed.entries == [(2, "A1\tB1"), (4, "A2\tB,2")]


def test_csv_columns_may_come_in_any_order_and_extra_columns_are_ignored():
    raw = b"batch;pin;serial\nx;P1;S1\ny;P2;S2\n"
    assert canonical(raw) == ["S1\tP1", "S2\tP2"]


def test_csv_with_only_a_code_column():
    assert canonical("激活码\nK-1\nK-2\n".encode()) == ["K-1", "K-2"]


def test_csv_row_with_too_few_columns_is_invalid():
    parsed = cardfile.parse(b"card,password\nA1,B1\nA2\n")
    assert parsed.entries == [(2, "A1\tB1")]
    assert parsed.invalid == [(3, "1 columns; the header names 2")]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("A|B|C", "3 fields; expected a code or number and password"),
        ("A----", "empty field"),
        ("X" * 256, "longer than 255 characters"),
        ("A\x01B", "contains control characters"),
        ("A\x1bB----C", "contains control characters"),
    ],
    ids=["three-fields", "empty-password", "too-long", "control", "escape"],
)
def test_bad_lines_are_named_with_their_number_and_reason(line, reason):
    parsed = cardfile.parse(f"GOOD1\n{line}\nGOOD2\n".encode())
    assert parsed.invalid == [(2, reason)]
    assert [n for n, _ in parsed.entries] == [1, 3]


def test_unicode_line_separators_do_not_shift_line_numbers():
    parsed = cardfile.parse("A\u2028B\nC\n".encode())
    assert parsed.entries[-1] == (2, "C")


def test_bytes_that_are_not_text_are_refused_as_a_whole():
    with pytest.raises(cardfile.UndecodableFile, match="neither UTF-8 nor GB18030"):
        cardfile.parse(b"\xff\xfe\x00\x00\x81")


def test_an_empty_or_blank_file_has_no_cards():
    assert cardfile.parse(b"").total == 0
    assert cardfile.parse(b"\n \r\n\t\n").total == 0


@pytest.mark.parametrize(
    "line", ["A\tB----C", "A----B\tC", 'card,password\n"A\tB",C'], ids=["number", "pw", "csv"]
)
def test_a_tab_inside_a_field_is_invalid_so_a_code_splits_back_as_written(line):
    # A secret is split on its first tab when shown; a field holding a tab
    # would come back as another number and password than the file said.
    parsed = cardfile.parse(f"{line}\n".encode())
    assert parsed.entries == []
    assert [reason for _, reason in parsed.invalid] == ["a tab inside a field"]


def test_every_stored_secret_splits_back_into_the_fields_of_its_line():
    parsed = cardfile.parse(b"K1----P1\nK2\tP2\nK3\nK4 | P 4\n")
    assert [split_card_secret(secret) for _, secret in parsed.entries] == [
        ("K1", "P1"),
        ("K2", "P2"),
        ("K3", None),
        ("K4", "P 4"),
    ]
