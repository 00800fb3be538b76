"""Parsing with sqlglot (MySQL dialect) and building the :class:`Node` tree.

sqlglot's MySQL parser is used with its function table emptied, so that every function call
arrives as the name the user wrote with its raw arguments (sqlglot would otherwise rewrite
``DATE_FORMAT`` formats or turn ``IFNULL`` into ``COALESCE``); the grammar itself —
operators, precedence, ``CASE``, ``CAST``, ``INTERVAL``, ``SUBSTRING(x FROM y)`` — is
sqlglot's. Every error becomes an :class:`~ferry.errors.ExpressionError` whose column points
into the full value text.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import ParseError, TokenError

from ferry.errors import ExpressionError
from ferry.expr.function._bits import SYNTAX
from ferry.expr.function._functions import build_call
from ferry.expr.function._nodes import Node
from ferry.expr.function._source import Source
from ferry.expr.function._temporal import DATE_UNITS, TIME_UNITS
from ferry.expr.function._types import INT_T, NULL_T, STR_T, number_literal

__all__ = ["build_tree"]

UNITS = sorted([*DATE_UNITS, *TIME_UNITS])


class _FerryMySQL(MySQL):
    class Parser(MySQL.Parser):  # type: ignore[misc,valid-type]
        FUNCTIONS: dict[str, Any] = {}  # noqa: RUF012 - sqlglot's own class attribute
        FUNCTION_PARSERS = {k: v for k, v in MySQL.Parser.FUNCTION_PARSERS.items() if k != "JSON_VALUE"}  # noqa: RUF012

        def _parse_as_command(self, start: Any) -> Any:
            # sqlglot would log a warning and return an opaque Command; for us it is an error.
            self.raise_error("unsupported syntax", start)
            return super()._parse_as_command(start)


_COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "eq",
    exp.NEQ: "ne",
    exp.LT: "lt",
    exp.LTE: "le",
    exp.GT: "gt",
    exp.GTE: "ge",
    exp.NullSafeEQ: "nseq",
}
_ARITHMETIC: dict[type[exp.Expression], str] = {
    exp.Add: "add",
    exp.Sub: "sub",
    exp.Mul: "mul",
    exp.Div: "div",
    exp.IntDiv: "intdiv",
    exp.Mod: "mod",
}
_LOGIC: dict[type[exp.Expression], str] = {exp.And: "and", exp.Or: "or", exp.Xor: "xor"}


_EMPTY_ARGUMENT = re.compile(r"[(,]\s*(,)|,\s*(\))")


def _parse(src: Source) -> exp.Expression:
    empty = _EMPTY_ARGUMENT.search(src.parse_text)  # literals are markers here: no false hits
    if empty:
        at = empty.start(1) if empty.group(1) else empty.start(2)
        raise ExpressionError(
            "syntax error in _function expression: empty argument", src.text, src.column(at)
        )
    try:
        tree = sqlglot.parse_one(src.parse_text, read=_FerryMySQL, error_message_context=1_000_000)
    except ParseError as exc:
        info = exc.errors[0] if exc.errors else {}
        offset = len(info.get("start_context", "")) if info else len(src.parse_text)
        description = info.get("description", str(exc)) if info else str(exc)
        raise ExpressionError(
            f"syntax error in _function expression: {_humane(description)}", src.text, src.column(offset)
        ) from None
    except TokenError as exc:
        raise ExpressionError(
            f"syntax error in _function expression: {exc}", src.text, src.column(7)
        ) from None
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1:
        raise ExpressionError("a _function value must be a single expression", src.text, src.column(7))
    extra = [key for key, value in tree.args.items() if value and key != "expressions"]
    if extra:
        raise ExpressionError(
            f"a _function value must be a single expression, not a query ({extra[0].upper()})",
            src.text,
            src.column(7),
        )
    return tree.expressions[0]


def _humane(description: str) -> str:
    if description.startswith("Required keyword: 'expression' missing"):
        return "an operator is missing its right-hand operand"
    if description.startswith("Invalid expression / Unexpected token"):
        return "unexpected token"
    return description


class _Builder:
    """Walks the sqlglot tree once; knows the source for columns and messages."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.in_aggregate = False

    # -- positions -------------------------------------------------------------------------
    def _span(self, node: exp.Expression) -> tuple[int, int] | None:
        starts, ends = [], []
        for sub in node.walk():
            meta = sub.meta if hasattr(sub, "meta") else {}
            if "start" in meta:
                starts.append(meta["start"])
                ends.append(meta["end"])
        return (min(starts), max(ends)) if starts else None

    def column(self, node: exp.Expression) -> int:
        """1-based column of ``node`` in the full value."""
        span = self._span(node)
        return self.src.column(span[0]) if span else self.src.column(7)

    def text_of(self, node: exp.Expression) -> str:
        """The source text of ``node`` (parentheses balanced), for error messages."""
        span = self._span(node)
        if span is None:
            return self.src.text[self.src.column(7) - 1 :].strip()
        text = self.src.text
        start = self.src.parse_map[span[0]]
        end = self.src.parse_map[min(span[1], len(self.src.parse_map) - 1)]
        end = self._token_end(end)
        piece = text[start:end]
        while piece.count("(") > piece.count(")") and (close := text.find(")", end)) >= 0:
            end = close + 1
            piece = text[start:end]
        while piece.count(")") > piece.count("(") and (opening := text.rfind("(", 0, start)) >= 0:
            start = opening
            piece = text[start:end]
        return piece.strip()

    def _token_end(self, start: int) -> int:
        for slot in self.src.slots:
            if slot.start == start:
                return slot.end
        text = self.src.text
        if start < len(text) and text[start] in "'\"":
            quote, j = text[start], start + 1
            while j < len(text) and text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            return j + 1
        j = start
        while j < len(text) and (text[j].isalnum() or text[j] in "_."):
            j += 1
        return max(j, start + 1)

    def error(self, message: str, node: exp.Expression) -> ExpressionError:
        """An ExpressionError located at ``node``."""
        return ExpressionError(message, self.src.text, self.column(node))

    # -- building --------------------------------------------------------------------------
    def node(self, op: str, args: list[Node], data: Any, at: exp.Expression) -> Node:
        """A Node whose ``slots`` are its children's."""
        slots = frozenset().union(*(a.slots for a in args)) if args else frozenset()
        return Node(op, tuple(args), data, self.text_of(at), slots)

    def build(self, e: exp.Expression) -> Node:
        """The Node for sqlglot expression ``e``."""
        if isinstance(e, exp.Paren):
            return self.build(e.this)
        if isinstance(e, exp.Literal):
            return self._literal(e)
        if isinstance(e, exp.Column):
            return self._column(e)
        if isinstance(e, exp.Null):
            return Node("const", (), (None, NULL_T), "NULL")
        if isinstance(e, exp.Boolean):
            return Node("const", (), (int(e.this), INT_T), str(e.this).upper())
        if isinstance(e, exp.Neg):
            return self.node("neg", [self.build(e.this)], None, e)
        if isinstance(e, exp.Not):
            return self.node("not", [self.build(e.this)], None, e)
        if type(e) in _COMPARISONS:
            return self.node(_COMPARISONS[type(e)], [self.build(e.this), self.build(e.expression)], None, e)
        if type(e) in _LOGIC:
            return self.node(_LOGIC[type(e)], [self.build(e.this), self.build(e.expression)], None, e)
        if type(e) in _ARITHMETIC:
            return self._arithmetic(e)
        if isinstance(e, exp.Is):
            target = e.expression
            data = None if isinstance(target, exp.Null) else bool(target.this)
            return self.node("is", [self.build(e.this)], data, e)
        if isinstance(e, exp.In):
            if e.args.get("query") or e.args.get("unnest") or e.args.get("field") or not e.expressions:
                raise self.error("IN needs a parenthesised list of values, e.g. x IN ('a', 'b')", e)
            return self.node("in", [self.build(e.this), *map(self.build, e.expressions)], None, e)
        if isinstance(e, exp.Between):
            args = [self.build(e.this), self.build(e.args["low"]), self.build(e.args["high"])]
            return self.node("between", args, None, e)
        if isinstance(e, (exp.Like, exp.Escape)):
            return self._like(e)
        if isinstance(e, exp.Case):
            return self._case(e)
        special = SYNTAX.get(type(e))  # bitwise operators, INTERVAL(N, N1, ...), a misplaced INTERVAL
        if special is not None:
            return special(self, e)
        if isinstance(e, exp.Concat):  # adjacent string literals: 'a' 'b'
            return self.node("concat", [self.build(a) for a in e.expressions], None, e)
        if isinstance(e, (exp.Func, exp.Cast)):
            return build_call(self, e)
        raise self.error(f"unsupported syntax in _function expression: {e.sql(dialect='mysql')}", e)

    def _literal(self, e: exp.Literal) -> Node:
        text = e.this
        if e.is_string:
            marker = self.src.markers.get(text)
            if marker is None:  # sqlglot turns INTERVAL 1 DAY's number into a string
                value, t = number_literal(text)
                return Node("const", (), (value, t), text)
            kind, payload = marker
            if kind == "const":
                return Node("const", (), (payload, STR_T), self.text_of(e))
            slot = self.src.slots[payload]
            return Node("param", (), payload, slot.raw, frozenset({payload}))
        try:
            value, t = number_literal(text)
        except ValueError:
            raise self.error(f"unsupported number literal {text}", e) from None
        return Node("const", (), (value, t), text)

    def _column(self, e: exp.Column) -> Node:
        name = e.name
        if not e.table and not e.this.quoted and name.startswith("__p") and name[3:].isdigit():
            slot = int(name[3:])
            raw = self.src.slots[slot].raw
            return Node("param", (), slot, raw, frozenset({slot}))
        shown = e.sql(dialect="mysql")
        raise self.error(
            f"unknown name {shown} in _function expression; quote text ('{shown}') "
            f"or use a placeholder ({{{{{shown}}}}})",
            e,
        )

    def interval(self, e: exp.Interval) -> tuple[Node, str]:
        """The amount node and unit of ``INTERVAL <amount> <unit>``."""
        unit = e.unit.name.upper() if e.unit is not None else ""
        if unit not in UNITS:
            raise self.error(
                f"unsupported INTERVAL unit {unit or '(none)'}; supported: {', '.join(UNITS)}", e
            )
        return self.build(e.this), unit

    def _arithmetic(self, e: exp.Expression) -> Node:
        op = _ARITHMETIC[type(e)]
        left, right = e.this, e.expression
        if isinstance(left, exp.Interval) and isinstance(right, exp.Interval) and right.unit is None:
            right = right.this  # sqlglot reads "INTERVAL 1 DAY + '2024-01-31'" as two intervals
        if op in ("add", "sub") and isinstance(right, exp.Interval):
            amount, unit = self.interval(right)
            return self.node("date_add", [self.build(left), amount], (unit, 1 if op == "add" else -1), e)
        if op == "add" and isinstance(left, exp.Interval):
            amount, unit = self.interval(left)
            return self.node("date_add", [self.build(right), amount], (unit, 1), e)
        return self.node(op, [self.build(left), self.build(right)], None, e)

    def _like(self, e: exp.Expression) -> Node:
        escape: Node
        like = e
        if isinstance(e, exp.Escape):
            like = e.this
            escape = self.build(e.expression)
        else:
            escape = Node("const", (), ("\\", STR_T), "'\\\\'")
        if not isinstance(like, exp.Like):
            raise self.error("ESCAPE is only allowed after LIKE", e)
        node = self.node("like", [self.build(like.this), self.build(like.expression), escape], None, e)
        if like.args.get("negate"):
            return self.node("not", [node], None, e)
        return node

    def _case(self, e: exp.Case) -> Node:
        args: list[Node] = []
        operand = e.this
        if operand is not None:
            args.append(self.build(operand))
        for branch in e.args.get("ifs") or []:
            args += [self.build(branch.this), self.build(branch.args["true"])]
        default = e.args.get("default")
        if default is not None:
            args.append(self.build(default))
        return self.node("case", args, (operand is not None, default is not None), e)


def build_tree(src: Source) -> Node:
    """Parse ``src.parse_text`` and build its Node tree.

    Raises:
        ExpressionError: a syntax error, an unknown function or name, a wrong argument count.
    """
    return _Builder(src).build(_parse(src))
