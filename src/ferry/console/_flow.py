"""What a scheme's page shows, read from its metadata: the flow steps and the mapping table.

Nothing here touches a connection's settings beyond its ``type`` and ``name``: endpoints,
keys and passwords never reach the console (DESIGN §2, invariant 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from ferry.errors import Issue
from ferry.scheme.metadata import FieldSpec, SourceMetadata, TargetMetadata
from ferry.scheme.model import Scheme

__all__ = [
    "FlowStep",
    "MappingRow",
    "connection_label",
    "flow_steps",
    "mapping_rows",
    "stored_definition",
]


@dataclass
class FlowStep:
    """One box of the flow diagram: ``kind`` is source, filter, flatten, map or target."""

    kind: str
    lines: list[str]
    active: bool = True
    """False when the step does nothing (no condition, no beatFlat)."""


@dataclass
class MappingRow:
    """One field of ``request``/``otherRequest``, flattened with its depth and path."""

    path: str
    depth: int
    field: str
    label: str
    type: str
    value: str
    parser: str
    required: bool
    issues: list[str] = dc_field(default_factory=list)


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


def flow_steps(scheme: Scheme) -> list[FlowStep]:
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
    target_lines = [f"{t_type} · {t_name}"]
    if tgt is not None:
        fields = mapping_rows(tgt.request, "target.request")
        map_lines = [f"{len(fields)} fields", f"settings.on_change: {scheme.settings.on_change}"]
        target_lines.append(f"{tgt.api} ({tgt.method})")
        op = tgt.operation
        if op is None or op.method == "none":
            target_lines.append("operation: none")
        elif op.method == "batchArraySave":
            target_lines.append(f"operation: batchArraySave, rows {op.rows}, {op.rowsKey}")
        else:
            target_lines.append(f"operation: merge by {', '.join(op.keys) or '-'}")
    return [
        FlowStep("source", source_lines),
        FlowStep("filter", filter_lines, active=bool(filter_lines)),
        FlowStep("flatten", flat_lines, active=bool(flat_lines)),
        FlowStep("map", map_lines),
        FlowStep("target", target_lines),
    ]


def mapping_rows(
    fields: Sequence[FieldSpec], base: str, issues: Sequence[Issue] = (), depth: int = 0
) -> list[MappingRow]:
    """Every field of ``fields`` and their children in document order, each with the
    validation issues located at or below its path (``target.request[3].children[1]``)."""
    rows: list[MappingRow] = []
    for index, spec in enumerate(fields):
        path = f"{base}[{index}]"
        own = [
            str(i.message) + (f" — {i.hint}" if i.hint else "")
            for i in issues
            if i.path == path
            or (i.path.startswith((path + ".", path + "[")) and not i.path.startswith(path + ".children"))
        ]
        rows.append(
            MappingRow(
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


def stored_definition(scheme: Scheme) -> dict[str, Any]:
    """The scheme as the store keeps it: no connection details (as the runner saves it)."""
    data = scheme.model_dump(mode="json", exclude={"connections"})
    for side in ("source", "target"):
        connection = data[side]["connection"]
        if isinstance(connection, dict):
            data[side]["connection"] = {"type": connection.get("type"), "inline": True}
    return data
