"""`Record`: classes declared like dataclasses that cost next to nothing to define.

tunespec runs in pre-commit on every commit, so its start-up is a feature. Importing `dataclasses` takes
10–20 ms here (it brings `inspect`, `ast`, `dis`, `tokenize`) and each frozen, slotted dataclass another
0.4–0.75 ms, together a fifth of a cold `tunespec lint` (measured by `python -X importtime`). A Record is
written the same way — annotated fields, defaults, `Factory(list)` for a fresh mutable default — and gets
`__slots__`, `__init__`, `__eq__`, `__hash__`, `__repr__` and `replace()`, made with one small `exec`.

    class Span(Record):
        line: int
        column: int = 1

`class SourceFile(Record, eq=False)` compares and hashes by identity instead of by value;
`class Rule(Record, compiled=False)` keeps the generic `__init__` (see `_deferred_init`).

The metaclass declares `typing.dataclass_transform` (PEP 681), so that type checkers know a Record's
`__init__` from its annotations, `Factory(...)` as a field's default factory, and `eq=False`.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is for type checkers only: importing it costs a cold lint 10M instructions
    from typing import Any, dataclass_transform
else:
    def dataclass_transform(**parameters: object):
        """What `typing.dataclass_transform` does at run time: it marks the class for type checkers."""

        def mark(cls):
            cls.__dataclass_transform__ = {"eq_default": True, "order_default": False, "kw_only_default": False,
                                           "field_specifiers": (), "kwargs": {}, **parameters}
            return cls

        return mark


class Factory:
    """A default made anew for each instance: `items: list = Factory(list)`."""

    __slots__ = ("make",)

    def __init__(self, factory) -> None:  # named `factory` for type checkers (PEP 681 field specifiers)
        self.make = factory


_MISSING = object()


@dataclass_transform(eq_default=True, field_specifiers=(Factory,))
class _RecordType(type):
    def __new__(mcs, name: str, bases: tuple, namespace: dict[str, Any], eq: bool = True, compiled: bool = True):
        annotated = namespace.get("__annotations__", {})
        own = tuple(field for field in annotated if field[0] != "_")
        if len(own) < len(annotated) and name != "Record":
            private = [field for field in annotated if field[0] == "_" and field in namespace]
            if private:
                raise TypeError(f"{name}: fields may not start with `_` ({', '.join(private)})")
        defaults = {field: namespace.pop(field) for field in own if field in namespace}
        namespace["__slots__"] = own + tuple(namespace.pop("__extra_slots__", ()))
        if len(bases) == 1:
            # One base (every Record here): its fields and defaults are already those of its whole MRO, and
            # given in the namespace they need no attribute set on the class after it is made (together
            # 1.6M instructions of the 45 Records a cold lint makes, callgrind)
            inherited, inherited_defaults = getattr(bases[0], "_fields", ()), getattr(bases[0], "_defaults", {})
            namespace["_fields"] = tuple(dict.fromkeys(inherited + own)) if inherited else own
            namespace["_defaults"] = {**inherited_defaults, **defaults} if inherited_defaults else defaults
        cls = super().__new__(mcs, name, bases, namespace)
        if len(bases) != 1:
            ancestors = cls.__mro__[:0:-1]
            cls._fields = tuple(dict.fromkeys([f for base in ancestors for f in getattr(base, "_fields", ())] + list(own)))
            cls._defaults = {**{k: v for base in ancestors for k, v in getattr(base, "_defaults", {}).items()}, **defaults}
        if own or not hasattr(cls, "_made_init"):
            _check_order(cls._fields, cls._defaults)
            cls._getter = staticmethod(_values_getter(cls._fields))
            cls.__init__ = _deferred_init(cls, compiled)
            cls._made_init = True
        if not eq:
            cls.__eq__ = object.__eq__
            cls.__hash__ = object.__hash__
        return cls


def _values_getter(fields: tuple[str, ...]):
    """What gives a record's field values as a tuple, in C (`operator.attrgetter`): a generator over the fields
    took 0.9 µs of a four-field record's 1.1 µs pickling (`Record.__reduce__`; a build batch's result holds
    12,000 records: pickling the benchmark's 27 results took the workers 39 ms of CPU, now 27)."""
    if len(fields) > 1:
        return attrgetter(*fields)
    if fields:
        one = attrgetter(fields[0])
        return lambda record: (one(record),)
    return lambda record: ()


