"""String functions, with MariaDB's edge cases.

Positions and lengths count characters (``SUBSTRING('中文字符串', 2, 2)`` is ``'文字'``);
``LENGTH`` counts UTF-8 bytes and ``CHAR_LENGTH`` characters. ``LOCATE``/``INSTR``/
``POSITION`` search case-insensitively (the collation), ``REPLACE`` and ``TRIM`` match exact
text. Numbers passed to string functions print as MariaDB prints them (``CONCAT(1.50)`` is
``'1.50'``).
"""

from __future__ import annotations

from typing import Any

from ferry.expr.function._compare import ci
from ferry.expr.function._convert import to_int, to_str
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, fail, rule
from ferry.expr.function._types import INT_T, STR_T, Kind, SqlType


class _Case(dict[int, str]):
    def __init__(self, upper: bool) -> None:
        super().__init__()
        self.upper = upper

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        mapped = ch.upper() if self.upper else ch.lower()
        result = mapped if len(mapped) == 1 and code <= 0xFFFF else ch
        self[code] = result
        return result


_UPPER, _LOWER = _Case(upper=True), _Case(upper=False)


def _as_str(fn: Fn, t: SqlType) -> Fn:
    if t.kind is Kind.STR:
        return fn

    def text(p: list[Any], e: Env) -> str | None:
        value = fn(p, e)
        return None if value is None else to_str(value, t)

    return text


def _as_int(fn: Fn, t: SqlType) -> Fn:
    if t.kind is Kind.INT:
        return fn

    def number(p: list[Any], e: Env) -> int | None:
        value = fn(p, e)
        return None if value is None else to_int(value, t)

    return number


def _strings(sx: Specializer, nodes: tuple[Node, ...]) -> list[Fn]:
    return [_as_str(*sx.spec(n)) for n in nodes]


@rule("concat")
def _concat(node: Node, sx: Specializer) -> Spec:
    fns = _strings(sx, node.args)

    def concat(p: list[Any], e: Env) -> str | None:
        parts = []
        for fn in fns:
            value = fn(p, e)
            if value is None:
                return None
            parts.append(value)
        return "".join(parts)

    return concat, STR_T


@rule("concat_ws")
def _concat_ws(node: Node, sx: Specializer) -> Spec:
    sep_fn, *fns = _strings(sx, node.args)

    def concat_ws(p: list[Any], e: Env) -> str | None:
        sep = sep_fn(p, e)
        if sep is None:
            return None
        values = (fn(p, e) for fn in fns)
        return sep.join(v for v in values if v is not None)

    return concat_ws, STR_T


def _call(fns: list[Fn], compute: Any) -> Fn:
    """A closure that evaluates ``fns``, returns NULL if any is NULL, else ``compute(*args)``."""
    if len(fns) == 1:
        (a_fn,) = fns

        def one(p: list[Any], e: Env) -> Any:
            a = a_fn(p, e)
            return None if a is None else compute(a)

        return one

    def many(p: list[Any], e: Env) -> Any:
        args = []
        for fn in fns:
            value = fn(p, e)
            if value is None:
                return None
            args.append(value)
        return compute(*args)

    return many


def _text_and_ints(sx: Specializer, node: Node) -> list[Fn]:
    first = _as_str(*sx.spec(node.args[0]))
    return [first, *(_as_int(*sx.spec(n)) for n in node.args[1:])]


def _substring(text: str, pos: int, length: int | None = None) -> str:
    if pos == 0 or (pos > 0 and pos > len(text)) or (pos < 0 and -pos > len(text)):
        return ""
    start = pos - 1 if pos > 0 else len(text) + pos
    if length is None:
        return text[start:]
    return text[start : start + length] if length > 0 else ""


@rule("substring")
def _substring_rule(node: Node, sx: Specializer) -> Spec:
    return _call(_text_and_ints(sx, node), _substring), STR_T


@rule("left", "right")
def _left_right(node: Node, sx: Specializer) -> Spec:
    if node.op == "left":
        return _call(_text_and_ints(sx, node), lambda s, n: s[:n] if n > 0 else ""), STR_T
    return _call(_text_and_ints(sx, node), lambda s, n: (s[-n:] if n < len(s) else s) if n > 0 else ""), STR_T


def _locate(sub: str, text: str, pos: int | None = None) -> int:
    start = 0
    if pos is not None:
        if pos <= 0 or pos > len(text) or pos - 1 + len(sub) > len(text):
            return 0
        start = pos - 1
    if not sub:
        return start + 1
    return ci(text).find(ci(sub), start) + 1


@rule("locate")
def _locate_rule(node: Node, sx: Specializer) -> Spec:
    """args: substring, string[, start]."""
    fns = [*_strings(sx, node.args[:2]), *(_as_int(*sx.spec(n)) for n in node.args[2:])]
    return _call(fns, _locate), INT_T


def _trim(text: str, remove: str, where: str) -> str:
    if not remove:
        return text
    size = len(remove)
    if where in ("both", "leading"):
        while text.startswith(remove):
            text = text[size:]
    if where in ("both", "trailing"):
        while text.endswith(remove):
            text = text[:-size]
    return text


@rule("trim")
def _trim_rule(node: Node, sx: Specializer) -> Spec:
    """``data``: both/leading/trailing; args: string[, remove]."""
    where = node.data
    fns = _strings(sx, node.args)
    if len(fns) == 1:
        return _call(fns, lambda s: _trim(s, " ", where)), STR_T
    return _call(fns, lambda s, r: _trim(s, r, where)), STR_T


@rule("upper", "lower")
def _case(node: Node, sx: Specializer) -> Spec:
    table = _UPPER if node.op == "upper" else _LOWER
    return _call(_strings(sx, node.args), lambda s: s.translate(table)), STR_T


@rule("length", "char_length")
def _length(node: Node, sx: Specializer) -> Spec:
    if node.op == "length":
        return _call(_strings(sx, node.args), lambda s: len(s.encode("utf-8", "surrogatepass"))), INT_T
    return _call(_strings(sx, node.args), len), INT_T


@rule("replace")
def _replace(node: Node, sx: Specializer) -> Spec:
    return _call(_strings(sx, node.args), lambda s, old, new: s.replace(old, new) if old else s), STR_T


_MAX_RESULT = 16 * 1024 * 1024
"""MariaDB's default ``max_allowed_packet``: longer results are refused."""


def _pad(text: str, size: int, fill: str, left: bool) -> str | None:
    if size < 0:
        return None
    if size > _MAX_RESULT:
        raise fail(f"LPAD/RPAD result of {size} characters is larger than max_allowed_packet")
    if len(text) >= size:
        return text[:size]
    if not fill:
        return None
    need = size - len(text)
    padding = (fill * (need // len(fill) + 1))[:need]
    return padding + text if left else text + padding


@rule("lpad", "rpad")
def _pad_rule(node: Node, sx: Specializer) -> Spec:
    text_fn, size_fn = _text_and_ints(sx, node)[:2]
    fill_fn = _as_str(*sx.spec(node.args[2]))
    left = node.op == "lpad"
    return _call([text_fn, size_fn, fill_fn], lambda s, n, f: _pad(s, n, f, left)), STR_T
