"""Connection specs: where a system lives and how to authenticate, kept apart from schemes.

A ``connections.yaml`` maps a connection name to one spec, discriminated by ``type``::

    erp_db:
      type: sql
      url: mysql+pymysql://ferry:${ERP_DB_PASSWORD}@db.internal:3306/erp
    shop_api:
      type: http
      base_url: https://api.example.com/v1
      auth: {type: bearer, value: "${SHOP_TOKEN}"}
      paging: {style: page, page_param: page, size_param: page_size, page_size: 100}
      records_path: data.list
      total_path: data.total

Secrets are :class:`pydantic.SecretStr` (``repr`` shows ``**********``) and
:meth:`ConnectionSpec.secret_values` lists them for the log redaction filter. ``${VAR}``
references are expanded by :func:`expand_env` when the registry loads a spec.

A connection type is a subclass of :class:`ConnectionSpec` registered by name in
:data:`ferry.connectors.registry.CONNECTION_TYPES`; its ``source_impl`` / ``target_impl``
class variables name the runtime class (``"module:Class"``) built by the registry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)

from ferry.errors import ConfigError

__all__ = [
    "ConnectionSpec",
    "HttpAuth",
    "HttpConnection",
    "LastPage",
    "LedgerConnection",
    "Paging",
    "SqlConnection",
    "env_references",
    "expand_env",
    "mask_url",
]

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(data: Any, *, connection: str, env: Mapping[str, str] | None = None, _path: str = "") -> Any:
    """Return ``data`` with ``${VAR}`` references in every string replaced from ``env``.

    ``${VAR:-default}`` uses ``default`` when ``VAR`` is unset and ``$$`` is a literal ``$``.
    Containers are copied, never mutated.

    Raises:
        ConfigError: A referenced variable is not set (and has no default). The message names
            the connection, the field path and the variable, never any value.
    """
    env = os.environ if env is None else env
    if isinstance(data, str):
        if "$" not in data:
            return data

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            var, default = match.group(1), match.group(2)
            if var in env:
                return env[var]
            if default is not None:
                return default
            raise ConfigError(
                f"connection {connection!r}: field {_path or '(root)'} references ${{{var}}} "
                f"but environment variable {var} is not set\n"
                f"  hint: export {var}=... before starting Ferry, or write ${{{var}:-default}}"
            )

        return _ENV_REF.sub(substitute, data)
    if isinstance(data, Mapping):
        return {
            key: expand_env(
                value, connection=connection, env=env, _path=f"{_path}.{key}" if _path else str(key)
            )
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [
            expand_env(value, connection=connection, env=env, _path=f"{_path}[{i}]")
            for i, value in enumerate(data)
        ]
    return data


def env_references(text: str) -> list[tuple[str, str | None]]:
    """The ``${VAR}`` references in ``text`` as ``(VAR, default)`` pairs (``default`` is
    ``None`` without ``:-``), in order, as :func:`expand_env` reads them."""
    return [(m.group(1), m.group(2)) for m in _ENV_REF.finditer(text) if m.group(1)]


_SQL_URL = re.compile(r"^[A-Za-z][\w+.-]*://")
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][\w+.-]*://[^/@:?#]*:)(?P<pw>[^@/?#]*)(?P<tail>@)")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|passwd|pwd|secret|token|key|api_key)=)[^&#]*")


def mask_url(url: str) -> str:
    """Return ``url`` with the password (and secret-looking query values) replaced by ``***``.

    ``mysql+pymysql://app:s3cret@db:3306/erp?ssl_key=x`` ->
    ``mysql+pymysql://app:***@db:3306/erp?ssl_key=x``.
    """
    masked = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}***{m.group('tail')}", url, count=1)
    return _QUERY_SECRET.sub(r"\1***", masked)


class ConnectionSpec(BaseModel):
    """Base of every connection type: a ``type`` tag and a unique ``name``.

    Subclasses narrow ``type`` to a ``Literal`` and set ``source_impl`` / ``target_impl`` to
    ``"module:Class"`` references of classes constructed as ``Class(spec, transport=...)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="Connection type; selects the connector (see the registry).")
    name: str = Field(min_length=1, description="Unique connection name referenced by schemes.")

    source_impl: ClassVar[str | None] = None
    """``module:Class`` of the source connector, or ``None`` if the type cannot be a source."""
    target_impl: ClassVar[str | None] = None
    """``module:Class`` of the target connector, or ``None`` if the type cannot be a target."""

    def label(self) -> str:
        """A safe human label, e.g. ``sql connection 'erp'`` (no secrets)."""
        return f"{self.type} connection {self.name!r}"

    def secret_values(self) -> list[str]:
        """Every non-empty secret value in this spec (for log and message redaction)."""
        found: list[str] = []
        _collect_secrets(self, found)
        return found


