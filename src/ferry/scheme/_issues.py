"""Turning pydantic validation errors into :class:`~ferry.errors.Issue` objects in the user's words.

Paths are written the way the user reads the file: ``source.request[3].children[1].value``,
``window.step``, ``settings.retry[1]``. Pydantic's union-branch tags (``str``,
``dict[str,any]``) are dropped, ``Value error, `` prefixes are removed, ``Input should be`` reads
``must be``, and every issue gets a hint: the known keys for a typo, the allowed values for a
literal, or the field's own description.

:func:`validate_collecting` keeps validating after the first failure: it repairs the copy of the
data at every failing location (drops the bad key so the default applies, or fills a placeholder)
and validates again, so errors hidden behind a model-level failure are reported too, and the
caller gets a best-effort model on which semantic checks can still run.
"""

from __future__ import annotations

import copy
import difflib
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ferry.errors import Issue

__all__ = ["join_path", "pydantic_issues", "validate_collecting"]

M = TypeVar("M", bound=BaseModel)

_TAG_CHARS = ("[", "(")
_TAG_NAMES = frozenset({"str", "int", "float", "bool", "dict", "list", "none", "any"})
_PLACEHOLDERS: dict[str, Any] = {
    "field": "?",
    "logic": "eq",
    "api": "?",
    "id": "?",
    "name": "?",
    "connection": "?",
    "metadata": {},
    "source": {"connection": "?", "metadata": {}},
    "target": {"connection": "?", "metadata": {}},
}
_HINTS: dict[str, str] = {
    "page_size": "write a positive page size such as page_size: 100, or remove it to use the connector's default",
    "batch_size": "write a positive number of records per deliver batch, e.g. batch_size: 500",
    "rows": "write how many records go into one call, e.g. rows: 1 (at most 10000)",
    "retry": "write a list of waits such as retry: [20s, 5m, 1h]",
    "step": "write a duration such as step: 1d, 6h or 30m",
    "lookback": "write a duration such as lookback: 10m (or 0)",
    "lag": "write a duration such as lag: 1m (or 0)",
    "max_span": "write a duration such as max_span: 7d",
    "timezone": "write an IANA zone name such as Asia/Shanghai",
    "effect": 'write "effect": "QUERY" for a source or "EXECUTE" for a target',
}


def join_path(prefix: str, loc: tuple[Any, ...] | list[Any]) -> str:
    """``join_path("source", ("request", 3, "value"))`` -> ``"source.request[3].value"``."""
    out = prefix
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += f".{item}" if out else str(item)
    return out


def _is_tag(item: Any) -> bool:
    if not isinstance(item, str):
        return False
    return any(c in item for c in _TAG_CHARS) or item in _TAG_NAMES


def clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch tags from ``loc``."""
    return tuple(item for item in loc if not _is_tag(item))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _field_info(
    model: type[BaseModel], loc: tuple[Any, ...]
) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """Walk ``loc`` through ``model``; return the model holding the last key and its FieldInfo."""
    current: type[BaseModel] | None = model
    info: FieldInfo | None = None
    holder: type[BaseModel] | None = model
    for item in loc:
        if isinstance(item, int):
            continue
        if current is None:
            return None, None
        holder = current
        info = _lookup(current, item)
        if info is None:
            return holder, None
        models = _models_in(info.annotation)
        current = models[0] if models else None
    return holder, info


def _lookup(model: type[BaseModel], name: str) -> FieldInfo | None:
    if name in model.model_fields:
        return model.model_fields[name]
    for info in model.model_fields.values():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None) or ([alias] if isinstance(alias, str) else [])
        if name in choices:
            return info
    return None


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if not info.exclude]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _convert(error: Any, model: type[BaseModel], prefix: str) -> Issue:
    loc = clean_loc(tuple(error["loc"]))
    kind = error["type"]
    msg: str = error["msg"]
    got = error.get("input")
    key = loc[-1] if loc and isinstance(loc[-1], str) else None
    holder, info = _field_info(model, loc)
    description = info.description if info is not None else None
    hint = _HINTS.get(key) if key else None
    path = join_path(prefix, loc)

    if kind == "missing":
        what = f"; it holds: {description}" if description else ""
        return Issue(path, "required key is missing", None, hint or f"add `{key}`{what}")
    if kind == "extra_forbidden":
        known = _known_keys(holder) if holder is not None and info is None else []
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        text = f"did you mean `{close[0]}`? " if close else ""
        return Issue(path, f"unknown key {key!r}", None, f"{text}known keys here: {', '.join(known)}")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return Issue(path, f"must be one of {expected}", got, hint or f"write one of {expected}")
    if kind in ("value_error", "assertion_error"):
        text = msg.split(", ", 1)[1] if msg.startswith(("Value error, ", "Assertion failed, ")) else msg
        text, _, tail = text.partition("; ")
        if isinstance(got, list) and text.startswith("invalid duration "):
            bad = next((i for i, v in enumerate(got) if repr(v) in text), None)
            if bad is not None:
                path += f"[{bad}]"
        return Issue(path, text, None, tail or hint or _describe(description))
    if kind in ("model_type", "model_attributes_type", "dict_type") and info is not None:
        models = _models_in(info.annotation)
        if models:
            keys = ", ".join(_known_keys(models[0]))
            return Issue(
                path, "must be a mapping", got if _scalar(got) else None, f"write a mapping with keys: {keys}"
            )
    if msg.startswith("Input should be "):
        msg = "must be " + msg[len("Input should be ") :]
    return Issue(
        path, msg, got if _scalar(got) or isinstance(got, list) else None, hint or _describe(description)
    )


def _describe(description: str | None) -> str:
    if description:
        return f"expected: {description}"
    return "see `ferry schema` for the keys and values allowed here"


def pydantic_issues(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[Issue]:
    """Every error of ``exc`` as an Issue located under ``prefix``; union branches merged."""
    merged: dict[str, Issue] = {}
    for error in exc.errors(include_url=False):
        issue = _convert(error, model, prefix)
        seen = merged.get(issue.path)
        if seen is None:
            merged[issue.path] = issue
        elif issue.message not in seen.message:
            merged[issue.path] = Issue(
                seen.path, f"{seen.message} or {_tail(issue.message)}", seen.got, seen.hint
            )
    return list(merged.values())


def _tail(message: str) -> str:
    return message[len("must be ") :] if message.startswith("must be ") else message


def _repair(data: Any, errors: list[Any]) -> bool:
    """Mend ``data`` in place at each error location; return whether anything changed."""
    changed = False
    for error in errors:
        loc = clean_loc(tuple(error["loc"]))
        if not loc:
            if isinstance(data, dict) and "effect" in data and "type" in data:
                del data["type"]
                changed = True
            continue
        parent: Any = data
        for item in loc[:-1]:
            try:
                parent = parent[item]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        last = loc[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            if error["type"] == "missing":
                if last in _PLACEHOLDERS and parent.get(last) != _PLACEHOLDERS[last]:
                    parent[last] = copy.deepcopy(_PLACEHOLDERS[last])
                    changed = True
            elif last in parent:
                del parent[last]
                changed = True
        elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            replacement: Any = [] if error["type"] == "list_type" else {"field": f"?{last}", "logic": "eq"}
            if parent[last] != replacement:
                parent[last] = replacement
                changed = True
    return changed


def validate_collecting(
    model: type[M], data: Any, prefix: str = "", *, rounds: int = 6
) -> tuple[M | None, list[Issue]]:
    """Validate ``data`` as ``model`` and report every error, not only the first layer.

    Returns:
        ``(instance, issues)``. With no issues the instance is the validated model. With issues
        it is a best-effort instance built from a repaired copy (``None`` if repair failed);
        use it only for further checks, never to run.
    """
    issues: list[Issue] = []
    seen: set[str] = set()
    work = copy.deepcopy(data)
    for _ in range(rounds):
        try:
            return model.model_validate(work), issues
        except ValidationError as exc:
            for issue in pydantic_issues(exc, model, prefix):
                if issue.path not in seen:
                    seen.add(issue.path)
                    issues.append(issue)
            if not isinstance(work, dict) or not _repair(work, exc.errors(include_url=False)):
                return None, issues
    return None, issues
