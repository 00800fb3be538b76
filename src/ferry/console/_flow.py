"""What a scheme's page shows, read from its metadata: the flow steps and the mapping table.

Nothing here touches a connection's settings beyond its ``type`` and ``name``: endpoints,
keys and passwords never reach the console (docs/architecture.md §2, invariant 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ferry.console._models import FlowStepModel, MappingRowModel
from ferry.errors import Issue
from ferry.scheme.metadata import FieldSpec, SourceMetadata, TargetMetadata
from ferry.scheme.model import Scheme

__all__ = [
    "connection_label",
    "flow_steps",
    "mapping_rows",
]


def connection_label(conn: Any, fallback: Any = None) -> tuple[str, str]:
    """``(type, name)`` of a resolved connection spec (or its dict); nothing else of it."""
    if conn is None:
        name = fallback if isinstance(fallback, str) else ""
        kind = fallback.get("type") if isinstance(fallback, dict) else None
        return str(kind or "?"), name
    if isinstance(conn, dict):
        return str(conn.get("type") or "?"), str(conn.get("name") or "")
    return str(getattr(conn, "type", "?")), str(getattr(conn, "name", ""))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False)


def _rule(rule: Any) -> str:
    value = "" if rule.logic in ("notnull", "isnull") else f" {_text(rule.value)!r}"
    strict = " (strictMode)" if rule.strictMode else ""
    return f"{rule.field} {rule.logic}{value}{strict}"


def flow_steps(scheme: Scheme) -> list[FlowStepModel]:
    """The five boxes source → filter → flatten → map → target of a loaded scheme."""
    src: SourceMetadata | None = scheme.source_meta
    tgt: TargetMetadata | None = scheme.target_meta
    s_type, s_name = connection_label(scheme.source_connection, scheme.source.connection)
    t_type, t_name = connection_label(scheme.target_connection, scheme.target.connection)
    source_lines = [f"{s_type} · {s_name}"]
    filter_lines: list[str] = []
    flat_lines: list[str] = []
    if src is not None:
        source_lines += [f"{src.api} ({src.method})", f"id: {src.id or '-'}"]
        if src.number:
            source_lines.append(f"number: {src.number}")
        source_lines.append(f"idCheck: {str(src.idCheck).lower()}")
        for g, group in enumerate(src.condition):
            joined = " AND ".join(_rule(rule) for rule in group)
            filter_lines.append(("OR " if g else "") + joined)
        flat_lines = [f"beatFlat: {name}" for name in src.beatFlat]
    map_lines: list[str] = []
    mapped: int | None = None
    target_lines = [f"{t_type} · {t_name}"]
    if tgt is not None:
        fields = mapping_rows(tgt.request, "target.request")
        mapped = len(fields)
        map_lines = [f"settings.on_change: {scheme.settings.on_change}"]
        target_lines.append(f"{tgt.api} ({tgt.method})")
        op = tgt.operation
        if op is None or op.method == "none":
            target_lines.append("operation: none")
        elif op.method == "batchArraySave":
            target_lines.append(f"operation: batchArraySave, rows: {op.rows}, rowsKey: {op.rowsKey}")
        else:
            target_lines.append(f"operation: merge, keys: {', '.join(op.keys) or '-'}")
    return [
        FlowStepModel(kind="source", lines=source_lines),
        FlowStepModel(kind="filter", lines=filter_lines, active=bool(filter_lines)),
        FlowStepModel(kind="flatten", lines=flat_lines, active=bool(flat_lines)),
        FlowStepModel(kind="map", lines=map_lines, fields=mapped),
        FlowStepModel(kind="target", lines=target_lines),
    ]


def mapping_rows(
    fields: Sequence[FieldSpec], base: str, issues: Sequence[Issue] = (), depth: int = 0
) -> list[MappingRowModel]:
    """Every field of ``fields`` and their children in document order, each with the
    validation issues located at or below its path (``target.request[3].children[1]``)."""
    rows: list[MappingRowModel] = []
    for index, spec in enumerate(fields):
        path = f"{base}[{index}]"
        own = [
            str(i.message) + (f" — {i.hint}" if i.hint else "")
            for i in issues
            if i.path == path
            or (i.path.startswith((path + ".", path + "[")) and not i.path.startswith(path + ".children"))
        ]
        rows.append(
            MappingRowModel(
                path=path,
                depth=depth + (1 if spec.parent else 0),
                field=spec.field,
                label=spec.label or "",
                type=spec.type,
                value=_text(spec.value),
                parser=(spec.parser.name + (f"({_text(spec.parser.params)})" if spec.parser.params else ""))
                if spec.parser
                else "",
                required=bool(spec.is_required),
                issues=own,
            )
        )
        rows += mapping_rows(spec.children, f"{path}.children", issues, depth + 1)
    return rows
