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

Secrets are :class:`pydantic.SecretStr` (``repr`` shows ``**********``) -- credentials, SQL
URLs and every ``headers:`` value -- and :meth:`ConnectionSpec.secret_values` lists them, with
every value a ``${VAR}`` reference expanded to, for redaction (:mod:`ferry._redact`). ``${VAR}``
references are expanded by :func:`expand_env` when the registry loads a spec.

A connection type is a subclass of :class:`ConnectionSpec` registered by name in
:data:`ferry.connectors.registry.CONNECTION_TYPES`; its ``source_impl`` / ``target_impl``
class variables name the runtime class (``"module:Class"``) built by the registry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from ferry._redact import mask_url as _mask_url
from ferry._redact import url_password
from ferry.errors import UnsetVariableError

__all__ = [
    "ConnectionSpec",
    "HttpAuth",
    "HttpConnection",
    "LastPage",
    "LedgerConnection",
    "Paging",
    "SqlConnection",
    "WriteAck",
    "env_references",
    "expand_env",
    "mask_url",
    "status_text",
]

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(
    data: Any,
    *,
    connection: str,
    env: Mapping[str, str] | None = None,
    found: list[tuple[str, str]] | None = None,
    _path: str = "",
) -> Any:
    """Return ``data`` with ``${VAR}`` references in every string replaced from ``env``.

    ``${VAR:-default}`` uses ``default`` when ``VAR`` is unset and ``$$`` is a literal ``$``.
    Containers are copied, never mutated. Each value taken from ``env`` is appended to
    ``found`` as ``(field path, value)``: it is a secret (a default written in the file is not).

    Raises:
        UnsetVariableError: Referenced variables are not set (and have no default): every one
            of them, each with its field path. The message names the connection, the fields and
            the variables, never any value.
    """
    missing: list[tuple[str, str]] = []
    expanded = _expand(data, os.environ if env is None else env, _path, missing, found)
    if missing:
        raise UnsetVariableError(connection, missing)
    return expanded


