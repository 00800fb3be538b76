"""JSON functions, printing exactly what MariaDB prints.

JSON values are text (MariaDB's JSON is ``LONGTEXT``). Documents are parsed by a small parser
that keeps each value's source text, because MariaDB prints extracted scalars as written
(``1.50e0`` stays ``1.50e0``, ``"x\\u00e9"`` keeps its escape) while objects and arrays are
re-printed with ``", "`` and ``": "`` (``{"b": [1, 2, 3]}``); ``JSON_QUERY`` returns the source
text unchanged. Paths: ``$``, ``.key``, ``."quoted key"``, ``[n]``, ``[last]``, ``[last-n]``,
``[n to m]``, and the wildcards ``.*``, ``[*]``, ``**`` where MariaDB allows them.

Invalid JSON text or an invalid path is NULL with a warning in MariaDB; here it fails the
record, naming the function and the argument (``JSON_VALID`` answers 0, as MariaDB does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ferry.expr.function._convert import to_str
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, fail, rule
from ferry.expr.function._strings import _as_str, _call, _strings
from ferry.expr.function._types import INT_T, STR_T, Kind, SqlType

__all__ = ["JSON_OPS"]

JSON_OPS = frozenset({"json_object", "json_array", "json_extract", "json_query"})
"""Ops whose result is JSON: embedded as JSON (not as a quoted string) by JSON_OBJECT/ARRAY."""
_BOOLEAN_OPS = frozenset(
    {"eq", "ne", "lt", "le", "gt", "ge", "nseq", "and", "or", "xor", "not", "is", "in", "between"}
    | {"like", "regexp"}
)


class JsonError(ValueError):
    """Invalid JSON text or path."""


@dataclass(slots=True)
class JValue:
    """One parsed value: ``kind`` object/array/string/number/true/false/null, its decoded
    ``value`` (members as (raw key, key, JValue) for an object, JValues for an array) and its
    source text ``raw``."""

    kind: str
    value: Any
    raw: str


_WS = " \t\n\r"
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, what: str) -> JsonError:
        return JsonError(f"{what} at position {self.i}")

    def skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _WS:
            self.i += 1

    def document(self) -> JValue:
        value = self.value()
        self.skip()
        if self.i < len(self.text):
            raise self.error("unexpected text after the JSON value")
        return value

    def value(self) -> JValue:
        self.skip()
        if self.i >= len(self.text):
            raise self.error("unexpected end of JSON text")
        start, ch = self.i, self.text[self.i]
        if ch == "{":
            members = self.members("}", self.member)
            return JValue("object", members, self.text[start : self.i])
        if ch == "[":
            items = self.members("]", self.value)
            return JValue("array", items, self.text[start : self.i])
        if ch == '"':
            return JValue("string", self.string(), self.text[start : self.i])
        return self.literal(start)

    def literal(self, start: int) -> JValue:
        for word in ("true", "false", "null"):
            if self.text.startswith(word, start):
                self.i = start + len(word)
                return JValue(word, None, word)
        match = _NUMBER.match(self.text, start)
        if not match:
            raise self.error("syntax error in JSON text")
        self.i = match.end()
        if self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] == "."):
            raise self.error("syntax error in JSON text")
        return JValue("number", match.group(), match.group())

    def members(self, close: str, item: Any) -> list[Any]:
        self.i += 1
        self.skip()
        found: list[Any] = []
        if self.text.startswith(close, self.i):
            self.i += 1
            return found
        while True:
            found.append(item())
            self.skip()
            if self.i >= len(self.text):
                raise self.error("unexpected end of JSON text")
            if self.text.startswith(",", self.i):
                self.i += 1
            elif self.text.startswith(close, self.i):
                self.i += 1
                return found
            else:
                raise self.error("syntax error in JSON text")

    def member(self) -> tuple[str, str, JValue]:
        self.skip()
        if not self.text.startswith('"', self.i):
            raise self.error("an object key must be a string")
        start = self.i
        key = self.string()
        raw = self.text[start : self.i]
        self.skip()
        if not self.text.startswith(":", self.i):
            raise self.error("syntax error in JSON text: ':' expected")
        self.i += 1
        return raw, key, self.value()

    def string(self) -> str:
        self.i += 1
        out: list[str] = []
        text = self.text
        while True:
            if self.i >= len(text):
                raise self.error("unexpected end of JSON text")
            ch = text[self.i]
            if ch == '"':
                self.i += 1
                return "".join(out)
            if ch < " ":
                raise self.error("character disallowed in JSON")
            if ch == "\\":
                out.append(self.escape())
            else:
                out.append(ch)
                self.i += 1

    def escape(self) -> str:
        self.i += 1
        if self.i >= len(self.text):
            raise self.error("unexpected end of JSON text")
        ch = self.text[self.i]
        self.i += 1
        if ch != "u":
            return _SIMPLE_ESCAPES.get(ch, ch)
        code = self.hex4()
        if 0xD800 <= code < 0xDC00 and self.text.startswith("\\u", self.i):
            self.i += 2
            low = self.hex4()
            return chr(0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00))
        return chr(code)

    def hex4(self) -> int:
        digits = self.text[self.i : self.i + 4]
        if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise self.error("invalid \\u escape in JSON text")
        self.i += 4
        return int(digits, 16)


def parse_json(text: str) -> JValue:
    """The parsed document ``text``.

    Raises:
        JsonError: the text is not valid JSON (as MariaDB's parser judges it).
    """
    return _Parser(text).document()


# -- printing --------------------------------------------------------------------------------------


def render(value: JValue) -> str:
    """A value as JSON_EXTRACT prints it: scalars as written, containers re-spaced."""
    if value.kind == "object":
        return "{" + ", ".join(f"{raw}: {render(v)}" for raw, _, v in value.value) + "}"
    if value.kind == "array":
        return "[" + ", ".join(render(v) for v in value.value) + "]"
    return value.raw


def _escape_char(ch: str) -> str:
    special = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}
    if ch in special:
        return special[ch]
    return f"\\u{ord(ch):04X}" if ch < " " else ch


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def quote(text: str) -> str:
    """``text`` as a JSON string literal, escaped as MariaDB escapes it."""
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _escape_char(m.group()), text) + '"'


# -- paths -----------------------------------------------------------------------------------------

_PATH_STEP = re.compile(
    r"(?:"
    r"\.(?P<star>\*)|\.\"(?P<qkey>(?:[^\"\\]|\\.)*)\"|\.(?P<key>[^.\[\"*]+)"
    r"|\[\s*(?P<any>\*)\s*\]"
    r"|\[\s*(?P<from>last(?:\s*-\s*\d+)?|\d+)(?:\s+to\s+(?P<to>last(?:\s*-\s*\d+)?|\d+))?\s*\]"
    r"|(?P<desc>\*\*)"
    r")"
)


@dataclass(frozen=True, slots=True)
class JPath:
    """A parsed path: its steps and whether any is a wildcard or range."""

    steps: tuple[tuple[str, Any], ...]
    wild: bool


def _index(text: str) -> tuple[bool, int]:
    if text.startswith("last"):
        rest = text[4:].replace(" ", "").lstrip("-")
        return True, int(rest or 0)
    return False, int(text)


def _step(match: re.Match[str]) -> tuple[str, Any]:
    groups = match.groupdict()
    if groups["star"]:
        return "anykey", None
    if groups["qkey"] is not None:
        return "key", parse_json('"' + groups["qkey"] + '"').value
    if groups["key"]:
        return "key", groups["key"]
    if groups["any"]:
        return "anyindex", None
    if groups["desc"]:
        return "desc", None
    start = _index(groups["from"])
    if groups["to"]:
        return "range", (start, _index(groups["to"]))
    return "index", start


def parse_path(text: str) -> JPath:
    """A JSON path (``$.a[0]``).

    Raises:
        JsonError: not a valid path.
    """
    body = text.lstrip()
    if not body.startswith("$"):
        raise JsonError(f"syntax error in JSON path {text!r}: a path starts with $")
    i, steps = 1, []
    while i < len(body):
        match = _PATH_STEP.match(body, i)
        if not match or match.end() == i:
            raise JsonError(f"syntax error in JSON path {text!r} at position {i}")
        steps.append(_step(match))
        i = match.end()
    if steps and steps[-1][0] == "desc":
        raise JsonError(f"syntax error in JSON path {text!r}: ** must be followed by a member or index")
    wild = any(kind in ("anykey", "anyindex", "range", "desc") for kind, _ in steps)
    return JPath(tuple(steps), wild)


def _resolve(size: int, index: tuple[bool, int]) -> int:
    from_last, n = index
    return size - 1 - n if from_last else n


def _children(value: JValue) -> list[JValue]:
    if value.kind == "object":
        return [v for _, _, v in value.value]
    return list(value.value) if value.kind == "array" else []


def _descendants(value: JValue) -> list[JValue]:
    found = [value]
    for child in _children(value):
        found.extend(_descendants(child))
    return found


def _apply(value: JValue, kind: str, arg: Any) -> list[JValue]:
    if kind == "key":
        if value.kind != "object":
            return []
        return [v for _, k, v in value.value if k == arg][:1]
    if kind == "anykey":
        return [v for _, _, v in value.value] if value.kind == "object" else []
    if kind == "anyindex":
        return list(value.value) if value.kind == "array" else []
    return _apply_index(value, kind, arg)


def _apply_index(value: JValue, kind: str, arg: Any) -> list[JValue]:
    items = value.value if value.kind == "array" else [value]  # a scalar is its own [0]
    if kind == "index":
        at = _resolve(len(items), arg)
        return [items[at]] if 0 <= at < len(items) else []
    low, high = (_resolve(len(items), end) for end in arg)
    return list(items[max(low, 0) : high + 1])


def find(value: JValue, path: JPath) -> list[JValue]:
    """Every value ``path`` reaches in ``value``, in document order."""
    current = [value]
    steps = list(path.steps)
    while steps:
        kind, arg = steps.pop(0)
        if kind == "desc":
            kind, arg = steps.pop(0)
            current = [d for v in current for d in _descendants(v)]
        current = [found for v in current for found in _apply(v, kind, arg)]
    return current


# -- argument handling -----------------------------------------------------------------------------


def _doc(text: str, name: str, position: int) -> JValue:
    try:
        return parse_json(text)
    except JsonError as exc:
        raise fail(f"{name}: invalid JSON text in argument {position} ({exc})") from None


def _path(text: str, name: str, position: int, wildcards: bool = True) -> JPath:
    try:
        path = parse_path(text)
    except JsonError as exc:
        raise fail(f"{name}: {exc} in argument {position}") from None
    if path.wild and not wildcards:
        raise fail(f"{name}: wildcards or ranges are not allowed in the path {text!r} (argument {position})")
    return path


def _one(doc: JValue, path: JPath) -> JValue | None:
    found = find(doc, path)
    return found[0] if found else None


def _extract(doc_text: str, *paths: str) -> str | None:
    doc = _doc(doc_text, "JSON_EXTRACT", 1)
    parsed = [_path(p, "JSON_EXTRACT", i) for i, p in enumerate(paths, 2)]
    found = [v for path in parsed for v in find(doc, path)]
    if not found:
        return None
    if len(parsed) == 1 and not parsed[0].wild:
        return render(found[0])
    return "[" + ", ".join(render(v) for v in found) + "]"


def _unquote(text: str) -> str:
    if not text.strip(_WS).startswith('"'):
        return text
    try:
        value = parse_json(text)
    except JsonError:
        return text  # MariaDB returns the text as it is (with a warning)
    return value.value if value.kind == "string" else text


def _value(doc_text: str, path_text: str) -> str | None:
    found = _one(_doc(doc_text, "JSON_VALUE", 1), _path(path_text, "JSON_VALUE", 2, wildcards=False))
    if found is None or found.kind in ("object", "array", "null"):
        return None
    if found.kind == "string":
        return str(found.value)
    return {"true": "1", "false": "0"}.get(found.kind, found.raw)


def _query(doc_text: str, path_text: str) -> str | None:
    found = _one(_doc(doc_text, "JSON_QUERY", 1), _path(path_text, "JSON_QUERY", 2, wildcards=False))
    return found.raw if found is not None and found.kind in ("object", "array") else None


def _length(doc_text: str, path_text: str = "$") -> int | None:
    doc = _doc(doc_text, "JSON_LENGTH", 1)
    found = _one(doc, _path(path_text, "JSON_LENGTH", 2, wildcards=False))
    if found is None:
        return None
    return len(found.value) if found.kind in ("object", "array") else 1


def _depth(doc_text: str) -> int:
    def depth(value: JValue) -> int:
        children = _children(value)
        return 1 + max(map(depth, children)) if children else 1

    return depth(_doc(doc_text, "JSON_DEPTH", 1))


_TYPES = {"object": "OBJECT", "array": "ARRAY", "string": "STRING", "true": "BOOLEAN"}
_TYPES |= {"false": "BOOLEAN", "null": "NULL"}


def _type(doc_text: str) -> str:
    value = _doc(doc_text, "JSON_TYPE", 1)
    if value.kind == "number":
        return "DOUBLE" if "." in value.raw else "INTEGER"
    return _TYPES[value.kind]


def _valid(text: str) -> int:
    try:
        parse_json(text)
    except JsonError:
        return 0
    return 1


def _keys(doc_text: str, path_text: str = "$") -> str | None:
    doc = _doc(doc_text, "JSON_KEYS", 1)
    found = _one(doc, _path(path_text, "JSON_KEYS", 2, wildcards=False))
    if found is None or found.kind != "object":
        return None
    seen: dict[str, str] = {}
    for raw, key, _ in found.value:
        seen.setdefault(key, raw)
    return "[" + ", ".join(seen.values()) + "]"


def _scalar_key(value: JValue) -> Any:
    if value.kind == "number":
        return ("number", Decimal(value.raw.rstrip(".")) if value.raw.endswith(".") else Decimal(value.raw))
    return (value.kind, value.value)


def contains(target: JValue, candidate: JValue) -> bool:
    """MariaDB's JSON_CONTAINS rule for one target and candidate."""
    if target.kind == "array":
        if candidate.kind == "array":
            return all(contains(target, c) for c in candidate.value)
        return any(contains(t, candidate) for t in target.value)
    if target.kind == "object":
        return candidate.kind == "object" and _object_contains(target, candidate)
    if candidate.kind in ("array", "object"):
        return False
    return bool(_scalar_key(target) == _scalar_key(candidate))


def _object_contains(target: JValue, candidate: JValue) -> bool:
    members = {k: v for _, k, v in reversed(target.value)}
    return all(k in members and contains(members[k], v) for _, k, v in candidate.value)


def _contains(doc_text: str, candidate_text: str, path_text: str = "$") -> int:
    doc = _doc(doc_text, "JSON_CONTAINS", 1)
    candidate = _doc(candidate_text, "JSON_CONTAINS", 2)
    found = _one(doc, _path(path_text, "JSON_CONTAINS", 3, wildcards=False))
    return int(found is not None and contains(found, candidate))


def _contains_path(doc_text: str, mode: str, *paths: str) -> int:
    doc = _doc(doc_text, "JSON_CONTAINS_PATH", 1)
    wanted = mode.lower()
    if wanted not in ("one", "all"):
        raise fail(f"JSON_CONTAINS_PATH: argument 2 must be 'one' or 'all' (got {mode!r})")
    hits = (bool(find(doc, _path(p, "JSON_CONTAINS_PATH", i))) for i, p in enumerate(paths, 3))
    return int(any(hits) if wanted == "one" else all(hits))


_COMPUTE: dict[str, tuple[Any, SqlType]] = {
    "json_extract": (_extract, STR_T),
    "json_unquote": (_unquote, STR_T),
    "json_value": (_value, STR_T),
    "json_query": (_query, STR_T),
    "json_length": (_length, INT_T),
    "json_depth": (_depth, INT_T),
    "json_type": (_type, STR_T),
    "json_valid": (_valid, INT_T),
    "json_keys": (_keys, STR_T),
    "json_contains": (_contains, INT_T),
    "json_contains_path": (_contains_path, INT_T),
}


@rule(*_COMPUTE)
def _json_text_rule(node: Node, sx: Specializer) -> Spec:
    compute, t = _COMPUTE[node.op]
    return _call(_strings(sx, node.args), compute), t


@rule("json_quote")
def _json_quote(node: Node, sx: Specializer) -> Spec:
    fn, t = sx.spec(node.args[0])
    if t.kind is not Kind.STR:  # MariaDB quotes strings only; anything else is NULL

        def not_a_string(p: list[Any], e: Env) -> None:
            return None

        return not_a_string, STR_T
    return _call([fn], quote), STR_T


# -- JSON_OBJECT / JSON_ARRAY ----------------------------------------------------------------------


def _is_json(node: Node) -> bool:
    if node.op in JSON_OPS:
        return True
    if node.op == "if":
        return any(_is_json(a) for a in node.args[1:])
    return node.op == "coalesce" and any(_is_json(a) for a in node.args)


def _is_boolean(node: Node) -> bool:
    if node.op == "const":
        return node.src.upper() in ("TRUE", "FALSE")
    return node.op in _BOOLEAN_OPS


def _member(node: Node, sx: Specializer) -> Fn:
    """A closure giving the JSON text of one JSON_OBJECT/JSON_ARRAY value."""
    fn, t = sx.spec(node)
    if _is_json(node):
        return lambda p, e: _or_null(fn(p, e), str)
    if _is_boolean(node):
        return lambda p, e: _or_null(fn(p, e), lambda v: "true" if v else "false")
    if t.kind in (Kind.INT, Kind.DEC, Kind.DBL):
        return lambda p, e: _or_null(fn(p, e), lambda v: to_str(v, t))
    if t.kind is Kind.NULL:
        return lambda p, e: "null"
    return lambda p, e: _or_null(fn(p, e), lambda v: quote(to_str(v, t)))


def _or_null(value: Any, show: Any) -> str:
    return "null" if value is None else show(value)


@rule("json_array")
def _json_array(node: Node, sx: Specializer) -> Spec:
    members = [_member(n, sx) for n in node.args]

    def json_array(p: list[Any], e: Env) -> str:
        return "[" + ", ".join(m(p, e) for m in members) + "]"

    return json_array, STR_T


@rule("json_object")
def _json_object(node: Node, sx: Specializer) -> Spec:
    keys = [_as_str(*sx.spec(n)) for n in node.args[::2]]
    values = [_member(n, sx) for n in node.args[1::2]]
    pairs = list(zip(keys, values, strict=True))

    def json_object(p: list[Any], e: Env) -> str:
        parts = (f"{quote(k(p, e) or '')}: {v(p, e)}" for k, v in pairs)
        return "{" + ", ".join(parts) + "}"

    return json_object, STR_T
