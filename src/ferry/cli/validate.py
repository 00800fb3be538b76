"""``ferry validate FILE...``: check schemes and bare QEasy metadata without touching anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ferry._text import printable, shown
from ferry.cli._common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, echo, guarded
from ferry.cli._load import describe_connection, issues_of, print_issues, print_warnings
from ferry.cli._sample import SampleFrom, sample_schemes
from ferry.errors import ConfigError

__all__ = ["register", "validate"]


def _describe(loaded: Any) -> str:
    from ferry.scheme.metadata import SourceMetadata
    from ferry.scheme.model import Scheme
    from ferry.transform.plan import compile_scheme

    if isinstance(loaded, dict):
        return "connections: " + ", ".join(describe_connection(conn) for conn in loaded.values())
    if isinstance(loaded, Scheme):
        plan = compile_scheme(loaded)  # compiled by the loader once valid: what a run uses
        source = describe_connection(plan.source.connection)
        target = describe_connection(plan.target.connection)
        return f"scheme {shown(loaded.id)} ({printable(loaded.name)}); source: {source}; target: {target}"
    side = "source" if isinstance(loaded, SourceMetadata) else "target"
    return f"{side} metadata, api {shown(getattr(loaded, 'api', '?'))}"


def _lookup_cycle(schemes: list[Any]) -> bool:
    """Print the lookup cycle among ``schemes`` (files fine one by one, not together), if any."""
    from ferry.scheme.lookups import lookup_cycle_issues

    cycle = lookup_cycle_issues(schemes)
    if cycle:
        print_issues("lookups between the schemes above", cycle)
    return bool(cycle)


def _validate_file(file: str) -> tuple[Any, int, int]:
    """Validate one file and print what was found: ``(the loaded object or None when invalid,
    errors, warnings)``. An invalid file's warnings are printed too (an unknown key is often
    the cause of its error)."""
    from ferry.scheme.loader import file_warnings, load_any

    name = printable(file, 300)
    try:
        loaded = load_any(Path(file))
    except ConfigError as exc:
        issues = issues_of(exc)
        print_issues(name, issues)
        warnings = file_warnings(file) if "\0" not in file else []
        print_warnings(None, warnings)
        return None, len(issues), len(warnings)
    echo(f"OK {name}: {_describe(loaded)}", style="green")
    for _, table in sorted(getattr(loaded, "value_maps", {}).items()):
        echo(f"  value map {printable(table.describe())}")
    warnings = getattr(loaded, "warnings", [])
    print_warnings(None, warnings)
    return loaded, 0, len(warnings)


def _summary(total: int, bad: int, errors: int, warned: int, *, cycle: bool) -> str:
    """``3 files: 2 valid, 1 invalid (4 errors); 2 warnings``."""
    summary = f"{total} file{'s' if total != 1 else ''}: {total - bad} valid, {bad} invalid"
    if errors:
        summary += f" ({errors:,} error{'s' if errors != 1 else ''})"
    if warned:
        summary += f"; {warned:,} warning{'s' if warned != 1 else ''}"
    if cycle:
        summary += "; their lookups form a cycle"
    return summary


def _sample(schemes: list[Any], origin: SampleFrom | None) -> int:
    """``--sample``: warn about placeholders no sampled record has; exit code 1 when a scheme
    could not be sampled, else 0."""
    if origin is None:
        return EXIT_OK
    return EXIT_FAILED if sample_schemes(schemes, origin) else EXIT_OK


@guarded
def validate(
    files: Annotated[
        list[str],  # not Path: a path with a NUL byte is reported as such, not as a usage error
        typer.Argument(
            metavar="FILE",
            help="Scheme files (.yaml), bare QEasy metadata (.json/.jsonc) or connections files.",
            show_default=False,
        ),
    ],
    sample: Annotated[
        SampleFrom | None,
        typer.Option(
            "--sample",
            help="Also read sample records of each scheme -- one page of the live source (the first "
            "window with records) or the newest ledger rows -- and warn about every placeholder "
            "none of them has. Connects to the source (live) or opens the store (ledger).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check scheme files, QEasy metadata and connections files; print every problem with its
    path and a hint (every unset ${VAR} of a file at once).

    A valid scheme's value maps are listed, each with its entry count, unmatched policy and
    version (the digest of its content). A metadata key Ferry does not act on is a warning line, never an error: a QEasy key Ferry
    does not support says what it does in QEasy, an unknown key names the nearest valid one.

    Nothing is fetched or written (`ferry check` connects for real), but with --sample: then
    each valid scheme's placeholders are checked against sample records (warnings; exit code
    1 when a scheme cannot be sampled). Exit code 0 when every file is valid (with or without
    warnings), 2 otherwise. Only regular files are read (not a FIFO, device or directory),
    JSON up to 16 MB and YAML up to 1 MB; nesting deeper than 100 levels, integers beyond 64
    bits and NaN or infinite numbers are reported with their path.

    Example:

        ferry validate examples/*/scheme.yaml metadata/orders.source.json
    """
    from ferry.scheme.model import Scheme

    bad = errors = warned = 0
    schemes: dict[str, Scheme] = {}
    for file in files:
        loaded, found, warnings = _validate_file(file)
        bad += loaded is None
        errors += found
        warned += warnings
        if isinstance(loaded, Scheme):
            schemes[loaded.id] = loaded
    cycle = _lookup_cycle(list(schemes.values()))
    sampled = _sample(list(schemes.values()), sample)
    echo(_summary(len(files), bad, errors, warned, cycle=cycle), style="bold")
    raise typer.Exit(EXIT_INVALID if bad or cycle else sampled)


def register(app: typer.Typer) -> None:
    """Add ``validate`` to ``app``."""
    app.command("validate")(validate)