def _expand(
    data: Any,
    env: Mapping[str, str],
    path: str,
    missing: list[tuple[str, str]],
    found: list[tuple[str, str]] | None,
) -> Any:
    """``data`` expanded; every unset variable is appended to ``missing`` as (path, name), every
    value taken from ``env`` to ``found`` (when given) as (path, value)."""
    if isinstance(data, str):
        if "$" not in data:
            return data

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            var, default = match.group(1), match.group(2)
            if var in env:
                if found is not None:
                    found.append((path or "(root)", env[var]))
                return env[var]
            if default is not None:
                return default
            missing.append((path, var))
            return ""

        return _ENV_REF.sub(substitute, data)
    if isinstance(data, Mapping):
        return {
            key: _expand(value, env, f"{path}.{key}" if path else str(key), missing, found)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [_expand(value, env, f"{path}[{i}]", missing, found) for i, value in enumerate(data)]
    return data


def env_references(text: str) -> list[tuple[str, str | None]]:
    """The ``${VAR}`` references in ``text`` as ``(VAR, default)`` pairs (``default`` is
    ``None`` without ``:-``), in order, as :func:`expand_env` reads them."""
    return [(m.group(1), m.group(2)) for m in _ENV_REF.finditer(text) if m.group(1)]


_SQL_URL = re.compile(r"^[A-Za-z][\w+.-]*://")


def mask_url(url: str) -> str:
    """Return ``url`` with the password (and secret-looking query values) replaced by ``***``.

    The password is found by SQLAlchemy's own URL parser, so one holding ``/``, ``#``, ``?``
    or a percent-encoded ``@`` is masked whole:
    ``mysql+pymysql://app:p/ss@db:3306/erp`` -> ``mysql+pymysql://app:***@db:3306/erp``.
    """
    return _mask_url(url)


class ConnectionSpec(BaseModel):
    """Base of every connection type: a ``type`` tag and a unique ``name``.

    Subclasses narrow ``type`` to a ``Literal`` and set ``source_impl`` / ``target_impl`` to
    ``"module:Class"`` references of classes constructed as ``Class(spec, transport=...)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="Connection type; selects the connector (see the registry).")
    name: str = Field(min_length=1, description="Unique connection name referenced by schemes.")

    _from_env: tuple[str, ...] = PrivateAttr(default=())

    source_impl: ClassVar[str | None] = None
    """``module:Class`` of the source connector, or ``None`` if the type cannot be a source."""
    target_impl: ClassVar[str | None] = None
    """``module:Class`` of the target connector, or ``None`` if the type cannot be a target."""

    def label(self) -> str:
        """A safe human label, e.g. ``sql connection 'erp'`` (no secrets)."""
        return f"{self.type} connection {self.name!r}"

    def secret_values(self) -> list[str]:
        """Every non-empty secret value in this spec, for log and message redaction: each
        ``SecretStr`` field and URL password, each ``headers:`` value, and each value that
        came from a ``${VAR}`` when the spec was loaded."""
        found: list[str] = []
        _collect_secrets(self, found)
        found += [v for v in self._from_env if v]
        return list(dict.fromkeys(found))

    def secret_names(self) -> list[str]:
        """Header and query parameter names whose values are credentials (masked in text
        whatever their length, see :func:`ferry._redact.remember_secrets`)."""
        return []

    def keep_env_values(self, values: Iterable[str]) -> None:
        """Remember the values ``${VAR}`` references expanded to (the loader calls this)."""
        self._from_env = tuple(values)


def _collect_secrets(value: Any, found: list[str]) -> None:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        found += [v for v in (secret, url_password(secret)) if v]  # a URL's password on its own too
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect_secrets(getattr(value, name), found)
    elif isinstance(value, Mapping | list | tuple):
        for item in value.values() if isinstance(value, Mapping) else value:
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


_OK_CODES: tuple[int | str, ...] = (0, 200)


class WriteAck(BaseModel):
    """What a 2xx answer to a target write must hold to acknowledge its records.

    ``code_path`` checks a business status code (many APIs answer HTTP 200 with
    ``{"code": 500, "message": ...}``); ``id_path`` asks for the id the API promises for what it
    wrote. ``*`` in ``id_path`` stands for every item of a list (``data.list.*.id``): a list body
    (operation ``batchArraySave``) needs one id per record, in order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    code_path: str | None = Field(
        None,
        description=(
            "Dotted path of the answer's business status code, e.g. code; a code not in ok_codes "
            "fails every record of the call, quoting the answer."
        ),
    )
    ok_codes: list[int | str] = Field(
        default_factory=lambda: list(_OK_CODES),
        description="Codes at code_path that mean success (compared as text).",
    )
    id_path: str | None = Field(
        None,
        description=(
            "Dotted path of the id the API returns for what it wrote, e.g. data.id, or data.list.*.id "
            "for one id per record of a list body; a record without a non-empty id there is an error "
            "quoting the answer."
        ),
    )

    @field_validator("id_path")
    @classmethod
    def _one_star(cls, value: str | None) -> str | None:
        if value is not None and value.split(".").count("*") > 1:
            raise ValueError("id_path may hold one * (every item of a list), e.g. data.list.*.id")
        return value


class HttpConnection(ConnectionSpec):
    """A generic JSON-over-HTTP API."""

    type: Literal["http"] = "http"
    base_url: str = Field(pattern=r"^https?://", description="Root URL; a scheme's api is a path below it.")
    auth: HttpAuth | None = None
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Extra headers on every request. Secret: every value is masked in output.",
    )
    timeout: PositiveFloat = Field(30.0, description="Seconds before a request times out.")
    paging: Paging = Field(default_factory=lambda: Paging.model_validate({}))
    records_path: str = Field(
        "",
        description=(
            'Dotted path of the record list; "" means the body is the list. A scheme whose source '
            "metadata declares otherResponse DataKey uses that path instead."
        ),
    )
    status_path: str | None = Field(
        None,
        description=(
            "Dotted path of the status every 2xx answer carries (QEasy otherResponse StatusKey); "
            "an answer whose status is not status_ok is an error quoting the vendor's message."
        ),
    )
    status_ok: str | None = Field(
        None,
        description="The status that means success (QEasy StatusValue), compared as text (true/false for booleans).",
    )
    total_path: str | None = Field(None, description="Dotted path of the total row count, if reported.")
    last_page: LastPage = Field(default_factory=lambda: LastPage.model_validate({}))
    body: Literal["json", "form"] = Field("json", description="Encoding of POST bodies.")
    max_window_seconds: PositiveFloat | None = Field(
        None, description="Longest time window one query may span."
    )
    rate_per_second: PositiveFloat | None = Field(None, description="Sustained request budget.")
    write_ack: WriteAck | None = Field(
        None,
        description=(
            "Target only: what a 2xx answer must hold to acknowledge the records it wrote (a status code, "
            "the id the API promises). Unset: a 2xx answer acknowledges every record of the call."
        ),
    )

    source_impl: ClassVar[str | None] = "ferry.connectors.http:HttpConnector"
    target_impl: ClassVar[str | None] = "ferry.connectors.http:HttpConnector"

    def secret_names(self) -> list[str]:
        """Every ``headers:`` name, and the auth header or query parameter name."""
        names = list(self.headers)
        if self.auth is not None and self.auth.type != "bearer":
            names.append(self.auth.name)
        return names

    @model_validator(mode="after")
    def _consistent(self) -> HttpConnection:
        if self.last_page.rule == "total" and not self.total_path:
            raise ValueError("last_page rule 'total' needs total_path, e.g. data.total")
        if (self.status_path is None) != (self.status_ok is None):
            raise ValueError("status_path and status_ok go together, e.g. status_path: code, status_ok: '0'")
        return self

    @field_validator("status_ok", mode="before")
    @classmethod
    def _status_as_text(cls, value: Any) -> Any:
        return None if value is None else status_text(value)


def status_text(value: Any) -> str:
    """A status value as text, the way ``status_ok`` is compared: ``true``/``false`` for
    booleans, ``str()`` otherwise (``0`` and ``"0"`` are the same status)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


class LedgerConnection(ConnectionSpec):
    """No target system: records stay in Ferry's ledger for other schemes' lookups."""

    type: Literal["ledger"] = "ledger"

    target_impl: ClassVar[str | None] = "ferry.connectors.ledger:LedgerTarget"

    def label(self) -> str:
        """``ledger connection 'store'``."""
        return f"ledger connection {self.name!r}"
