"""Registration of the string, regular-expression, hash and JSON functions.

:data:`LIBRARY_FUNCTIONS` is merged into the function table; :data:`SYNTAX_BUILDERS` builds
the calls that sqlglot parses into their own node types (``CHAR(.. USING ..)``,
``JSON_OBJECT``, ``a REGEXP b``) and checks constant regular expressions
while compiling, so that a bad pattern is a validation error with a column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlglot import exp

from ferry.expr.function import _hashes, _json, _regexp, _strings_more  # noqa: F401 - register rules
from ferry.expr.function._nodes import Node
from ferry.expr.function._regexp import check_pattern

if TYPE_CHECKING:
    from ferry.expr.function._compile import _Builder

__all__ = ["LIBRARY_FUNCTIONS", "SYNTAX_BUILDERS", "check_call"]

LIBRARY_FUNCTIONS: dict[str, tuple[str, int, int | None]] = {
    "SUBSTRING_INDEX": ("substring_index", 3, 3),
    "REPEAT": ("repeat", 2, 2),
    "REVERSE": ("reverse", 1, 1),
    "FIELD": ("field", 2, None),
    "ELT": ("elt", 2, None),
    "FORMAT": ("format", 2, 3),
    "HEX": ("hex", 1, 1),
    "UNHEX": ("unhex", 1, 1),
    "STRCMP": ("strcmp", 2, 2),
    "INSERT": ("insert", 4, 4),
    "SPACE": ("space", 1, 1),
    "SOUNDEX": ("soundex", 1, 1),
    "ASCII": ("ascii", 1, 1),
    "ORD": ("ord", 1, 1),
    "CHAR": ("char", 1, None),
    "CHR": ("char", 1, 1),
    "BIN": ("bin", 1, 1),
    "OCT": ("oct", 1, 1),
    "FIND_IN_SET": ("find_in_set", 2, 2),
    "QUOTE": ("quote", 1, 1),
    "TO_BASE64": ("to_base64", 1, 1),
    "FROM_BASE64": ("from_base64", 1, 1),
    "BIT_LENGTH": ("bit_length", 1, 1),
    "LENGTHB": ("length", 1, 1),
    "MAKE_SET": ("make_set", 2, None),
    "EXPORT_SET": ("export_set", 3, 5),
    "REGEXP_REPLACE": ("regexp_replace", 3, 3),
    "REGEXP_SUBSTR": ("regexp_substr", 2, 2),
    "REGEXP_INSTR": ("regexp_instr", 2, 2),
    "MD5": ("md5", 1, 1),
    "SHA1": ("sha1", 1, 1),
    "SHA": ("sha1", 1, 1),
    "SHA2": ("sha2", 2, 2),
    "CRC32": ("crc32", 1, 2),
    "CRC32C": ("crc32c", 1, 2),
    "JSON_EXTRACT": ("json_extract", 2, None),
    "JSON_UNQUOTE": ("json_unquote", 1, 1),
    "JSON_VALUE": ("json_value", 2, 2),
    "JSON_QUERY": ("json_query", 2, 2),
    "JSON_LENGTH": ("json_length", 1, 2),
    "JSON_CONTAINS": ("json_contains", 2, 3),
    "JSON_CONTAINS_PATH": ("json_contains_path", 3, None),
    "JSON_KEYS": ("json_keys", 1, 2),
    "JSON_OBJECT": ("json_object", 0, None),
    "JSON_ARRAY": ("json_array", 0, None),
    "JSON_QUOTE": ("json_quote", 1, 1),
    "JSON_VALID": ("json_valid", 1, 1),
    "JSON_TYPE": ("json_type", 1, 1),
    "JSON_DEPTH": ("json_depth", 1, 1),
}
"""Function name → (node op, minimum and maximum argument count)."""

_REGEXP_OPS = frozenset({"regexp", "regexp_replace", "regexp_substr", "regexp_instr"})


def check_call(b: _Builder, node: Node, at: exp.Expression) -> Node:
    """``node`` after the compile-time checks of its op (a constant pattern must compile)."""
    if node.op in _REGEXP_OPS:
        problem = check_pattern(node.args[1])
        if problem:
            raise b.error(problem, at)
    return node


def _char(b: _Builder, e: exp.Expression) -> Node:
    charset = e.args.get("charset")
    if isinstance(charset, exp.Expression) and charset.name.lower() not in ("utf8mb4", "utf8", "utf8mb3"):
        raise b.error(f"CHAR(... USING {charset.name}) is not supported; use USING utf8mb4", e)
    return b.node("char", [b.build(a) for a in e.expressions], None, e)


def _json_object(b: _Builder, e: exp.Expression) -> Node:
    args: list[Node] = []
    for pair in e.expressions:
        if not isinstance(pair, exp.JSONKeyValue):
            raise b.error("JSON_OBJECT takes key, value pairs", e)
        args += [b.build(pair.this), b.build(pair.expression)]
    return b.node("json_object", args, None, e)


def _regexp_like(b: _Builder, e: exp.Expression) -> Node:
    node = b.node("regexp", [b.build(e.this), b.build(e.expression)], None, e)
    return check_call(b, node, e)


SYNTAX_BUILDERS: dict[type[exp.Expression], Callable[[_Builder, exp.Expression], Node]] = {
    exp.Chr: _char,
    exp.JSONObject: _json_object,
    exp.RegexpLike: _regexp_like,
}
"""sqlglot node type → the builder of its Node (calls sqlglot does not leave anonymous)."""
