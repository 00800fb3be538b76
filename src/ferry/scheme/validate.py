"""Semantic checks that run after the models parse: everything a run would trip over later.

:func:`validate_scheme` returns every :class:`~ferry.errors.Issue` found in a loaded scheme,
:func:`validate_metadata` those of one metadata document. Each issue names the path in the
user's words, what is wrong and what to write instead::

    target.request[3].children[1].value: unknown function FOO in _function expression (col 12)
      hint: ...

Checked: value expressions compile (templates, formatters, ``_function``, lookups, with
``settings.lookup_scheme`` as the default for ``_mongoQuery``); parser names and parameters;
duplicate field names; ``parent`` links; target arrays whose source array cannot be inferred;
the source ``id``, ``beatFlat`` names, ``condition`` values and ``otherResponse`` items; crontabs; ``operation``; the
retry ladder and window durations; the ``quality`` rules; MySQL ``batchexecute``/``execute`` statements. Connection
names are checked by the loader, which holds the connections. Once nothing is found, the loader
compiles the scheme's plan from the values checked here (:func:`plan_issues`): the values are
compiled once, and whatever the plan still refuses is reported the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from croniter import croniter

from ferry.errors import ConfigError, ExpressionError, Issue
from ferry.expr.valuemap import value_maps
from ferry.scheme._field_checks import FieldContext, check_fields, expression_issue
from ferry.scheme._response import layout_issues
from ferry.scheme._sql_checks import check_sql_target
from ferry.scheme.metadata import ConditionRule, Metadata, SourceMetadata, TargetMetadata
from ferry.scheme.model import Scheme

__all__ = ["check_crontab", "plan_issues", "validate_metadata", "validate_scheme"]

_NAME = re.compile(r"^[^\W\d]\w*(?:\.\w+)*$")
_VALUE_FREE = frozenset({"notnull", "isnull"})
_CRON_HINT = (
    "write 5 fields: minute hour day-of-month month day-of-week, e.g. '2 */2 * * *' (every 2 hours at :02)"
)


def check_crontab(expr: str | None, path: str) -> list[Issue]:
    """An issue unless ``expr`` is a valid 5-field crontab (or an ``@hourly``-style macro)."""
    if expr is None:
        return []
    text = expr.strip()
    fields = text.split()
    valid = bool(text) and croniter.is_valid(text) and (len(fields) == 5 or text.startswith("@"))
    if valid:
        return []
    detail = f" ({len(fields)} fields)" if text and len(fields) != 5 and not text.startswith("@") else ""
    return [Issue(path, f"invalid crontab{detail}", expr, _CRON_HINT)]


def _condition_issue(rule: ConditionRule, path: str) -> Issue | None:
    value = rule.value
    if not str(rule.field).strip():
        return Issue(
            f"{path}.field", "condition has no field", None, "name the record field to test, e.g. items.qty"
        )
    if rule.logic == "between":
        parts = value if isinstance(value, list) else str(value).split(",") if value is not None else []
        if len(parts) != 2 or any(str(p).strip() == "" for p in parts):
            return Issue(
                f"{path}.value",
                'between needs two bounds written as "low,high"',
                value,
                'write e.g. "value": "100,500"',
            )
    elif rule.logic in ("in", "notin"):
        empty = value is None or (
            isinstance(value, str | list) and not [v for v in _as_list(value) if str(v).strip()]
        )
        if empty:
            return Issue(
                f"{path}.value",
                f"{rule.logic} needs a list of values",
                value,
                'write e.g. "value": "95,105,110" or "value": ["95", "105"]',
            )
    elif rule.logic not in _VALUE_FREE and value is None:
        return Issue(
            f"{path}.value",
            f"{rule.logic} needs a value",
            None,
            'write "value": ... (use "" to compare with an empty string), or use isnull/notnull',
        )
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else str(value).split(",")


def _check_source(meta: SourceMetadata, p: str, ctx: FieldContext) -> list[Issue]:
    issues: list[Issue] = []
    if not (meta.id or "").strip():
        issues.append(
            Issue(
                f"{p}.id",
                "source metadata has no id",
                None,
                'name the field that identifies each record uniquely, e.g. "id": "io_id" (dotted paths allowed)',
            )
        )
    for i, name in enumerate(meta.beatFlat):
        if not isinstance(name, str) or not _NAME.match(name):
            issues.append(
                Issue(
                    f"{p}.beatFlat[{i}]",
                    "beatFlat names an array field of the record",
                    name,
                    'write the array key without braces, e.g. "beatFlat": ["items"]',
                )
            )
    for g, group in enumerate(meta.condition):
        for r, rule in enumerate(group):
            issue = _condition_issue(rule, f"{p}.condition[{g}][{r}]")
            if issue is not None:
                issues.append(issue)
    issues += layout_issues(meta, p)
    remedy = meta.omissionRemedy
    if remedy is not None:
        issues += check_crontab(remedy.crontab, f"{p}.omissionRemedy.crontab")
        issues += check_fields(remedy.takeOverRequest, f"{p}.omissionRemedy.takeOverRequest", ctx)
    size = (meta.pagination or {}).get("pageSize", (meta.pagination or {}).get("page_size"))
    if size is not None and not (str(size).strip().isdigit() and int(str(size)) > 0):
        issues.append(
            Issue(
                f"{p}.pagination.pageSize",
                "page size must be a positive whole number",
                size,
                'write e.g. "pageSize": 50',
            )
        )
    return issues


def _check_operation(meta: Metadata, p: str) -> list[Issue]:
    op = meta.operation
    if op is None:
        return []
    if op.method == "merge" and not op.keys:
        return [
            Issue(
                f"{p}.operation.keys",
                "merge needs the header keys that identify one merged document",
                None,
                'write e.g. "operation": {"method": "merge", "keys": ["io_id"], "bodyName": "Entry"}',
            )
        ]
    if op.method == "none" and op.rows > 1:
        return [
            Issue(
                f"{p}.operation.rows",
                f"rows {op.rows} has no effect with method none (one record per call)",
                None,
                'write "method": "batchArraySave" to send several records per call, or remove rows',
            )
        ]
    return []


def validate_metadata(
    meta: SourceMetadata | TargetMetadata,
    side: str,
    *,
    lookup_scheme: str | None = None,
    prefix: str | None = None,
    compiled: dict[str, Any] | None = None,
) -> list[Issue]:
    """Semantic issues of one metadata document, located under ``prefix`` (default: ``side``).

    Args:
        meta: the parsed metadata.
        side: ``"source"`` or ``"target"``.
        lookup_scheme: default scheme id for ``_mongoQuery`` without one (``settings.lookup_scheme``).
        prefix: path prefix of the issues.
        compiled: compiled values by path (compiled with ``lookup_scheme``): a value found there
            is not compiled again, and every value compiled is added.
    """
    p = prefix if prefix is not None else side
    ctx = FieldContext(side=side, lookup_scheme=lookup_scheme, compiled={} if compiled is None else compiled)
    issues: list[Issue] = []
    for name in ("request", "otherRequest"):
        issues += check_fields(getattr(meta, name), f"{p}.{name}", ctx)
    if isinstance(meta, SourceMetadata):
        issues += _check_source(meta, p, ctx)
    else:
        issues += check_sql_target(meta, p)
        issues += _check_operation(meta, p)
    return issues


def _short(delta: timedelta) -> str:
    """``timedelta(minutes=5)`` -> ``"5m"`` (the way the scheme writes it)."""
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _check_ladder(scheme: Scheme) -> list[Issue]:
    retry = scheme.settings.retry
    if not retry:
        return [
            Issue(
                "settings.retry",
                "retry ladder is empty",
                None,
                "list at least one wait, e.g. retry: [20s, 5m, 1h]; after the last attempt a record is dead",
            )
        ]
    issues = []
    for i, wait in enumerate(retry):
        if wait <= timedelta(0):
            issues.append(
                Issue(
                    f"settings.retry[{i}]",
                    "retry wait must be positive",
                    _short(wait),
                    "write e.g. 20s or 5m",
                )
            )
        elif i and wait < retry[i - 1]:
            issues.append(
                Issue(
                    f"settings.retry[{i}]",
                    f"retry waits must not shrink: {_short(wait)} comes after {_short(retry[i - 1])}",
                    None,
                    "order the ladder from the shortest to the longest wait, e.g. [20s, 5m, 1h, 4h, 20h]",
                )
            )
    return issues


def _check_window(scheme: Scheme) -> list[Issue]:
    w = scheme.window
    issues = [
        Issue(f"window.{name}", "must not be negative", _short(value), f"write e.g. {name}: 10m, or 0")
        for name, value in (("lookback", w.lookback), ("lag", w.lag))
        if value < timedelta(0)
    ]
    if w.max_span is not None and w.max_span <= timedelta(0):
        issues.append(
            Issue("window.max_span", "must be positive", _short(w.max_span), "write e.g. max_span: 7d")
        )
    return issues


def validate_scheme(scheme: Scheme, *, compiled: dict[str, Any] | None = None) -> list[Issue]:
    """Every semantic issue of a loaded scheme (metadata that failed to load is skipped).

    ``compiled`` maps value paths to compiled values (``settings.lookup_scheme`` the default of
    ``_mongoQuery``), such as a plan's :attr:`~ferry.transform.plan.Plan.values`: a value found
    there is not compiled again, and every value the checks compile is added, for
    :func:`plan_issues` to build the plan from.
    """
    with value_maps(scheme.value_maps):  # what `_map` values resolve their tables against
        return _validate_scheme(scheme, compiled)


def _validate_scheme(scheme: Scheme, compiled: dict[str, Any] | None) -> list[Issue]:
    issues: list[Issue] = []
    lookup = scheme.settings.lookup_scheme
    if scheme.source_meta is not None:
        issues += validate_metadata(scheme.source_meta, "source", lookup_scheme=lookup, compiled=compiled)
    if scheme.target_meta is not None:
        issues += validate_metadata(scheme.target_meta, "target", lookup_scheme=lookup, compiled=compiled)
    for name in ("source", "target", "omissionRemedy"):
        issues += check_crontab(getattr(scheme.schedule, name), f"schedule.{name}")
    remedy = scheme.source_meta.omissionRemedy if scheme.source_meta is not None else None
    if remedy is not None and not remedy.crontab and not scheme.schedule.omissionRemedy:
        issues.append(
            Issue(
                "schedule.omissionRemedy",
                "the source has an omissionRemedy but no crontab says when to run it",
                None,
                "set schedule.omissionRemedy: '2 */2 * * *' (or omissionRemedy.crontab in the source metadata)",
            )
        )
    issues += _check_ladder(scheme)
    issues += _check_window(scheme)
    from ferry.transform.quality import quality_issues  # transform builds on the scheme models

    issues += quality_issues(scheme.quality, lookup)
    return issues


_LOCATED = re.compile(r"^(?P<path>[\w.\[\]]+): (?P<message>.*)$", re.DOTALL)


def plan_issues(scheme: Scheme, compiled: Mapping[str, Any] | None = None) -> list[Issue]:
    """Compile the plan a run uses (:func:`ferry.transform.plan.compile_scheme`) from the values
    :func:`validate_scheme` compiled (``compiled``): what it refuses, as issues (``[]`` once it
    compiles; the plan is then remembered, so no run compiles the scheme again)."""
    from ferry.transform.plan import compile_scheme

    try:
        compile_scheme(scheme, compiled=compiled)
    except ExpressionError as exc:
        return [expression_issue(exc, exc.path)]
    except ConfigError as exc:
        text, _, hint = str(exc).partition("\n  hint: ")
        found = _LOCATED.match(text)
        path, message = (found["path"], found["message"]) if found else ("", text)
        return [Issue(path, message, None, hint or None)]
    return []
