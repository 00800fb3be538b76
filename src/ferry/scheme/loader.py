"""Loading QEasy metadata and native scheme files, reporting every problem at once.

::

    meta = load_metadata("examples/001-kuaimai-aftersale-to-mysql/source.json")   # side from effect
    scheme = load_scheme("examples/001-kuaimai-aftersale-to-mysql/scheme.yaml")
    scheme.source_meta.api            # 'erp.aftersale.list.query'
    scheme.target_connection          # the parsed connection spec (a ConnectionSpec)

Nothing stops at the first error: syntax, model and semantic problems of the scheme, both
metadata documents and the connections are collected as :class:`~ferry.errors.Issue` objects
and raised together as one :class:`~ferry.errors.SchemeError`. Metadata paths read the way the
user sees the metadata (``target.request[3].children[1].value``), scheme paths as the YAML keys
(``window.step``); a document that does not parse names its line and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ferry._text import clip
from ferry.errors import Issue, SchemeError
from ferry.scheme._catalogue import metadata_warnings
from ferry.scheme._connections import is_connections_file, parse_connections_file, resolve_connections
from ferry.scheme._documents import DocumentError, parse_text, read_document
from ferry.scheme._issues import validate_collecting
from ferry.scheme._response import connection_warnings
from ferry.scheme.maps import load_value_maps
from ferry.scheme.metadata import SourceMetadata, TargetMetadata
from ferry.scheme.model import Scheme

__all__ = ["Side", "file_warnings", "load_any", "load_metadata", "load_scheme", "parse_metadata"]

Side = Literal["source", "target"]
_MODELS: dict[str, type[SourceMetadata] | type[TargetMetadata]] = {
    "source": SourceMetadata,
    "target": TargetMetadata,
}
_EFFECT_SIDE = {"QUERY": "source", "EXECUTE": "target", "WRITE": "target"}
_SIDE_EFFECT = {"source": "QUERY", "target": "EXECUTE"}


def _raw_effect(data: Mapping[str, Any]) -> str | None:
    for key in ("effect", "type"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().upper()
    return None


def infer_side(data: Any) -> Side | None:
    """``"source"`` for QUERY metadata, ``"target"`` for EXECUTE/WRITE, else ``None``."""
    if not isinstance(data, Mapping):
        return None
    side = _EFFECT_SIDE.get(_raw_effect(data) or "")
    return side  # type: ignore[return-value]


def parse_metadata(
    data: Any, side: Side | None = None, *, prefix: str | None = None
) -> tuple[SourceMetadata | TargetMetadata | None, list[Issue]]:
    """Validate already-parsed metadata; return ``(model_or_best_effort, issues)``.

    Args:
        data: the metadata mapping.
        side: ``"source"``/``"target"``; inferred from ``effect``/``type`` when ``None``.
        prefix: path prefix for issues (defaults to the side name).

    The returned model is usable only when ``issues`` is empty; otherwise it is a best-effort
    model (or ``None``) for further checks. Either way its ``warnings`` name every key Ferry
    does not act on (:func:`ferry.scheme._catalogue.metadata_warnings`); they are not issues.
    """
    if not isinstance(data, Mapping):
        where = prefix if prefix is not None else (side or "")
        return None, [
            Issue(
                where,
                f"metadata must be a JSON object, not {type(data).__name__}",
                None,
                'write the QEasy metadata as {"api": ..., "effect": ..., "request": [...]}',
            )
        ]
    inferred = infer_side(data)
    side = side or inferred
    if side is None:
        effect = _raw_effect(data)
        return None, [
            Issue(
                prefix or "effect",
                "cannot tell whether this is source or target metadata"
                + (f": effect {effect!r} is neither QUERY nor EXECUTE" if effect else ": effect is missing"),
                None,
                'write "effect": "QUERY" for a source (query) API or "effect": "EXECUTE" for a target (write) API',
            )
        ]
    where = prefix if prefix is not None else side
    issues: list[Issue] = []
    work = dict(data)
    if inferred is not None and inferred != side and _agree(data):
        effect = _raw_effect(data)
        issues.append(
            Issue(
                _join(where, "effect"),
                f"the {side} side needs effect {_SIDE_EFFECT[side]}, but this metadata says {effect}",
                None,
                "the source metadata queries (QUERY) and the target metadata writes (EXECUTE); "
                "did you swap source and target?",
            )
        )
        work.pop("type", None)
        work["effect"] = _SIDE_EFFECT[side]
    model, found = validate_collecting(_MODELS[side], work, where)
    return _warned(model, data, side, where), issues + found


def _warned(
    model: SourceMetadata | TargetMetadata | None, data: Mapping[str, Any], side: Side, where: str
) -> SourceMetadata | TargetMetadata | None:
    """``model`` carrying the warnings of the document it was read from."""
    if model is not None:
        model._warnings = metadata_warnings(data, side, where)
    return model


def _agree(data: Mapping[str, Any]) -> bool:
    a, b = data.get("effect"), data.get("type")
    if not (isinstance(a, str) and isinstance(b, str)):
        return True
    norm = {"WRITE": "EXECUTE"}
    return norm.get(a.strip().upper(), a.strip().upper()) == norm.get(b.strip().upper(), b.strip().upper())


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _read_source(source: str | Path | Mapping[str, Any]) -> tuple[Any, str | None, Path | None]:
    """Return ``(data, display_name, path)``; raises DocumentError for unreadable input."""
    if isinstance(source, Mapping):
        return dict(source), None, None
    if isinstance(source, str) and source.lstrip().startswith(("{", "[", "//", "/*")):
        return parse_text(source, "json"), None, None
    path = Path(source)
    return read_document(path), str(path), path


def load_metadata(
    source: str | Path | Mapping[str, Any], *, side: Side | None = None
) -> SourceMetadata | TargetMetadata:
    """Load one QEasy metadata document (.json, .jsonc/.json5 with comments, or .yaml).

    Args:
        source: a file path, JSON text (starting with ``{``) or an already-parsed mapping.
        side: ``"source"`` or ``"target"``; inferred from ``effect``/``type`` when omitted.

    Raises:
        SchemeError: every problem found, paths prefixed with the side
            (``target.request[3].value``); a syntax error names its line and column.
    """
    try:
        data, name, _ = _read_source(source)
    except DocumentError as exc:
        raise SchemeError([_document_issue("", exc)], source=_name(source)) from None
    model, issues = parse_metadata(data, side)
    if issues or model is None:
        raise SchemeError(issues, source=name)
    return model


def _name(source: Any) -> str | None:
    return (
        str(source) if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source) else None
    )


def _document_issue(path: str, exc: DocumentError, file: str | None = None) -> Issue:
    """The issue of a document that cannot be read: at ``path`` (a side's ``metadata``), or at
    the bad value's own path inside it (``source.request[1].value``)."""
    what = f"cannot read {clip(file, 300)}: " if file else ""
    if exc.path:
        path = f"{path.removesuffix('.metadata')}.{exc.path}" if path else exc.path
    hint = exc.hint or (
        "fix the syntax at that position; // comments and trailing commas are accepted in JSON"
        if exc.line is not None
        else "check the path; relative paths are resolved against the scheme file's folder"
    )
    return Issue(path, what + exc.describe(), None, hint)


def _load_scheme_data(path_or_text: str | Path | Mapping[str, Any]) -> tuple[Any, str | None, Path]:
    if isinstance(path_or_text, Mapping):
        return dict(path_or_text), None, Path.cwd()
    if isinstance(path_or_text, str) and (
        "\n" in path_or_text or (": " in path_or_text and not Path(path_or_text).exists())
    ):
        return parse_text(path_or_text), None, Path.cwd()
    path = Path(path_or_text)
    return read_document(path), str(path), path.resolve().parent


def _side_metadata(
    raw: Any, side: Side, base_dir: Path
) -> tuple[SourceMetadata | TargetMetadata | None, list[Issue]]:
    if not isinstance(raw, Mapping) or "metadata" not in raw:
        return None, []  # reported by the scheme model (missing key)
    value = raw["metadata"]
    if isinstance(value, str | Path):
        file = Path(value)
        file = file if file.is_absolute() else base_dir / file
        try:
            data = read_document(file)
        except DocumentError as exc:
            named = exc.line is not None or bool(exc.path)
            return None, [_document_issue(f"{side}.metadata", exc, str(value) if named else None)]
        return parse_metadata(data, side)
    if value is None:
        return None, [
            Issue(
                f"{side}.metadata",
                "metadata is empty",
                None,
                "inline the QEasy metadata or give a path to its .json file",
            )
        ]
    return parse_metadata(value, side)


def load_scheme(
    path_or_text: str | Path | Mapping[str, Any],
    *,
    connections: str | Path | Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Scheme:
    """Load a native YAML scheme, its metadata and its connections, and validate all of it.

    Args:
        path_or_text: path of the scheme file, its YAML text, or a parsed mapping.
        connections: overrides the scheme's own ``connections`` (a path to a connections.yaml,
            relative to the current directory, or a mapping name -> spec).
        env: variables for ``${VAR}`` in connections (default: the process environment).
        check: also run the semantic checks of :func:`ferry.scheme.validate.validate_scheme`
            and, when they find nothing, compile the scheme's plan from the values they compiled
            (:func:`ferry.transform.plan.compile_scheme`; remembered, so no run compiles again).

    Returns:
        The scheme with ``source_meta``, ``target_meta``, ``base_dir``, ``source_connection``,
        ``target_connection`` and ``value_maps`` (its ``maps`` and, for a scheme file, the
        ``maps/<name>.csv|.xlsx|.yaml`` files beside it; :mod:`ferry.scheme.maps`) filled in.

    Raises:
        SchemeError: every problem found in the scheme, its metadata and its connections.
    """
    try:
        raw, name, base_dir = _load_scheme_data(path_or_text)
    except DocumentError as exc:
        raise SchemeError([_document_issue("", exc)], source=_name(path_or_text)) from None
    return _scheme_from(raw, name, base_dir, connections=connections, env=env, check=check)


def _scheme_from(
    raw: Any,
    name: str | None,
    base_dir: Path,
    *,
    connections: str | Path | Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Scheme:
    """Validate a parsed scheme document; see :func:`load_scheme`."""
    if not isinstance(raw, Mapping):
        issue = Issue(
            "", f"a scheme must be a mapping, not {type(raw).__name__}", None, "see examples/*/scheme.yaml"
        )
        raise SchemeError([issue], source=name)

    raw, issues = _reject_internal_keys(raw)
    scheme, found = validate_collecting(Scheme, raw)
    issues += found
    source_meta, found = _side_metadata(raw.get("source"), "source", base_dir)
    issues += found
    target_meta, found = _side_metadata(raw.get("target"), "target", base_dir)
    issues += found
    if scheme is None:
        raise SchemeError(issues, source=name)
    scheme.source_meta = source_meta  # type: ignore[assignment]
    scheme.target_meta = target_meta  # type: ignore[assignment]
    scheme.base_dir = str(base_dir)
    scheme.value_maps, found = load_value_maps(scheme.maps, base_dir, discover=name is not None)
    issues += found
    issues += _connect(scheme, issues, connections, base_dir, env)
    scheme._warnings = connection_warnings(scheme)
    if check:
        issues += _checked(scheme, issues)
    if issues:
        raise SchemeError(issues, source=name)
    return scheme


def _connect(
    scheme: Scheme,
    reported: list[Issue],
    connections: str | Path | Mapping[str, Any] | None,
    base_dir: Path,
    env: Mapping[str, str] | None,
) -> list[Issue]:
    """Resolve the scheme's connections (``scheme.source_connection`` ...); the new issues."""
    if connections is None and any(i.path == "connections" for i in reported):
        scheme.source_connection = scheme.target_connection = None  # already reported; no cascade
        return []
    conn_source: Any = connections if connections is not None else scheme.connections
    conn_base = Path.cwd() if connections is not None else base_dir
    broken = {
        side for side in ("source", "target") if any(i.path in (side, f"{side}.connection") for i in reported)
    }
    resolved, found = resolve_connections(scheme, conn_source, conn_base, env=env, skip=broken)
    scheme.source_connection, scheme.target_connection = resolved
    return _new_only(found, reported)


def _checked(scheme: Scheme, reported: list[Issue]) -> list[Issue]:
    """The semantic issues of the scheme; when there is none at all, its plan is compiled from
    the values the checks compiled (:func:`ferry.scheme.validate.plan_issues`)."""
    from ferry.scheme.validate import plan_issues, validate_scheme

    compiled: dict[str, Any] = {}
    found = _new_only(validate_scheme(scheme, compiled=compiled), reported)
    if reported or found:
        return found
    return plan_issues(scheme, compiled)


def _reject_internal_keys(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[Issue]]:
    """Keys of excluded (loader-filled) attributes are not part of the file format."""
    internal = {name for name, info in Scheme.model_fields.items() if info.exclude}
    known = [name for name, info in Scheme.model_fields.items() if not info.exclude]
    issues = [
        Issue(
            str(key),
            f"unknown key {key!r}",
            None,
            f"it is filled in by the loader; known keys: {', '.join(known)}",
        )
        for key in raw
        if key in internal
    ]
    return {k: v for k, v in raw.items() if k not in internal}, issues


def _new_only(found: list[Issue], reported: list[Issue]) -> list[Issue]:
    """Drop semantic issues at or below a path that already failed to parse (deeper than a side)."""
    deep = [i.path for i in reported if "." in i.path or "[" in i.path]
    out = []
    for issue in found:
        p = issue.path
        if any(p == d or p.startswith((d + ".", d + "[")) for d in deep):
            continue
        out.append(issue)
    return out


def load_any(
    path: str | Path, *, env: Mapping[str, str] | None = None
) -> Scheme | SourceMetadata | TargetMetadata | dict[str, Any]:
    """Load a native scheme (YAML/JSON with ``source`` and ``target``), bare QEasy metadata, or a
    connections file (names mapped to ``{type: ...}`` specs; returned as name -> parsed spec).

    Bare metadata is validated on its own (semantic checks included; a ``_mongoQuery`` without
    a scheme id is then reported, because only a scheme can name ``settings.lookup_scheme``).
    Every connection of a connections file is parsed, its ``${VAR}`` references expanded.

    Raises:
        SchemeError: every problem found.
    """
    try:
        data = read_document(Path(path))
    except DocumentError as exc:
        raise SchemeError([_document_issue("", exc)], source=str(path)) from None
    if isinstance(data, Mapping) and ("source" in data or "target" in data) and "api" not in data:
        return _scheme_from(data, str(path), Path(path).resolve().parent, env=env)
    if is_connections_file(data):
        connections, found = parse_connections_file(data, env=env)
        if found:
            raise SchemeError(found, source=str(path))
        return connections
    model, issues = parse_metadata(data)
    if model is not None:
        from ferry.scheme.validate import validate_metadata

        side: Side = "source" if isinstance(model, SourceMetadata) else "target"
        issues += _new_only(validate_metadata(model, side), issues)
    if issues or model is None:
        raise SchemeError(issues, source=str(path))
    return model


def file_warnings(path: str | Path) -> list[Issue]:
    """The metadata warnings of a scheme or bare metadata file that may not load (for a file
    that failed validation; a loaded one carries them as ``.warnings``). Never raises: a
    document that cannot be read has none."""
    try:
        data = read_document(Path(path))
    except DocumentError:
        return []
    if not isinstance(data, Mapping):
        return []
    if ("source" in data or "target" in data) and "api" not in data:
        found: list[Issue] = []
        for side in ("source", "target"):
            found += _raw_side_warnings(data.get(side), side, Path(path).resolve().parent)
        return found
    inferred = infer_side(data)
    return metadata_warnings(data, inferred) if inferred is not None else []


def _raw_side_warnings(raw: Any, side: Side, base_dir: Path) -> list[Issue]:
    value = raw.get("metadata") if isinstance(raw, Mapping) else None
    if isinstance(value, str):
        file = Path(value) if Path(value).is_absolute() else base_dir / value
        try:
            value = read_document(file)
        except DocumentError:
            return []
    return metadata_warnings(value, side)
