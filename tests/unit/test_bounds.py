"""types.bounds: integers in range with the field named, and short quotations in errors.

| call      | input                                                    | outcome                   |
|-----------|----------------------------------------------------------|---------------------------|
| parse_int | " 42 ", "-7", "+3", "007"                                | the integer               |
|           | "", "4.2", "1e3", "0x10", Arabic-Indic digits            | None                      |
|           | 25 or 100000 digits                                      | ±10**20 (beyond range)    |
| integer   | an int in range; a numeric string with numeric_string    | the int                   |
|           | bool, float, a string without numeric_string, a list     | 7 "must be an integer"    |
|           | out of range, 100000-digit string, 4000-digit int        | 7 "outside [lo, hi]",     |
|           |                                                          | the message short         |
|           | anything JSON holds (hypothesis)                         | an int or InvalidConfig   |
| show      | deep lists, long strings, huge ints                      | at most ~80 characters    |
| json_     | JSON within bounds (str or UTF-8 bytes, surrogate pairs) | what json.loads gives     |
| document  | not UTF-8 (also CESU surrogate bytes), deeper than 64    | BadJson saying why        |
|           | (objects or lists, up to 100000), a lone surrogate       |                           |
|           | escape, not JSON                                         |                           |
|           | 1000 lists side by side; 64 deep; object_pairs_hook      | decoded (depth is nesting)|
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spidernet.protocol import errors
from spidernet.types import bounds


@pytest.mark.parametrize(("text", "number"), [(" 42 ", 42), ("-7", -7), ("+3", 3), ("007", 7)])
def test_numeric_text_is_read(text: str, number: int) -> None:
    assert bounds.parse_int(text) == number


@pytest.mark.parametrize("text", ["", "4.2", "1e3", "0x10", "\u0664\u0662", "4 2", "--1"])
def test_anything_but_ascii_digits_is_not_numeric(text: str) -> None:
    assert bounds.parse_int(text) is None


@pytest.mark.parametrize("digits", [25, 100_000])
def test_more_digits_than_any_range_read_as_beyond_it(digits: int) -> None:
    assert bounds.parse_int("9" * digits) == 10**20
    assert bounds.parse_int("-" + "9" * digits) == -(10**20)
    assert bounds.parse_int("0" * digits + "5") == 5  # leading zeros are not magnitude


def test_an_integer_in_range_passes() -> None:
    assert bounds.integer(5, "k", 0, 9) == 5
    assert bounds.integer(" 5", "k", 0, 9, numeric_string=True) == 5


@pytest.mark.parametrize("value", [True, 1.0, "5", [5], None])
def test_anything_but_an_integer_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(errors.InvalidConfig, match="must be an integer") as e:
        bounds.integer(value, "a.b")
    assert e.value.field == "a.b"


@pytest.mark.parametrize(
    ("value", "numeric_string"),
    [(10, False), (-1, False), ("9" * 100_000, True), (10**4000, False), ("-" + "9" * 30, True)],
)
def test_out_of_range_is_refused_with_a_short_message(value: object, numeric_string: bool) -> None:
    with pytest.raises(errors.InvalidConfig, match=r"outside \[0, 9\]") as e:
        bounds.integer(value, "k", 0, 9, numeric_string=numeric_string)
    assert len(e.value.msg) < 150


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(value=JSON | st.from_regex(r"[-+]?[0-9]{1,40}", fullmatch=True), lo=st.integers(-5, 5))
def test_any_json_value_is_an_int_in_range_or_invalid_config(value: object, lo: int) -> None:
    try:
        n = bounds.integer(value, "k", lo, lo + 10, numeric_string=True)
    except errors.InvalidConfig as e:
        assert e.field == "k" and len(e.msg) < 200
    else:
        assert lo <= n <= lo + 10


def test_show_quotes_anything_briefly() -> None:
    deep: list[object] = []
    for _ in range(500):
        deep = [deep]
    for value in (deep, "x" * 10_000, 10**4000, {str(i): i for i in range(1000)}):
        assert len(bounds.show(value)) <= 80
    assert bounds.show("abc") == "'abc'" and bounds.show(json.loads("[1, 2]")) == "[1, 2]"


@pytest.mark.parametrize(
    ("text", "value"),
    [('{"a": [1, {"b": null}]}', {"a": [1, {"b": None}]}), ('"\\ud83d\\ude00"', "\U0001f600")],
)
def test_json_within_bounds_decodes_as_json_loads_does(text: str, value: object) -> None:
    assert bounds.json_document(text) == value
    assert bounds.json_document(text.encode()) == value


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b"\xff{}", "not UTF-8"),
        (b'"\xed\xa0\x80"', "not UTF-8"),  # a surrogate as CESU bytes: json.loads takes it
        ("[" * 65 + "]" * 65, "nested more than 64 levels deep"),
        ("[" * 100_000 + "]" * 100_000, "nested more than 64 levels deep"),
        ('{"a":' * 65 + "1" + "}" * 65, "nested more than 64 levels deep"),
        ('"\\ud800"', "surrogate"),
        ('["x\\udfffy"]', "surrogate"),
        ("{", "Expecting"),
    ],
)
def test_json_beyond_bounds_is_bad_json_saying_why(text: str | bytes, why: str) -> None:
    with pytest.raises(bounds.BadJson, match=why):
        bounds.json_document(text)


def test_depth_counts_nesting_not_brackets_and_passes_the_hooks_options() -> None:
    wide = json.dumps([[i] for i in range(1000)])  # 1001 brackets, 2 levels
    assert len(bounds.json_document(wide)) == 1000
    assert bounds.json_document("[" * 64 + "]" * 64) is not None
    pairs = bounds.json_document('{"a": 1, "a": 2}', object_pairs_hook=list)
    assert pairs == [("a", 1), ("a", 2)]
