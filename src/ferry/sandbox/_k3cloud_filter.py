"""The SQL-like ``FilterString`` of ``ExecuteBillQuery`` (docs/vendor-protocols.md §1.4): parse, then evaluate per row.

Grammar (keywords case-insensitive)::

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | predicate
    predicate  := operand ( ("=" | "<>" | "!=" | "<" | "<=" | ">" | ">=") operand
                          | ["not"] "like" operand
                          | ["not"] "in" "(" operand ("," operand)* ")"
                          | ["not"] "between" operand "and" operand
                          | "is" ["not"] "null" )
    operand    := field path (FID, FCustId.FNumber, FSaleOrderEntry_FEntryID) | 'text' | N'text' | number | null

Evaluation follows SQL Server, which K3Cloud runs on: three-valued logic (a comparison with
NULL is unknown, and an unknown row is not returned), case-insensitive text (the default
``Chinese_PRC_CI_AS`` collation), a quoted literal converted to the other side's type (a date
``'2024-01-02 00:00:00'`` against a date field, a number against a number field). A literal
that does not convert raises :class:`FilterError` at evaluation, as the database would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["Condition", "FilterError", "Resolver", "compile_filter", "parse_datetime"]

Row = Any
Accessor = Callable[[Row], Any]
Resolver = Callable[[str], Accessor]
"""Turns a field path into a function of the row; raises for an unknown field."""


class FilterError(ValueError):
    """A ``FilterString`` that does not parse, or a literal that does not convert."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>[Nn]?'(?:[^']|'')*')
      | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<op><=|>=|<>|!=|=|<|>)
      | (?P<punct>[(),])
      | (?P<name>[A-Za-z_\u4e00-\u9fff][\w.]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "like", "in", "is", "null", "between"})
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
)


