"""The value language: templates, variables, formatters, lookups and parsers.

Compile each scheme value once with :func:`compile_value`, evaluate it per record with an
:class:`EvalContext`::

    cv = compile_value("{{platform_id}}-{{shop_no}}", path="request[3].value")
    cv.evaluate(EvalContext(row={"platform_id": 7, "shop_no": "S1"}))   # -> "7-S1"
"""

from ferry.expr.context import DEFAULT_TZ, EvalContext
from ferry.expr.formatters import FORMATTERS
from ferry.expr.index import InMemoryLookups
from ferry.expr.lookup import LookupProvider
from ferry.expr.parsers import PARSERS, get_parser
from ferry.expr.value import CompiledValue, compile_value, located_error

__all__ = [
    "DEFAULT_TZ",
    "FORMATTERS",
    "PARSERS",
    "CompiledValue",
    "EvalContext",
    "InMemoryLookups",
    "LookupProvider",
    "compile_value",
    "get_parser",
    "located_error",
]