def _collect_secrets(value: Any, found: list[str]) -> None:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if secret:
            found.append(secret)
            password = _URL_PASSWORD.match(secret)
            if password and password.group("pw"):
                found.append(password.group("pw"))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect_secrets(getattr(value, name), found)
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect_secrets(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_secrets(item, found)


class SqlConnection(ConnectionSpec):
    """A MySQL/MariaDB, PostgreSQL or SQLite database reached through SQLAlchemy."""

    type: Literal["sql"] = "sql"
    url: SecretStr = Field(
        description=(
            "SQLAlchemy URL, e.g. mysql+pymysql://user:${DB_PASSWORD}@host:3306/db?charset=utf8mb4, "
            "postgresql+psycopg://user@host/db or sqlite:///path/to.db. Secret: shown masked."
        )
    )
    echo: bool = Field(False, description="Log every SQL statement (parameters are not logged).")
    sqlite_attach: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "SQLite only: database files to ATTACH under a schema name on every connection, so SQL "
            "written for MySQL with schema-qualified tables (ty_mes.mt_so_head) runs unchanged, "
            "e.g. {ty_mes: .ferry/ty_mes.db}."
        ),
    )

    source_impl: ClassVar[str | None] = "ferry.connectors.sql:SqlConnector"
    target_impl: ClassVar[str | None] = "ferry.connectors.sql:SqlConnector"

    @field_validator("url")
    @classmethod
    def _looks_like_a_url(cls, url: SecretStr) -> SecretStr:
        if not _SQL_URL.match(url.get_secret_value()):
            raise ValueError(
                "must be a SQLAlchemy URL such as mysql+pymysql://user:pass@host:3306/db, "
                "postgresql+psycopg://user@host/db or sqlite:///path.db"
            )
        return url

    @model_validator(mode="after")
    def _attach_only_on_sqlite(self) -> SqlConnection:
        if self.sqlite_attach and not self.url.get_secret_value().startswith("sqlite"):
            raise ValueError("sqlite_attach applies to sqlite:// URLs only; remove it for this database")
        for schema in self.sqlite_attach:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", schema):
                raise ValueError(f"sqlite_attach: schema name {schema!r} must be a plain identifier")
        return self

    def masked_url(self) -> str:
        """The URL with its password replaced by ``***`` (safe for logs and errors)."""
        return mask_url(self.url.get_secret_value())

    def label(self) -> str:
        """``sql connection 'erp' (mysql+pymysql://app:***@db/erp)``."""
        return f"sql connection {self.name!r} ({self.masked_url()})"


