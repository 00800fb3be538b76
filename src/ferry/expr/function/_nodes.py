"""The compiled form of an expression: a small node tree, specialised into closures.

Compiling builds :class:`Node` objects once (all syntax and arity errors surface there).
Evaluating specialises the tree for the *types* of the bound parameters — the same thing
MariaDB does when it fixes item types — into nested closures ``fn(params, env)``; the
specialisation is cached per parameter signature, so a stream of records of the same shape
runs the closures only. Each rule module registers its ops in :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from ferry.errors import RecordError
from ferry.expr.function._dates import BadDate
from ferry.expr.function._types import ListSig, SqlType

__all__ = [
    "RULES",
    "Env",
    "Fn",
    "Node",
    "Spec",
    "Specializer",
    "bad_date",
    "fail",
    "finished",
    "is_finished",
    "rule",
]

Fn = Callable[[list[Any], "Env"], Any]
Spec = tuple[Fn, SqlType]


@dataclass(frozen=True, slots=True)
class Env:
    """Per-evaluation context: the clock, as naive +08:00 wall-clock time."""

    now: datetime


@dataclass(eq=False, slots=True)
class Node:
    """One operation: ``op`` names its rule, ``data`` holds op-specific constants."""

    op: str
    args: tuple[Node, ...] = ()
    data: Any = None
    src: str = ""
    """The expression text this node came from, for error messages."""
    slots: frozenset[int] = field(default=frozenset())
    """Parameter slots referenced anywhere below this node."""


_FINISHED: WeakKeyDictionary[Fn, SqlType] = WeakKeyDictionary()


def finished(fn: Fn, t: SqlType) -> Fn:
    """Mark ``fn`` (of result type ``t``) as giving values already in the form the expression's
    result takes (``finalizer(t)`` would return them unchanged), so that a root ``fn`` is not
    finalised again per record."""
    _FINISHED[fn] = t
    return fn


def is_finished(fn: Fn, t: SqlType) -> bool:
    """Whether :func:`finished` marked ``fn`` for the result type ``t``."""
    return _FINISHED.get(fn) == t


def fail(reason: str) -> RecordError:
    """A :class:`RecordError` for a value that cannot be computed."""
    return RecordError(f"{reason} in _function")


def bad_date(node: Node, exc: BadDate, value: Any = None) -> RecordError:
    """The RecordError for an invalid date met while evaluating ``node``."""
    shown = f" {value!r}" if value is not None else ""
    return RecordError(f"invalid date/datetime value{shown} ({exc}) in _function: {node.src}")


RULES: dict[str, Callable[[Node, Specializer], Spec]] = {}


def rule(*ops: str) -> Callable[[Callable[[Node, Specializer], Spec]], Callable[[Node, Specializer], Spec]]:
    """Register a specialisation rule for ``ops``."""

    def register(fn: Callable[[Node, Specializer], Spec]) -> Callable[[Node, Specializer], Spec]:
        for op in ops:
            RULES[op] = fn
        return fn

    return register


class Specializer:
    """Turns nodes into closures for one parameter signature.

    ``sig[i]`` is the type of parameter ``i`` (a :class:`ListSig` for a list); ``consts``
    holds the values of parameters whose value decides a result type (the decimals of
    ``ROUND``, the format of ``STR_TO_DATE``), as MariaDB sees them as constants.
    """

    __slots__ = ("consts", "sig")

    def __init__(self, sig: Sequence[SqlType | ListSig], consts: dict[int, Any]) -> None:
        self.sig = sig
        self.consts = consts

    def spec(self, node: Node) -> Spec:
        """Closure and result type of ``node``."""
        return RULES[node.op](node, self)

    def specs(self, nodes: Sequence[Node]) -> tuple[list[Fn], list[SqlType]]:
        """Closures and types of several nodes."""
        pairs = [self.spec(n) for n in nodes]
        return [f for f, _ in pairs], [t for _, t in pairs]

    def fold(self, node: Node) -> tuple[bool, Any]:
        """``(True, value)`` when ``node``'s value is known while specialising.

        True for literals and for expressions over parameters whose values are part of the
        signature (MariaDB sees every bound value as a constant, and some result types
        depend on constants: the decimals of ``ROUND(x, 2)``).
        """
        if node.op == "const":
            return True, node.data[0]
        if not node.slots <= self.consts.keys():
            return False, None
        fn, _ = self.spec(node)
        params = [self.consts.get(i) for i in range(len(self.sig))]
        try:
            return True, fn(params, Env(datetime(2000, 1, 1)))
        except RecordError:
            return False, None

    def for_rows(self, row_sig: Sequence[SqlType | ListSig]) -> Specializer:
        """A specializer for the argument of an aggregate, with list slots as columns."""
        return Specializer(row_sig, self.consts)
