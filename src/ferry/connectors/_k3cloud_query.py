"""K3Cloud ``ExecuteBillQuery`` / ``BillQuery``: the query body and rows as records (§1.4).

The rendered source request mixes two kinds of entries:

* the vendor's query parameters, matched case-insensitively: ``FormId``, ``FieldKeys``,
  ``FilterString``, ``OrderString``, ``TopRowCount``, ``StartRow``, ``Limit``, ``SubSystemId``;
* *columns*, the Kingdee "column" query style of the examples: the entry's key is the column
  name in the records and its value is the ``FieldKeys`` path
  (``{"field": "Fbillno", "value": "FBillNo"}`` reads ``FBillNo`` into ``record["Fbillno"]``).
  A column whose value is empty or not text reads the path named like the column.

``FieldKeys`` sent = the explicit ``FieldKeys`` entries (if any), then every column's path,
each path once. Records are keyed by column name; explicit ``FieldKeys`` entries that no column
renames keep their path as the key. So ``id: FID``, ``number: Fbillno`` and a target's
``{Fbillno}`` all address the record as the scheme wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.connectors.base import Rejected
from ferry.errors import ConfigError

__all__ = ["QUERY_PARAMS", "QueryPlan", "plan_query", "rows_to_records"]

QUERY_PARAMS = {
    name.lower(): name
    for name in (
        "FormId",
        "FieldKeys",
        "FilterString",
        "OrderString",
        "TopRowCount",
        "StartRow",
        "Limit",
        "SubSystemId",
    )
}
"""Lower-cased query parameter name -> the vendor's spelling."""


@dataclass(frozen=True)
class QueryPlan:
    """The query parameters (without paging) and how answer columns become record keys."""

    params: dict[str, Any]
    """``FormId``, ``FieldKeys``, ``FilterString`` ... as the vendor spells them."""
    paths: list[str]
    """``FieldKeys`` entries in the order the vendor answers them."""
    columns: list[tuple[str, str]]
    """``(record key, FieldKeys path)`` pairs."""
    top_row_count: int


def _as_int(name: str, value: Any, where: str) -> int:
    if value is None or value == "":
        return 0
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{where}: request {name} must be an integer (got {value!r})") from None


def _split_keys(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def plan_query(request: Mapping[str, Any], *, where: str) -> QueryPlan:
    """Split a rendered request into query parameters and columns (see the module docstring).

    Raises:
        ConfigError: No ``FormId``, no column at all, or a non-integer ``TopRowCount``.
    """
    params: dict[str, Any] = {}
    named: list[tuple[str, str]] = []
    for key, value in request.items():
        canonical = QUERY_PARAMS.get(str(key).lower())
        if canonical is not None:
            params[canonical] = value
            continue
        path = value.strip() if isinstance(value, str) and value.strip() else str(key)
        named.append((str(key), path))
    form_id = str(params.get("FormId") or "").strip()
    if not form_id:
        raise ConfigError(
            f"{where}: the request has no FormId\n"
            "  hint: add the K3Cloud form to the source otherRequest (or request), e.g. "
            '{"field": "FormId", "value": "SAL_SaleOrder"}'
        )
    explicit = _split_keys(params.pop("FieldKeys", None))
    by_path: dict[str, list[str]] = {}
    for name, path in named:
        by_path.setdefault(path, []).append(name)
    columns = [(path, path) for path in explicit if path not in by_path] + named
    paths = list(dict.fromkeys(explicit + [path for _, path in named]))
    if not paths:
        raise ConfigError(
            f"{where}: the request names no column to read\n"
            '  hint: add one request field per column, e.g. {"field": "Fbillno", "value": "FBillNo"}, '
            "or a FieldKeys field"
        )
    top = _as_int("TopRowCount", params.pop("TopRowCount", 0), where)
    params.pop("StartRow", None)
    params.pop("Limit", None)
    params["FormId"] = form_id
    params["FieldKeys"] = ",".join(paths)
    return QueryPlan(params=params, paths=paths, columns=columns, top_row_count=max(top, 0))


def rows_to_records(plan: QueryPlan, rows: list[Any], *, where: str) -> list[dict[str, Any]]:
    """Answer rows (arrays in ``FieldKeys`` order, or BillQuery objects) as records.

    Raises:
        ConfigError: A row's length differs from the number of ``FieldKeys`` (the server
            did not read the fields that were asked for).
    """
    records: list[dict[str, Any]] = []
    for row in rows:
        if isinstance(row, Rejected):  # a row that cannot be read: the collector dead-letters it
            records.append(row)
            continue
        if isinstance(row, dict):
            values = {path: row.get(path) for path in plan.paths}
        elif isinstance(row, list) and len(row) == len(plan.paths):
            values = dict(zip(plan.paths, row, strict=True))
        else:
            size = len(row) if isinstance(row, list) else "not an array"
            raise ConfigError(
                f"{where}: a row has {size} values for {len(plan.paths)} FieldKeys "
                f"({plan.params['FieldKeys']})"
            )
        records.append({name: values[path] for name, path in plan.columns})
    return records
