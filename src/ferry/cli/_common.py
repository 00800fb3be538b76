"""What every ``ferry`` command shares: global state, consoles, error handling, formatting.

Exit codes are the same for every command:

- ``0`` everything went well;
- ``1`` a run failed, or some records failed or are dead;
- ``2`` invalid input or configuration: a bad scheme (``SchemeError``), a bad connection or
  store URL (``ConfigError``), an unknown file, id or option value.

Errors print as one clear line on stderr (plus the lines of a multi-line message, such as a
hint), never a traceback unless the global ``--debug`` is given. Every line an error prints
goes through :func:`redact`, so a database URL's password never reaches the terminal.

Everything printed goes through one console (:func:`stdout_console`, :func:`echo`) that shows
control characters as escapes (``\\x1b``, ``\\r``, ``\\u202e``): a record id or a vendor's
message carrying terminal escape sequences cannot recolour, rewrite or hide what is shown.
Newlines and tabs are kept.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.segment import Segment

from ferry._redact import mask_url
from ferry._redact import redact as redact_text
from ferry.errors import ConfigError, FerryError

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = [
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_OK",
    "SHANGHAI",
    "CliState",
    "echo",
    "escape_controls",
    "fail",
    "fmt_time",
    "guarded",
    "open_store",
    "parse_time",
    "print_json",
    "redact",
    "set_state",
    "state",
    "stdout_console",
    "to_json",
    "truncate",
]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
SHANGHAI = ZoneInfo("Asia/Shanghai")
"""Zone of naive times typed on the command line and of times shown in tables (docs/architecture.md §4)."""

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class CliState:
    """The global options (``ferry --store URL --debug COMMAND``)."""

    store_url: str | None = None
    debug: bool = False


_STATE: ContextVar[CliState | None] = ContextVar("ferry_cli_state", default=None)


def set_state(value: CliState) -> None:
    """Record the global options; the root callback calls this before any command runs."""
    _STATE.set(value)


def state() -> CliState:
    """The global options of the running command (defaults outside a command)."""
    return _STATE.get() or CliState()


# -- output --------------------------------------------------------------------------------

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides."""
_JSON_CONTROLS = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What a JSON encoder leaves as it is among :data:`_CONTROLS` (it escapes the C0 ones)."""


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with its control characters shown as escapes (``\\x1b[31m`` stays visible as
    text); newlines and tabs are kept."""
    return _CONTROLS.sub(_escaped, text) if _CONTROLS.search(text) else text


class _Console(Console):
    """A rich console that escapes control characters in the text it prints (never in its own
    styles or cursor moves), wherever the text came from."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            segment if segment.control else Segment(escape_controls(segment.text), segment.style)
            for segment in buffer
        )


def _console(*, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    # A pipe or a CI log has no width; 80 columns would wrap the run tables needlessly.
    width = None if tty else int(os.environ.get("COLUMNS") or 120)
    return _Console(file=stream, width=width, highlight=False, soft_wrap=not tty)


def stdout_console() -> Console:
    """A rich console on the current stdout (tables, live progress when it is a terminal)."""
    return _console(stderr=False)


def echo(text: str = "", *, style: str | None = None, err: bool = False) -> None:
    """Print ``text`` literally (no rich markup: scheme paths contain ``[0]``), one soft-wrapped line."""
    _console(stderr=err).print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def redact(text: str) -> str:
    """Mask passwords in URLs (``mysql://u:***@h/db``) and secret-looking query values in ``text``."""
    return redact_text(text)


def truncate(text: str | None, width: int) -> str:
    """First line of ``text`` cut to ``width`` characters with an ellipsis ('' for None)."""
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    more = len(text.strip().splitlines()) > 1
    if len(line) > width or more:
        return line[: max(width - 1, 1)] + "…"
    return line


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "get_secret_value"):
        return "**********"
    return str(value)


def to_json(data: Any, *, indent: int | None = 2) -> str:
    """JSON text with Chinese as-is (not ``\\u``-escaped); datetimes, decimals become strings."""
    return json.dumps(data, ensure_ascii=False, indent=indent, default=_default)


