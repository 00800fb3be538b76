"""Loading scheme files for the commands, and printing what is wrong with them.

Every command that takes scheme files loads all of them before any I/O and reports every
problem of every file (docs/style.md, rule 3); one bad file makes the command exit 2 without running
anything, so a lookup scheme and the scheme that reads it never run half-configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferry.cli._common import EXIT_INVALID, echo, redact
from ferry.errors import ConfigError, Issue, SchemeError

if TYPE_CHECKING:
    from ferry.scheme.model import Scheme

__all__ = ["describe_connection", "issues_of", "load_schemes", "print_issues", "print_warnings"]


def issues_of(exc: ConfigError) -> list[Issue]:
    """The issues of a ``SchemeError``; any other ``ConfigError`` as one issue without a path."""
    if isinstance(exc, SchemeError):
        return list(exc.issues) or [Issue("", str(exc))]
    lines = str(exc).splitlines() or [""]
    hint = next(
        (ln.strip()[len("hint:") :].strip() for ln in lines[1:] if ln.strip().startswith("hint:")), None
    )
    rest = [ln for ln in lines[1:] if not ln.strip().startswith("hint:")]
    return [Issue("", "\n".join([lines[0], *rest]), None, hint)]


SHOWN_ISSUES = 100
"""Most issues printed per file; a generated file can hold 100,000 duplicates of one mistake."""


def print_issues(file: str, issues: Sequence[Issue], *, err: bool = False) -> None:
    """``INVALID file: N errors`` then every issue (the first :data:`SHOWN_ISSUES`), its hint
    indented below it."""
    count = len(issues)
    echo(f"INVALID {file}: {count:,} error{'s' if count != 1 else ''}", style="bold red", err=err)
    for issue in issues[:SHOWN_ISSUES]:
        for line in redact(str(issue)).splitlines():
            echo(f"  {line}", err=err)
    if count > SHOWN_ISSUES:
        echo(f"  ... and {count - SHOWN_ISSUES:,} more errors; fix these first", err=err)


def print_warnings(file: str | None, warnings: Sequence[Issue], *, err: bool = False) -> None:
    """Each warning as ``  warning: path: message`` (``warning: file: path: message`` when
    ``file`` is given), its hint indented below it; the first :data:`SHOWN_ISSUES`."""
    head = f"{file}: " if file else ""
    indent = "" if file else "  "
    for issue in warnings[:SHOWN_ISSUES]:
        first, *rest = redact(str(issue)).splitlines() or [""]
        echo(f"{indent}warning: {head}{first}", style="yellow", err=err)
        for line in rest:
            echo(f"{indent}{line}", err=err)
    if len(warnings) > SHOWN_ISSUES:
        echo(f"{indent}... and {len(warnings) - SHOWN_ISSUES:,} more warnings", err=err)


def describe_connection(conn: Any) -> str:
    """A safe one-line label of a parsed connection (passwords masked), or ``-``."""
    if conn is None:
        return "-"
    label = getattr(conn, "label", None)
    if callable(label):
        return redact(str(label()))
    if isinstance(conn, dict):
        return redact(f"{conn.get('type', '?')} connection {conn.get('name', '?')!r}")
    return redact(str(conn))


def load_schemes(paths: Sequence[Path]) -> list[Scheme]:
    """Load every scheme file, or print every problem of every file and exit 2.

    The metadata warnings of each scheme (keys Ferry does not act on) are printed once, to
    stderr, as ``warning: FILE: path: message`` lines; they never stop the command.

    Raises:
        typer.Exit: with code 2 when any file is missing or invalid, two files share an id,
            or the schemes look up in each other in a cycle (issues already printed).
    """
    import typer

    from ferry.scheme.loader import load_scheme
    from ferry.scheme.lookups import lookup_cycle_issues

    schemes: list[Scheme] = []
    bad = 0
    for path in paths:
        try:
            schemes.append(load_scheme(path))
        except ConfigError as exc:
            print_issues(str(path), issues_of(exc), err=True)
            bad += 1
    if bad:
        echo(
            f"{bad} of {len(paths)} scheme file{'s' if len(paths) != 1 else ''} invalid; nothing was run",
            err=True,
        )
        raise typer.Exit(EXIT_INVALID)
    ids: dict[str, Path] = {}
    for path, scheme in zip(paths, schemes, strict=True):
        if scheme.id in ids and ids[scheme.id] != path:
            echo(
                f"INVALID {path}: scheme id {scheme.id!r} is also the id of {ids[scheme.id]}",
                style="bold red",
                err=True,
            )
            echo("  hint: every scheme needs its own id; the ledger is keyed by it", err=True)
            raise typer.Exit(EXIT_INVALID)
        ids[scheme.id] = path
    cycle = lookup_cycle_issues(schemes)
    if cycle:
        print_issues("lookups", cycle, err=True)
        raise typer.Exit(EXIT_INVALID)
    for path, scheme in zip(paths, schemes, strict=True):
        print_warnings(str(path), scheme.warnings, err=True)
    return schemes
