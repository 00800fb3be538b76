"""Connection types by name, and the factory that turns a spec into a live connector.

Adding a connector is one entry in :data:`CONNECTION_TYPES` (or a call to
:func:`register_connection_type`): the spec class it names declares ``source_impl`` and
``target_impl`` (``"module:Class"``), and the implementation is imported only when
:func:`build_source` / :func:`build_target` is called, so loading ``connections.yaml`` never
imports a database driver or a vendor SDK. The implementation class is constructed as
``Class(spec, transport=transport)``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Any, cast, get_args, get_origin

import pydantic
import yaml
from pydantic import BaseModel, SecretStr

from ferry._redact import remember_secrets
from ferry.connectors.base import SourceConnector, TargetConnector
from ferry.connectors.specs import ConnectionSpec, expand_env
from ferry.errors import ConfigError

__all__ = [
    "CONNECTION_TYPES",
    "Connection",
    "build_source",
    "build_target",
    "connection_class",
    "load_connections",
    "parse_connection",
    "register_connection_type",
]

Connection = ConnectionSpec
"""Any connection spec (the registry's types are all :class:`ConnectionSpec` subclasses)."""

CONNECTION_TYPES: dict[str, str] = {
    "http": "ferry.connectors.specs:HttpConnection",
    "jushuitan": "ferry.connectors.jushuitan:JushuitanConnection",
    "kingdee_k3cloud": "ferry.connectors.k3cloud:K3CloudConnection",
    "kingdee_kis": "ferry.connectors.kis:KisConnection",
    "kuaimai": "ferry.connectors.kuaimai:KuaimaiConnection",
    "ledger": "ferry.connectors.specs:LedgerConnection",
    "okki": "ferry.connectors.okki:OkkiConnection",
    "sql": "ferry.connectors.specs:SqlConnection",
    "wangdiantong": "ferry.connectors.wangdiantong:WangdiantongConnection",
}
"""Connection type name -> ``module:Class`` of its spec model."""


def register_connection_type(type_name: str, spec_ref: str) -> None:
    """Register (or replace) a connection type by its ``module:Class`` spec reference."""
    CONNECTION_TYPES[type_name] = spec_ref


def _import_ref(ref: str, *, what: str) -> Any:
    module_name, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {what} {ref!r}: {exc}") from exc


def connection_class(type_name: str) -> type[ConnectionSpec]:
    """The spec model registered for ``type_name``.

    Raises:
        ConfigError: Unknown type; the message lists the known types.
    """
    try:
        ref = CONNECTION_TYPES[type_name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(CONNECTION_TYPES))
        raise ConfigError(f"unknown connection type {type_name!r}; known: {known}") from None
    return cast(type[ConnectionSpec], _import_ref(ref, what="connection spec"))


def parse_connection(
    data: Mapping[str, Any], *, path: str, env: Mapping[str, str] | None = None
) -> Connection:
    """Validate one connection spec after expanding ``${VAR}`` references.

    Every secret of the spec (its ``SecretStr`` fields, URL passwords, ``headers:`` values and
    the values of its ``${VAR}`` references) is remembered for redaction
    (:func:`ferry._redact.remember_secrets`), and never quoted in an error.

    Args:
        data: The spec mapping, with ``type`` and ``name``.
        path: Where the spec came from, used in messages (``connections.yaml:erp``).
        env: Variables for ``${VAR}`` expansion; defaults to ``os.environ``.

    Raises:
        ConfigError: Missing or unknown ``type`` (listing the known types), a missing
            environment variable, or invalid fields (every problem, each with its path).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a connection must be a mapping, got {type(data).__name__}")
    name = str(data.get("name") or path)
    if "type" not in data:
        known = ", ".join(sorted(CONNECTION_TYPES))
        raise ConfigError(f"{path}: connection {name!r} has no type\n  hint: set type to one of: {known}")
    try:
        cls = connection_class(data["type"])
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    from_env: list[tuple[str, str]] = []
    expanded = expand_env(data, connection=name, env=env, found=from_env)
    remember_secrets(value for _, value in from_env)
    try:
        spec = cls.model_validate(expanded)
    except pydantic.ValidationError as exc:
        hidden = {re.split(r"[.\[]", field, maxsplit=1)[0] for field, _ in from_env}
        raise ConfigError(_format_validation_error(exc, path=path, cls=cls, hidden=hidden)) from None
    spec.keep_env_values(value for _, value in from_env)
    remember_secrets(spec.secret_values(), names=spec.secret_names())
    return spec


def load_connections(
    source: str | Path | Mapping[str, Any], *, env: Mapping[str, str] | None = None
) -> dict[str, Connection]:
    """Load a ``connections.yaml`` (a path) or an already-parsed mapping of name -> spec.

    A spec's ``name`` defaults to its key; a different explicit ``name`` is an error.

    Raises:
        ConfigError: Unreadable or malformed file, or any invalid connection (see
            :func:`parse_connection`).
    """
    if isinstance(source, Mapping):
        where, data = "connections", source
    else:
        where = str(source)
        try:
            data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read connections file {where}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
        if data is None:
            return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{where}: expected a mapping of connection name -> spec, got {type(data).__name__}"
        )
    connections: dict[str, Connection] = {}
    for key, spec in data.items():
        path = f"{where}:{key}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{path}: a connection must be a mapping, got {type(spec).__name__}")
        if "name" in spec and spec["name"] != key:
            raise ConfigError(
                f"{path}: name {spec['name']!r} differs from its key {key!r}\n  hint: remove name or make it match"
            )
        connections[str(key)] = parse_connection({**spec, "name": str(key)}, path=path, env=env)
    return connections


def build_source(conn: Connection, *, transport: Any = None) -> SourceConnector:
    """Construct the source connector for ``conn`` (importing its module now).

    Args:
        conn: A parsed connection spec.
        transport: An ``httpx.BaseTransport`` for HTTP connectors (tests, sandbox); ignored by
            connectors that do not speak HTTP.

    Raises:
        ConfigError: The connection type cannot act as a source.
    """
    return cast(SourceConnector, _build(conn, "source", conn.source_impl, transport))


def build_target(conn: Connection, *, transport: Any = None) -> TargetConnector:
    """Construct the target connector for ``conn``; see :func:`build_source`."""
    return cast(TargetConnector, _build(conn, "target", conn.target_impl, transport))


def _build(conn: Connection, role: str, ref: str | None, transport: Any) -> Any:
    if ref is None:
        able = sorted(
            name
            for name, spec_ref in CONNECTION_TYPES.items()
            if getattr(_import_ref(spec_ref, what="connection spec"), f"{role}_impl", None)
        )
        raise ConfigError(
            f"{conn.label()} cannot be used as a {role}; types usable as a {role}: {', '.join(able)}"
        )
    cls = _import_ref(ref, what=f"{role} connector")
    return cls(conn, transport=transport)


def _secret_fields(cls: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Names of fields (at any depth) typed ``SecretStr`` -- their input is never quoted."""
    seen = seen or set()
    if cls in seen:
        return set()
    seen.add(cls)
    names: set[str] = set()
    for name, info in cls.model_fields.items():
        for tp in _flatten(info.annotation):
            if tp is SecretStr:
                names.add(name)
            elif isinstance(tp, type) and issubclass(tp, BaseModel):
                names |= _secret_fields(tp, seen)
    return names


def _flatten(tp: Any) -> list[Any]:
    if get_origin(tp) is None:
        return [tp]
    return [leaf for arg in get_args(tp) for leaf in _flatten(arg)]


def _format_validation_error(
    exc: pydantic.ValidationError, *, path: str, cls: type[BaseModel], hidden: Set[str] = frozenset()
) -> str:
    """Every error with its field path; the input is quoted unless it may be a secret (a
    ``SecretStr`` field, or a field in ``hidden``: its value came from a ``${VAR}``)."""
    secret = _secret_fields(cls) | hidden
    errors = exc.errors(include_url=False)
    lines = [f"{path}: {len(errors)} error{'s' if len(errors) != 1 else ''} in connection"]
    for err in errors:
        loc = ".".join(str(part) for part in err["loc"]) or "(root)"
        text = f"  {loc}: {err['msg']}"
        value = err.get("input")
        quotable = not secret.intersection(str(part) for part in err["loc"])
        if quotable and err["type"] != "missing" and isinstance(value, str | int | float | bool):
            shown = repr(value)
            text += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
        lines.append(text)
    return "\n".join(lines)
