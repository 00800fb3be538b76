"""Value parsers (``"parser": {"name": "ConvertObjectParser", "params": "FNumber"}``).

A parser is applied to a field's evaluated value, after the expression:

============================  ====================================================================
``ConvertObjectParser``       ``v`` -> ``{params: v}`` (Kingdee ``{"FNumber": v}``); ``None``/"" stay ``None``
``ConvertTwoStageObjectParser`` ``v`` -> ``{params1: {params2: v}}``; ``None``/"" stay ``None``
``ArrayToString``             join a list with ``params`` (default ``,``); strings pass through
``StringToArray``             split on ``params`` (default ``,``); ``None``/"" -> ``[]``
``ConvertJson``               ``{"1033": "x"}`` -> ``[{"Key": 1033, "Value": "x"}]`` (JSON text accepted)
``K3WiseHeiHuCustomParser``   ``v`` -> ``[{"keyName": params, "keyValue": v}]``
============================  ====================================================================

Names match exactly or case-insensitively. An unknown name or missing required parameter is a
:class:`~ferry.errors.ConfigError`; a value a parser cannot handle fails the record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ferry.errors import ConfigError, RecordError
from ferry.expr.template import to_text

__all__ = ["PARSERS", "Parser", "get_parser"]

Parser = Callable[[Any], Any]


def _required(name: str, params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if value is None or value == "":
        raise ConfigError(f"parser {name} needs {key!r} (e.g. {{'name': {name!r}, {key!r}: 'FNumber'}})")
    return str(value)


def _convert_object(params: Mapping[str, Any]) -> Parser:
    key = _required("ConvertObjectParser", params, "params")
    return lambda v: None if v is None or v == "" else {key: v}


def _convert_two_stage(params: Mapping[str, Any]) -> Parser:
    outer = _required("ConvertTwoStageObjectParser", params, "params1")
    inner = _required("ConvertTwoStageObjectParser", params, "params2")
    return lambda v: None if v is None or v == "" else {outer: {inner: v}}


def _separator(params: Mapping[str, Any]) -> str:
    sep = params.get("params")
    return "," if sep is None or sep == "" else str(sep)


def _array_to_string(params: Mapping[str, Any]) -> Parser:
    sep = _separator(params)

    def parse(v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, list | tuple):
            return sep.join(to_text(x) for x in v)
        return to_text(v)

    return parse


def _string_to_array(params: Mapping[str, Any]) -> Parser:
    sep = _separator(params)

    def parse(v: Any) -> Any:
        if v is None or v == "":
            return []
        if isinstance(v, list):
            return v
        return to_text(v).split(sep)

    return parse


def _json_key(key: Any) -> Any:
    text = str(key)
    return int(text) if text.lstrip("-").isdigit() else key


def _convert_json(params: Mapping[str, Any]) -> Parser:
    def parse(v: Any) -> Any:
        if v is None or v == "":
            return None
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError as exc:
                raise RecordError(f"ConvertJson: value is not JSON ({exc.msg}): {v[:60]!r}") from None
        if isinstance(v, list):
            return v
        if not isinstance(v, Mapping):
            raise RecordError(f"ConvertJson: expected an object like {{'1033': 'x'}}, got {type(v).__name__}")
        return [{"Key": _json_key(k), "Value": val} for k, val in v.items()]

    return parse


def _k3wise_custom(params: Mapping[str, Any]) -> Parser:
    key = _required("K3WiseHeiHuCustomParser", params, "params")
    return lambda v: [{"keyName": key, "keyValue": v}]


PARSERS: dict[str, Callable[[Mapping[str, Any]], Parser]] = {
    "ArrayToString": _array_to_string,
    "ConvertJson": _convert_json,
    "ConvertObjectParser": _convert_object,
    "ConvertTwoStageObjectParser": _convert_two_stage,
    "K3WiseHeiHuCustomParser": _k3wise_custom,
    "StringToArray": _string_to_array,
}
"""Parser factories by canonical name."""

_BY_LOWER = {name.lower(): name for name in PARSERS}


def get_parser(name: str, params: Mapping[str, Any] | None = None) -> Parser:
    """Build the parser ``name`` from the field's ``parser`` dict (``params``/``params1``/``params2``).

    Raises:
        ConfigError: unknown parser name (the message lists the known ones) or missing parameter.
    """
    canonical = name if name in PARSERS else _BY_LOWER.get(str(name).strip().lower())
    if canonical is None:
        raise ConfigError(f"unknown parser {name!r}; known: {', '.join(sorted(PARSERS))}")
    given = params or {}
    if not isinstance(given, Mapping):
        given = {"params": given}
    return PARSERS[canonical](given)
