"""One error hierarchy, grouped by what the caller should do.

::

    FerryError
    ├── ConfigError            fix the scheme, connection or credentials; never retried (exit 2)
    │   ├── SchemeError        a scheme failed validation; carries every Issue with its path
    │   ├── ExpressionError    a value expression failed to parse (path, column, caret)
    │   └── UnsetVariableError ${VAR} references whose variables are not set (all of them)
    ├── RetriableError         back off and retry (5xx, timeouts, dropped connections)
    │   ├── ThrottledError     the vendor said "slow down"; wait ``retry_after`` then retry
    │   └── AuthExpiredError   token or session expired; log in again, then retry
    ├── FatalError             abort the run; committed state stays valid
    ├── RecordError            this record cannot be processed; record it, dead-letter, continue
    └── Quarantined            a data-quality rule holds this record for an operator (not retried)

Foreign exceptions are translated once, at the boundary, with ``raise ... from exc``.
Messages never contain credentials: connectors quote the vendor's code and text only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "AuthExpiredError",
    "ConfigError",
    "ExpressionError",
    "FatalError",
    "FerryError",
    "Issue",
    "Quarantined",
    "RecordError",
    "RetriableError",
    "SchemeError",
    "ThrottledError",
    "UnsetVariableError",
]


class FerryError(Exception):
    """Base of every error Ferry raises on purpose."""


class ConfigError(FerryError):
    """The scheme, a connection or credentials are wrong; retrying cannot help."""


@dataclass(frozen=True)
class Issue:
    """One problem found in a scheme, located by a dotted/indexed path.

    ``severity`` ``"error"`` makes the scheme invalid; ``"warning"`` does not (a metadata key
    Ferry does not honour, an unknown key): validation returns warnings apart from errors and
    ``ferry validate`` prints them as ``warning`` lines.
    """

    path: str
    message: str
    got: Any = None
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        """``path: message (got value)`` and an indented hint; every part is cut to a readable
        length (a value from a hostile file can be megabytes long)."""
        from ferry._text import clip, shown

        message = clip(self.message, 1000)
        text = f"{clip(self.path, 300)}: {message}" if self.path else message
        if self.got is not None:
            text += f" (got {shown(self.got, 80)})"
        if self.hint:
            text += f"\n  hint: {clip(self.hint, 1000)}"
        return text


class SchemeError(ConfigError):
    """A scheme is invalid. ``issues`` lists every problem found, each with its path."""

    def __init__(self, issues: list[Issue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        from ferry._text import printable

        head = f"{printable(source, 300)}: " if source else ""
        count = len(self.issues)
        lines = [f"{head}{count:,} error{'s' if count != 1 else ''} in scheme"]
        lines += [str(issue) for issue in self.issues[:100]]
        if count > 100:
            lines.append(f"... and {count - 100:,} more errors")
        super().__init__("\n".join(lines))


class ExpressionError(ConfigError):
    """A value expression cannot be compiled.

    ``column`` is 1-based within ``text``; ``str(e)`` shows the text with a caret under it.
    """

    def __init__(self, message: str, text: str = "", column: int | None = None, path: str = "") -> None:
        self.message = message
        self.text = text
        self.column = column
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.path}: " if self.path else ""
        col = f" (col {self.column})" if self.column else ""
        out = f"{where}{self.message}{col}"
        if self.text and self.column:
            out += f"\n  {self.text}\n  {' ' * (self.column - 1)}^"
        return out

    def at(self, path: str) -> ExpressionError:
        """Return a copy located at ``path`` (the scheme path of the value)."""
        return ExpressionError(self.message, self.text, self.column, path)


class UnsetVariableError(ConfigError):
    """``${VAR}`` references of one connection (or channel) whose variables are not set.

    ``missing`` lists every ``(field path, variable)`` found in one pass, so a file's unset
    variables are reported together, not one per attempt.
    """

    def __init__(self, connection: str, missing: list[tuple[str, str]]) -> None:
        self.connection = connection
        self.missing = list(missing)
        lines = [self.describe(field, var) for field, var in self.missing]
        lines[0] = f"connection {connection!r}: {lines[0]}"
        lines[1:] = [f"  {line}" for line in lines[1:]]
        lines.append(f"  hint: {self.hint(*dict.fromkeys(var for _, var in self.missing))}")
        super().__init__("\n".join(lines))

    @staticmethod
    def describe(field: str, var: str) -> str:
        """``field url references ${DB_URL} but environment variable DB_URL is not set``."""
        return f"field {field or '(root)'} references ${{{var}}} but environment variable {var} is not set"

    @staticmethod
    def hint(*names: str) -> str:
        """What to do: set the variables (exported, or in the env file), or give defaults."""
        default = "${" + names[0] + ":-default}" if len(names) == 1 else "${VAR:-default}"
        them = "it" if len(names) == 1 else "them"
        return (
            f"set {' '.join(names)} (export {them}, or write {them} in the file of "
            f"`ferry --env-file FILE`), or write {default}"
        )

    def issues(self, prefix: str) -> list[Issue]:
        """One :class:`Issue` per unset variable, located at ``<prefix>.<field>``."""
        return [
            Issue(f"{prefix}.{field}" if field else prefix, self.describe(field, var), None, self.hint(var))
            for field, var in self.missing
        ]


class RetriableError(FerryError):
    """A transient failure: retry with backoff."""


class ThrottledError(RetriableError):
    """The vendor throttled us; wait ``retry_after`` seconds before retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthExpiredError(RetriableError):
    """The token or session expired; the connector logs in again before the retry."""


class FatalError(FerryError):
    """Abort the run. Everything committed so far stays valid and resumable."""


class RecordError(FerryError):
    """One record cannot be mapped or was rejected by the target.

    The record goes to ``error`` (and ``dead`` after the last attempt) with ``reason``;
    the rest of the batch continues.
    """

    def __init__(self, reason: str, record_id: str | None = None, retriable: bool = False) -> None:
        self.reason = reason
        self.record_id = record_id
        self.retriable = retriable
        super().__init__(f"record {record_id}: {reason}" if record_id else reason)


class Quarantined(FerryError):
    """A data-quality rule holds this record: it is stored with status ``quarantined``, outside
    the retry ladder, until an operator releases, edits or drops it.

    Args:
        rule: The rule's name as the scheme gives it (``quality.target[2]`` or its ``name``),
            or ``map:<table>`` for a value map, ``drift`` for schema drift.
        path: Where the value sits (``items.qty``, ``target.request[3].value``).
        value: The value that broke the rule (shown clipped).
        reason: What the rule says, in the user's words (``must be at least 0``).
    """

    def __init__(self, rule: str, path: str, value: Any, reason: str, record_id: str | None = None) -> None:
        from ferry._text import shown

        self.rule = rule
        self.path = path
        self.value = value
        self.reason = reason
        self.record_id = record_id
        head = f"record {record_id}: " if record_id else ""
        super().__init__(f"{head}quarantined by {rule}: {path} = {shown(value, 80)}: {reason}")
