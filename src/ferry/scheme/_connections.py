"""Resolving a scheme's ``source.connection`` / ``target.connection`` against its connections.

A side's ``connection`` is a name in the scheme's ``connections`` (a connections.yaml path,
relative to the scheme file, or an inline mapping name -> spec) or an inline spec mapping. Only
the connections the scheme uses are parsed, so a shared connections.yaml with an unrelated
broken entry (or an unset ``${VAR}`` of another system) does not fail this scheme. Specs are
parsed by :func:`ferry.connectors.registry.parse_connection`; every problem it reports becomes an
:class:`~ferry.errors.Issue` located at ``connections.<name>[.field]`` or ``<side>.connection``.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ferry._text import clip
from ferry.errors import ConfigError, Issue, UnsetVariableError
from ferry.scheme._documents import DocumentError, read_document
from ferry.scheme.model import Scheme

__all__ = ["is_connections_file", "parse_connections_file", "resolve_connections"]

_ENV_FIELD = re.compile(r"field (?P<field>\S+) references")
_DETAIL = re.compile(r"^\s+(?P<loc>[^:]+): (?P<msg>.*)$")


def _parser() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("ferry.connectors.registry")
    except ImportError:
        return None
    return getattr(module, "parse_connection", None)


def _read_mapping(source: Any, base_dir: Path) -> tuple[Mapping[str, Any] | None, list[Issue]]:
    if source is None:
        return None, []
    if isinstance(source, Mapping):
        return source, []
    file = Path(source)
    file = file if file.is_absolute() else base_dir / file
    try:
        data = read_document(file)
    except DocumentError as exc:
        where = f" at {exc.path}" if exc.path else ""
        message = f"cannot read {clip(str(source), 300)}: {exc.describe()}{where}"
        return {}, [Issue("connections", message, None, exc.hint or _READ_HINT)]
    if data is None:
        return {}, []
    if not isinstance(data, Mapping):
        return {}, [
            Issue(
                "connections",
                f"{source} must map connection names to specs, not be a {type(data).__name__}",
                None,
                "write `name: {type: sql, url: ...}` entries",
            )
        ]
    return data, []


_READ_HINT = "give a connections.yaml path relative to the scheme file, or an inline mapping name -> spec"


def _issues_from(exc: ConfigError, path: str) -> list[Issue]:
    lines = str(exc).splitlines()
    first = lines[0] if lines else str(exc)
    if first.startswith(f"{path}: "):
        first = first[len(path) + 2 :]
    hint = next(
        (ln.strip()[len("hint:") :].strip() for ln in lines[1:] if ln.strip().startswith("hint:")), None
    )
    details = [m for ln in lines[1:] if (m := _DETAIL.match(ln)) and not ln.strip().startswith("hint:")]
    if details and re.match(r"^\d+ errors? in connection", first):
        return [
            Issue(
                f"{path}.{m.group('loc')}",
                m.group("msg"),
                None,
                "see `ferry schema connections` for the fields",
            )
            for m in details
        ]
    env = _ENV_FIELD.search(first)
    if env:
        path = f"{path}.{env.group('field')}"
        first = re.sub(r"^connection '[^']*': ", "", first)
    if hint is None and "; " in first:
        first, _, hint = first.partition("; ")
    if first.startswith("unknown connection type"):
        path += ".type"
    return [Issue(path, first, None, hint or "fix the connection spec")]


def _parse(
    spec: Mapping[str, Any], name: str, path: str, env: Mapping[str, str] | None
) -> tuple[Any, list[Issue]]:
    parse = _parser()
    data = {**spec, "name": spec.get("name") or name}
    if parse is None:
        return dict(data), []
    try:
        return parse(data, path=path, env=env), []
    except UnsetVariableError as exc:  # every unset variable of the connection, each at its field
        return None, exc.issues(path)
    except ConfigError as exc:
        return None, _issues_from(exc, path)


def resolve_connections(
    scheme: Scheme,
    source: Any,
    base_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> tuple[tuple[Any, Any], list[Issue]]:
    """Resolve both sides' connections (sides in ``skip`` already failed to parse: left ``None``).

    Returns:
        ``((source_connection, target_connection), issues)``; a side that cannot be resolved is
        ``None``. Specs are registry models when :mod:`ferry.connectors.registry` is importable,
        plain dicts otherwise.
    """
    mapping, issues = _read_mapping(source, base_dir)
    parsed: dict[str, Any] = {}
    out: list[Any] = []
    for side in ("source", "target"):
        if side in skip:
            out.append(None)
            continue
        conn = getattr(scheme, side).connection
        if isinstance(conn, Mapping):
            spec, found = _parse(conn, f"{scheme.id}-{side}", f"{side}.connection", env)
            issues += found
            out.append(spec)
            continue
        if mapping is None:
            issues.append(
                Issue(
                    f"{side}.connection",
                    f"connection {conn!r} is a name, but the scheme gives no connections",
                    None,
                    "add `connections: connections.yaml` to the scheme (or pass connections), "
                    "or write the connection spec inline",
                )
            )
            out.append(None)
            continue
        if conn not in mapping:
            known = sorted(str(k) for k in mapping)
            close = difflib.get_close_matches(str(conn), known, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            issues.append(
                Issue(
                    f"{side}.connection",
                    f"unknown connection {conn!r}",
                    None,
                    f"{guess}known connections: {', '.join(known) or '(none)'}",
                )
            )
            out.append(None)
            continue
        if conn not in parsed:
            spec = mapping[conn]
            if not isinstance(spec, Mapping):
                issues.append(
                    Issue(
                        f"connections.{conn}",
                        "a connection must be a mapping",
                        None,
                        "write {type: ..., ...}",
                    )
                )
                parsed[conn] = None
            else:
                parsed[conn], found = _parse(spec, str(conn), f"connections.{conn}", env)
                issues += found
        out.append(parsed[conn])
    return (out[0], out[1]), issues


_NOT_CONNECTION_KEYS = frozenset({"api", "effect", "source", "target", "request", "id", "name", "type"})


def is_connections_file(data: Any) -> bool:
    """Whether ``data`` reads as a connections.yaml: a mapping of names to ``{type: ...}`` specs."""
    return (
        isinstance(data, Mapping)
        and bool(data)
        and not _NOT_CONNECTION_KEYS.intersection(str(k) for k in data)
        and all(isinstance(spec, Mapping) and "type" in spec for spec in data.values())
    )


def parse_connections_file(
    data: Mapping[str, Any], *, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[Issue]]:
    """Parse every connection of a connections.yaml; ``(name -> spec, every issue)``.

    Each issue is located at ``connections.<name>[.field]``, so a file with three unset
    variables in two connections reports all three at once.
    """
    parsed: dict[str, Any] = {}
    issues: list[Issue] = []
    for name, spec in data.items():
        conn, found = _parse(spec, str(name), f"connections.{name}", env)
        issues += found
        if conn is not None:
            parsed[str(name)] = conn
    return parsed, issues