def print_json(data: Any) -> None:
    """Print ``data`` as pretty JSON on stdout (highlighted on a terminal, plain otherwise)."""
    console = stdout_console()
    if console.is_terminal:
        console.print_json(to_json(data, indent=None), indent=2, ensure_ascii=False)
    else:
        text = to_json(data)  # C0 controls are escaped by JSON itself; these stay valid JSON
        sys.stdout.write(_JSON_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
        sys.stdout.flush()


def fmt_time(value: datetime | None, tz: ZoneInfo = SHANGHAI) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in ``tz`` (aware values converted; naive ones shown as they are)."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(tz)
    return value.strftime("%Y-%m-%d %H:%M:%S")


# -- input ---------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*(?:ago)?\s*$", re.IGNORECASE)
_RELATIVE_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, *, option: str, tz: ZoneInfo = SHANGHAI, now: datetime | None = None) -> datetime:
    """Parse a command-line time into an aware datetime.

    Accepts ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]``, ISO 8601 with ``T`` and an offset, and a
    relative ``30m`` / ``2h`` / ``7d`` (that long before ``now``). Naive times are in ``tz``
    (Asia/Shanghai unless the scheme says otherwise).

    Raises:
        typer.BadParameter: ``text`` is none of those (click turns it into exit code 2).
    """
    raw = text.strip()
    rel = _RELATIVE.match(raw)
    if rel:
        seconds = float(rel.group(1)) * _RELATIVE_UNITS[rel.group(2).lower()]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        value = datetime.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a time; write 'YYYY-MM-DD HH:MM:SS', 'YYYY-MM-DD' or a relative 2h / 7d",
            param_hint=option,
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


# -- errors --------------------------------------------------------------------------------


def fail(message: str, code: int = EXIT_INVALID, *, hint: str | None = None) -> NoReturn:
    """Print ``error: message`` (and ``hint``) on stderr and exit with ``code``."""
    lines = redact(message).splitlines() or [""]
    echo(f"error: {lines[0]}", style="bold red", err=True)
    for line in lines[1:]:
        echo(line, err=True)
    if hint:
        echo(f"  hint: {redact(hint)}", err=True)
    raise typer.Exit(code)


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a command body, turning Ferry's errors into a clear message and the right exit code.

    ``ConfigError`` (and so ``SchemeError``) exits 2, any other ``FerryError`` 1, and an
    unexpected exception 1 with ``internal error`` and its type. ``--debug`` adds the traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # usage errors (exit 2) and deliberate exits
        except ConfigError as exc:
            _debug_traceback()
            fail(str(exc), EXIT_INVALID)
        except FerryError as exc:
            _debug_traceback()
            fail(str(exc), EXIT_FAILED)
        except KeyboardInterrupt:
            echo("interrupted", style="yellow", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            _debug_traceback()
            hint = None if state().debug else "run again with `ferry --debug ...` to see the traceback"
            fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_FAILED, hint=hint)

    return wrapper


def _debug_traceback() -> None:
    if state().debug:
        echo(redact(traceback.format_exc()).rstrip(), err=True)


# -- store ---------------------------------------------------------------------------------


@contextmanager
def open_store() -> Iterator[Store]:
    """Open the store named by the global ``--store`` (else ``FERRY_STORE_URL`` / ``$FERRY_HOME``)."""
    from ferry.store import open_store as _open

    url = state().store_url
    try:
        store = _open(url)
    except FerryError:
        raise
    except Exception as exc:  # a driver's own error: the URL or the database is wrong
        where = (
            redact(mask_url(url)) if url else "the default store (FERRY_STORE_URL or $FERRY_HOME/ferry.db)"
        )
        raise ConfigError(
            f"cannot open the store {where}: {type(exc).__name__}: {redact(str(exc))}\n"
            "  hint: pass --store sqlite:///path/ferry.db, mysql+pymysql://user:pw@host/db or postgresql+psycopg://..."
        ) from exc
    try:
        yield store
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