class HttpAuth(BaseModel):
    """How a generic HTTP API authenticates each request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["header", "query", "bearer"] = Field(
        description="header: send `name: value`; query: add `name=value` to the URL; bearer: Authorization: Bearer."
    )
    name: str = Field("Authorization", description="Header or query parameter name (ignored for bearer).")
    value: SecretStr = Field(description="The key or token. Secret.")


class Paging(BaseModel):
    """How the connector asks for the next page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    style: Literal["page", "offset", "cursor", "none"] = Field(
        "page", description="page: page number; offset: row offset; cursor: token from the response; none."
    )
    page_param: str = Field("page", description="Parameter carrying the page number (style page).")
    size_param: str = Field(
        "page_size", description="Parameter carrying the page size (all styles but none)."
    )
    start: int = Field(1, ge=0, description="Number of the first page (0 or 1).")
    page_size: PositiveInt = Field(100, description="Default page size.")
    max_page_size: PositiveInt | None = Field(None, description="Largest page size the API accepts.")
    offset_param: str = Field("offset", description="Parameter carrying the row offset (style offset).")
    cursor_param: str = Field("cursor", description="Parameter carrying the cursor (style cursor).")
    cursor_path: str | None = Field(None, description="Dotted path of the next cursor in the response.")

    @model_validator(mode="after")
    def _consistent(self) -> Paging:
        if self.style == "cursor" and not self.cursor_path:
            raise ValueError("paging style 'cursor' needs cursor_path (dotted path of the next cursor)")
        if self.max_page_size is not None and self.page_size > self.max_page_size:
            raise ValueError(f"page_size {self.page_size} exceeds max_page_size {self.max_page_size}")
        return self


class LastPage(BaseModel):
    """How the connector recognises the last page. A string is shorthand for ``{rule: ...}``.

    ``short_page``: fewer records than the page size; ``total``: offset + records >= the total at
    ``total_path``; ``empty``: an empty page; ``flag``: the value at ``flag_path`` (true/1 means
    more pages follow, or the opposite with ``flag_means: last``). An empty page always ends
    paging, whatever the rule, so a misbehaving API cannot loop forever.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["short_page", "total", "empty", "flag"] = "short_page"
    flag_path: str | None = Field(None, description="Dotted path of the more-pages flag (rule flag).")
    flag_means: Literal["more", "last"] = Field(
        "more", description="A true flag means more pages, or last page."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"rule": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _consistent(self) -> LastPage:
        if self.rule == "flag" and not self.flag_path:
            raise ValueError("last_page rule 'flag' needs flag_path, e.g. data.has_more")
        return self


class HttpConnection(ConnectionSpec):
    """A generic JSON-over-HTTP API."""

    type: Literal["http"] = "http"
    base_url: str = Field(pattern=r"^https?://", description="Root URL; a scheme's api is a path below it.")
    auth: HttpAuth | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers on every request.")
    timeout: PositiveFloat = Field(30.0, description="Seconds before a request times out.")
    paging: Paging = Field(default_factory=lambda: Paging.model_validate({}))
    records_path: str = Field(
        "", description='Dotted path of the record list; "" means the body is the list.'
    )
    total_path: str | None = Field(None, description="Dotted path of the total row count, if reported.")
    last_page: LastPage = Field(default_factory=lambda: LastPage.model_validate({}))
    body: Literal["json", "form"] = Field("json", description="Encoding of POST bodies.")
    max_window_seconds: PositiveFloat | None = Field(
        None, description="Longest time window one query may span."
    )
    rate_per_second: PositiveFloat | None = Field(None, description="Sustained request budget.")

    source_impl: ClassVar[str | None] = "ferry.connectors.http:HttpConnector"
    target_impl: ClassVar[str | None] = "ferry.connectors.http:HttpConnector"

    @model_validator(mode="after")
    def _consistent(self) -> HttpConnection:
        if self.last_page.rule == "total" and not self.total_path:
            raise ValueError("last_page rule 'total' needs total_path, e.g. data.total")
        return self


class LedgerConnection(ConnectionSpec):
    """No target system: records stay in Ferry's ledger for other schemes' lookups."""

    type: Literal["ledger"] = "ledger"

    target_impl: ClassVar[str | None] = "ferry.connectors.ledger:LedgerTarget"

    def label(self) -> str:
        """``ledger connection 'store'``."""
        return f"ledger connection {self.name!r}"
