"""Frozen records without the ``dataclasses`` module. Pure, no I/O.

``@record`` gives a class what ``@dataclass(frozen=True)`` gave it: a constructor taking
its annotated fields (positionally or by name, defaults and ``field(default_factory=...)``
honoured), equality and hash over the fields, a repr, and immutability; ``replace(obj,
**changes)`` is ``dataclasses.replace``. mypy checks the constructors through
``typing.dataclass_transform``.

Why not dataclasses (docs/performance.md, "What each verb imports"): importing it pulls
in ``inspect`` (with ``ast``, ``dis``, ``tokenize``), and every decorated class compiles
its generated methods with ``exec``. Counted with callgrind: 62 M instructions for the
import and 2.9 M per class, about a fifth of a coordinator ADD, which has twenty such
classes on its path. Here a class costs a walk over its annotations; the methods are
shared functions that read the class's field list.

Not supported, because none of our records uses it: inheritance between records,
``ClassVar``/``InitVar``, ``__post_init__``, ordering, slots, keyword-only fields.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time either
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_: object) -> object:
        return lambda decorator: decorator


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a record (as ``dataclasses.FrozenInstanceError``)."""


class _Field:
    __slots__ = ("compare", "factory", "repr")

    def __init__(self, factory: Callable[[], object], compare: bool, repr: bool) -> None:
        self.factory, self.compare, self.repr = factory, compare, repr


def field(*, default_factory: Callable[[], T], compare: bool = True, repr: bool = True) -> T:
    """A field whose default is made per instance; ``compare``/``repr`` False leave it out
    of equality and hash, or of the repr."""
    return _Field(default_factory, compare, repr)  # type: ignore[return-value]


class _Spec:
    """A record class's fields, read once from its annotations."""

    __slots__ = ("compared", "defaults", "factories", "names", "shown")

    def __init__(self, cls: type) -> None:
        # Not inspect.get_annotations: inspect is what this module exists to avoid.
        self.names: tuple[str, ...] = tuple(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063
        self.defaults: dict[str, object] = {}
        self.factories: dict[str, Callable[[], object]] = {}
        hidden, uncompared = set(), set()
        for name in self.names:
            value = cls.__dict__.get(name, _Spec)
            if isinstance(value, _Field):
                self.factories[name] = value.factory
                hidden.update([name] if not value.repr else [])
                uncompared.update([name] if not value.compare else [])
                delattr(cls, name)
            elif value is not _Spec:
                self.defaults[name] = value
            elif self.defaults or self.factories:
                raise TypeError(
                    f"{cls.__name__}.{name}: a field without a default follows one with"
                )
        self.compared = tuple(n for n in self.names if n not in uncompared)
        self.shown = tuple(n for n in self.names if n not in hidden)

    def values(
        self, cls: type, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> dict[str, object]:
        if len(args) > len(self.names):
            raise TypeError(
                f"{cls.__name__}() takes {len(self.names)} arguments, {len(args)} given"
            )
        values = dict(zip(self.names, args))
        for name, value in kwargs.items():
            if name not in self.names or name in values:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {name!r}")
            values[name] = value
        for name in self.names:
            if name in values:
                continue
            if name in self.defaults:
                values[name] = self.defaults[name]
            elif name in self.factories:
                values[name] = self.factories[name]()
            else:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
        return values


def _init(self: Any, *args: object, **kwargs: object) -> None:
    cls = type(self)
    for name, value in cls.__record__.values(cls, args, kwargs).items():
        object.__setattr__(self, name, value)


def _key(self: Any) -> tuple[object, ...]:
    return tuple(getattr(self, name) for name in type(self).__record__.compared)


def _eq(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) == _key(other)


def _hash(self: Any) -> int:
    return hash(_key(self))


def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self).__record__.shown)
    return f"{type(self).__qualname__}({shown})"


def _frozen(self: Any, name: str, *_: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen record of its annotated fields (see the module's docstring)."""
    setattr(cls, "__record__", _Spec(cls))  # noqa: B010 (a name mypy need not know)
    for name, method in (
        ("__init__", _init),
        ("__eq__", _eq),
        ("__hash__", _hash),
        ("__repr__", _repr),
        ("__setattr__", _frozen),
        ("__delattr__", _frozen),
    ):
        setattr(cls, name, method)
    return cls


def replace(obj: T, **changes: object) -> T:
    """A copy of the record ``obj`` with ``changes`` (``dataclasses.replace``)."""
    spec: _Spec = type(obj).__record__  # type: ignore[attr-defined]
    values = {name: getattr(obj, name) for name in spec.names}
    values.update(changes)
    return type(obj)(**values)