def parse_datetime(text: str) -> datetime | None:
    """A date literal as K3Cloud accepts it (``yyyy-MM-dd[ HH:mm:ss[.fff]]``), else ``None``."""
    text = text.strip()
    if "." in text[10:]:
        text = text[: text.index(".", 10)]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.lastgroup is None:
            start = len(source) - len(source[pos:].lstrip())
            raise FilterError(f"无法识别的字符 “{source[start]}” (位置 {start + 1})")
        kind = match.lastgroup
        text, start = match.group(kind), match.start(kind)
        if kind == "name" and text.lower() in _KEYWORDS:
            kind, text = "kw", text.lower()
        tokens.append(_Tok(kind, text, start))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, source: str, resolve: Resolver) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0
        self.resolve = resolve

    def peek(self, kind: str, text: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        tok = self.tokens[self.i]
        return tok.kind == kind and (text is None or tok.text == text)

    def take(self, kind: str, text: str | None = None) -> _Tok:
        if not self.peek(kind, text):
            got = self.tokens[self.i] if self.i < len(self.tokens) else None
            where = f"“{got.text}” (位置 {got.pos + 1})" if got else "结尾"
            raise FilterError(f"语法错误：在 {where} 处需要 {text or kind}")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Condition:
        if not self.tokens:
            return lambda row: True
        cond = self.expr()
        if self.i < len(self.tokens):
            tok = self.tokens[self.i]
            raise FilterError(f"语法错误：“{tok.text}” 附近 (位置 {tok.pos + 1})")
        return cond

    def expr(self) -> Condition:
        parts = [self.term()]
        while self.peek("kw", "or"):
            self.i += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else _or(parts)

    def term(self) -> Condition:
        parts = [self.factor()]
        while self.peek("kw", "and"):
            self.i += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else _and(parts)

    def factor(self) -> Condition:
        if self.peek("kw", "not"):
            self.i += 1
            inner = self.factor()
            return lambda row: _not(inner(row))
        if self.peek("punct", "("):
            self.i += 1
            inner = self.expr()
            self.take("punct", ")")
            return inner
        return self.predicate()

    def operand(self) -> Accessor:
        if self.i >= len(self.tokens):
            raise FilterError("语法错误：条件不完整")
        tok = self.tokens[self.i]
        self.i += 1
        if tok.kind == "str":
            literal = tok.text[tok.text.index("'") + 1 : -1].replace("''", "'")
            return _Literal(literal)
        if tok.kind == "num":
            return _Literal(float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "kw" and tok.text == "null":
            return _Literal(None)
        if tok.kind == "name":
            return self.resolve(tok.text)
        raise FilterError(f"语法错误：“{tok.text}” 附近 (位置 {tok.pos + 1})")

    def predicate(self) -> Condition:
        left = self.operand()
        if self.peek("op"):
            op = self.take("op").text
            right = self.operand()
            return lambda row: _compare(op, left(row), right(row))
        if self.peek("kw", "is"):
            self.i += 1
            negate = self.peek("kw", "not")
            self.i += negate
            self.take("kw", "null")
            return lambda row: (left(row) is not None) if negate else (left(row) is None)
        negate = self.peek("kw", "not")
        self.i += negate
        if self.peek("kw", "like"):
            self.i += 1
            pattern = self.operand()
            return _maybe_not(negate, lambda row: _like(left(row), pattern(row)))
        if self.peek("kw", "in"):
            self.i += 1
            self.take("punct", "(")
            items = [self.operand()]
            while self.peek("punct", ","):
                self.i += 1
                items.append(self.operand())
            self.take("punct", ")")
            return _maybe_not(negate, lambda row: _in(left(row), [item(row) for item in items]))
        if self.peek("kw", "between"):
            self.i += 1
            low = self.operand()
            self.take("kw", "and")
            high = self.operand()
            return _maybe_not(
                negate,
                lambda row: _and_values(
                    _compare(">=", left(row), low(row)), _compare("<=", left(row), high(row))
                ),
            )
        tok = self.tokens[self.i] if self.i < len(self.tokens) else None
        where = f"“{tok.text}” (位置 {tok.pos + 1})" if tok else "结尾"
        raise FilterError(f"语法错误：在 {where} 处需要比较运算符")


Condition = Callable[[Row], bool | None]


class _Literal:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, row: Row) -> Any:
        return self.value


def compile_filter(source: str, resolve: Resolver) -> Condition:
    """Parse ``source`` once; the result answers ``True`` for the rows the query returns.

    Raises:
        FilterError: ``source`` does not parse (fields are resolved while parsing, so an
            unknown field raises whatever ``resolve`` raises).
    """
    return _Parser(source or "", resolve).parse()


def _and_values(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _and(parts: list[Condition]) -> Condition:
    def run(row: Row) -> bool | None:
        result: bool | None = True
        for part in parts:
            result = _and_values(result, part(row))
            if result is False:
                return False
        return result

    return run


def _or(parts: list[Condition]) -> Condition:
    def run(row: Row) -> bool | None:
        result: bool | None = False
        for part in parts:
            value = part(row)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return run


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _maybe_not(negate: bool, cond: Condition) -> Condition:
    return (lambda row: _not(cond(row))) if negate else cond


def _coerce(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring ``a`` and ``b`` to one comparable type, SQL Server style."""
    if isinstance(a, datetime) or isinstance(b, datetime):
        return _as_datetime(a), _as_datetime(b)
    if isinstance(a, int | float) or isinstance(b, int | float):
        return _as_number(a), _as_number(b)
    return str(a).rstrip().casefold(), str(b).rstrip().casefold()


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise FilterError(f"从字符串转换日期和/或时间时，转换失败。(“{value}”)")
    return parsed


def _as_number(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise FilterError(f"将 nvarchar 值 “{value}” 转换为数据类型 numeric 时失败。") from None


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    x, y = _coerce(a, b)
    if op == "=":
        return bool(x == y)
    if op in ("<>", "!="):
        return bool(x != y)
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    return bool(x >= y)


def _in(value: Any, items: list[Any]) -> bool | None:
    if value is None:
        return None
    unknown = False
    for item in items:
        result = _compare("=", value, item)
        if result:
            return True
        unknown = unknown or result is None
    return None if unknown else False


def _like(value: Any, pattern: Any) -> bool | None:
    if value is None or pattern is None:
        return None
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M:%S")
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern))
    return re.fullmatch(regex, str(value), re.IGNORECASE | re.DOTALL) is not None
