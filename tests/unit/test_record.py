"""``@record`` (spidernet/types/record.py) behaves as ``@dataclass(frozen=True)`` did for
every use we make of it: the same class is declared both ways and compared.

| behaviour                                   | cases                                        |
|---------------------------------------------|----------------------------------------------|
| construction                                | positional, by name, defaults, factories (a  |
|                                             | fresh object per instance), mixed            |
| equality and hash                           | equal fields, one field differs, another     |
|                                             | class with the same fields, compare=False    |
| repr                                        | the dataclass text, repr=False hidden        |
| frozen                                      | setting or deleting a field raises           |
| replace                                     | changed fields, the rest kept, unknown name  |
| refused                                     | a missing, unexpected, repeated argument, too|
|                                             | many positionals, a required field after a   |
|                                             | default                                      |
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spidernet.types.record import FrozenInstanceError, field, record, replace


@record
class Hop:
    dst: str
    table: int = 254
    tags: list[str] = field(default_factory=list)
    note: str = field(default_factory=str, compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class DHop:
    dst: str
    table: int = 254
    tags: list[str] = dataclasses.field(default_factory=list)
    note: str = dataclasses.field(default_factory=str, compare=False, repr=False)


@given(st.text(max_size=5), st.integers(0, 300), st.text(max_size=3))
def test_construction_equality_hash_and_repr_are_the_dataclasses(
    dst: str, table: int, note: str
) -> None:
    ours, theirs = Hop(dst, table, note=note), DHop(dst, table, note=note)
    assert (ours.dst, ours.table, ours.tags, ours.note) == (
        theirs.dst,
        theirs.table,
        theirs.tags,
        theirs.note,
    )
    assert repr(ours) == repr(theirs).replace("DHop(", "Hop(")
    assert ours == Hop(dst=dst, table=table, note=note + "x")  # note is not compared
    assert (ours == Hop(dst + "x", table)) == (theirs == DHop(dst + "x", table))
    assert Key(dst, table) != Other(dst, table)  # another class never equals
    ours.tags.append("x")  # a mutable default is made per instance, as with default_factory
    assert Hop(dst).tags == []
    assert hash(Key(dst, table)) == hash(Key(dst, table)) == hash(DKey(dst, table))


@record
class Key:
    dst: str
    table: int = 254


@dataclasses.dataclass(frozen=True)
class DKey:
    dst: str
    table: int = 254


@record
class Other:
    dst: str
    table: int = 254


def test_a_record_is_frozen_and_replace_keeps_what_it_does_not_change() -> None:
    hop = Hop("10.0.0.0/8", note="n")
    with pytest.raises(FrozenInstanceError):
        hop.table = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del hop.dst  # type: ignore[misc]
    moved = replace(hop, table=100)
    assert (moved.dst, moved.table, moved.note, hop.table) == ("10.0.0.0/8", 100, "n", 254)
    with pytest.raises(TypeError):
        replace(hop, gateway="x")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), (("a",), {"nope": 1}), (("a",), {"dst": "b"}), (("a", 1, [], "n", 5), {})],
    ids=["missing", "unexpected", "repeated", "too many"],
)
def test_wrong_arguments_are_a_type_error(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    with pytest.raises(TypeError):
        Hop(*args, **kwargs)


def test_a_required_field_after_a_default_is_refused_at_the_class() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        @record
        class Bad:
            a: int = 0
            b: int