def _check_order(fields: tuple[str, ...], defaults: dict[str, Any]) -> None:
    """A field without a default may not follow one with a default (as in a dataclass): said when the
    class is defined, not when it is first used."""
    seen_default = False
    for field in fields:
        if field in defaults:
            seen_default = True
        elif seen_default:
            raise TypeError(f"field {field!r} without a default follows one with a default")


# How many instances a class makes with the generic __init__ before its own is compiled: compiling one
# (an `exec`, 57 µs) costs about as much as sixty generic calls. A cold one-file lint makes 45 Record
# classes, most fewer than ten times each; compiling all 41 cost it 17.6M instructions of 206M (callgrind).
COMPILE_AFTER = 50


def _deferred_init(cls, compiled: bool = True):
    """The class's `__init__` until it has made COMPILE_AFTER instances: one that works for any Record (it
    assigns the fields from the arguments and the defaults in a loop), then puts the compiled one in its
    place, eight times as fast per call (0.12 µs against 0.96 µs, four fields). A class declared with
    `compiled=False` keeps the generic one: its instances are made a fixed few dozen times, at import (the
    rules, the fields of the language), and compiling theirs cost a cold lint 0.5M instructions for the
    handful of calls after the fiftieth."""
    fields, defaults = cls._fields, cls._defaults
    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        nonlocal made
        made += 1
        if made >= COMPILE_AFTER and compiled:
            cls.__init__ = _make_init(fields, defaults)
            cls.__init__(self, *args, **kwargs)
            return
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} arguments but {len(args)} were given")
        for field, value in zip(fields, args):
            setattr(self, field, value)
        for field in fields[len(args):]:
            if field in kwargs:
                setattr(self, field, kwargs.pop(field))
                continue
            default = defaults.get(field, _MISSING)
            if default is _MISSING:
                raise TypeError(f"{cls.__name__}() missing the argument {field!r}")
            setattr(self, field, default.make() if isinstance(default, Factory) else default)
        if kwargs:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {next(iter(kwargs))!r}")

    return __init__


def _make_init(fields: tuple[str, ...], defaults: dict[str, Any]):
    parameters, body = [], []
    scope: dict[str, Any] = {"_MISSING": _MISSING}
    for field in fields:
        default = defaults.get(field, _MISSING)
        if default is _MISSING:
            parameters.append(field)
            body.append(f"    self.{field} = {field}")
        elif isinstance(default, Factory):
            scope[f"_make_{field}"] = default.make
            parameters.append(f"{field}=_MISSING")
            body.append(f"    self.{field} = _make_{field}() if {field} is _MISSING else {field}")
        else:
            scope[f"_default_{field}"] = default
            parameters.append(f"{field}=_default_{field}")
            body.append(f"    self.{field} = {field}")
    source = f"def __init__(self, {', '.join(parameters)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, scope)  # noqa: S102 - the source is built from field names, never from input
    return scope["__init__"]


class ValueEquality:
    """Equal when of the same class with equal `_values()`, and hashed by them: records, and the syntax
    tree's slimmer nodes that hold positions as numbers rather than a span (compiler/ast.py), compare
    alike. Each class defines `_values`."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())


class Record(ValueEquality, metaclass=_RecordType):
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}
    _getter: Any = staticmethod(lambda record: ())  # (`_values_getter`: each Record class has its own)

    def _values(self) -> tuple:
        return self._getter(self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{field}={getattr(self, field)!r}" for field in self._fields)
        return f"{type(self).__name__}({shown})"

    def __reduce__(self):
        """Pickled as its class and field values: unpickling calls `__init__` once instead of setting each
        slot from a state dict, which made loading a build batch's result from a worker (5,600 records)
        8 times slower (17 ms against 2 ms). Extra slots (caches) are not kept."""
        return type(self), self._getter(self)

    def replace(self, **changes: Any):
        """A copy with some fields changed (as `dataclasses.replace`)."""
        values = {field: getattr(self, field) for field in self._fields}
        values.update(changes)
        return type(self)(**values)
