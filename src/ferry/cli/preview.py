"""``ferry preview SCHEME.yaml``: what a run would fetch and send, without writing anything."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferry.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    echo,
    fmt_time,
    guarded,
    open_store,
    parse_time,
    print_json,
    redact,
)
from ferry.cli._load import describe_connection, load_schemes
from ferry.cli._sample import placeholder_warnings, print_placeholder_warnings, warning_documents

if TYPE_CHECKING:
    from ferry.engine.preview import PreviewResult
    from ferry.scheme.model import Scheme

__all__ = ["preview", "preview_document", "register"]


def preview_document(scheme: Scheme, result: PreviewResult, *, from_ledger: bool) -> dict[str, Any]:
    """The preview as one JSON-able mapping (what ``--json`` prints)."""
    window = result.window
    return {
        "scheme": scheme.id,
        "from": "ledger" if from_ledger else "source",
        "source": describe_connection(scheme.source_connection),
        "target": describe_connection(scheme.target_connection),
        "window": None if window is None else {"start": window.start, "end": window.end},
        "empty_windows": []
        if result.walk is None
        else [{"start": w.start, "end": w.end} for w in result.walk.empty],
        "request": result.request,
        "records": [{"id": record_id, "payload": payload} for record_id, payload in result.records],
        "deliveries": [
            {
                "api": d.api,
                "method": d.method,
                "record_ids": list(d.record_ids),
                "options": d.options,
                "body": d.body,
            }
            for d in result.deliveries
        ],
        "failures": [{"id": record_id, "reason": reason} for record_id, reason in result.failures.items()],
    }


def _print_skipped(doc: dict[str, Any], scheme: Scheme) -> None:
    """``122 empty windows skipped, from ... to ...`` (nothing when none was empty)."""
    skipped = doc["empty_windows"]
    if not skipped:
        return
    count, first, last = len(skipped), skipped[0], skipped[-1]
    echo(
        f"{count} empty window{'s' if count != 1 else ''} {'skipped' if doc['records'] else 'asked'}, "
        f"from {fmt_time(first['start'], scheme.tz)} to {fmt_time(last['end'], scheme.tz)}",
        style="yellow",
    )


def _print_human(doc: dict[str, Any], scheme: Scheme) -> None:
    echo(f"scheme {doc['scheme']!r} ({scheme.name})", style="bold")
    echo(f"source: {doc['source']}")
    echo(f"target: {doc['target']}")
    echo()
    if doc["from"] == "ledger":
        echo("Sample records come from the ledger (no source request).", style="bold")
    else:
        window = doc["window"]
        span = (
            f" for window [{fmt_time(window['start'], scheme.tz)}, {fmt_time(window['end'], scheme.tz)})"
            if window
            else ""
        )
        _print_skipped(doc, scheme)
        echo(f"Source request{span}:", style="bold")
        print_json(doc["request"])
    echo()
    records = doc["records"]
    echo(f"Mapped records ({len(records)}):", style="bold")
    if not records:
        echo("  (none)")
    for item in records:
        echo(f"record {item['id']}", style="cyan")
        print_json(item["payload"])
    echo()
    deliveries = doc["deliveries"]
    echo(f"Deliveries ({len(deliveries)}):", style="bold")
    if not deliveries:
        echo("  (none)")
    for i, d in enumerate(deliveries, 1):
        ids = ", ".join(d["record_ids"])
        echo(f"delivery {i}: {d['method']} {d['api']} -> records {ids}", style="cyan")
        if d["options"]:
            echo("options:")
            print_json(d["options"])
        echo("body:")
        print_json(d["body"])
    failures = doc["failures"]
    if failures:
        echo()
        echo(f"Mapping failures ({len(failures)}):", style="bold red")
        for item in failures:
            echo(f"  {item['id']}: {redact(item['reason'])}")


@guarded
def preview(
    scheme_file: Annotated[
        Path, typer.Argument(metavar="SCHEME", help="The scheme file.", show_default=False)
    ],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Sample records to map.")] = 5,
    from_ledger: Annotated[
        bool,
        typer.Option(
            "--from-ledger", help="Map records already in the ledger instead of fetching one source page."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="'YYYY-MM-DD HH:MM:SS'",
            help="Look for records from this time on (with --until: exactly the window [since, until)). "
            "Naive times are in the scheme's zone.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="'YYYY-MM-DD HH:MM:SS'",
            help="Look for records in windows up to this time instead of now.",
            show_default=False,
        ),
    ] = None,
    max_windows: Annotated[
        int | None,
        typer.Option(
            "--max-windows",
            min=1,
            max=100_000,
            help="Windows asked for a page at most while looking for the first that holds records "
            "[default: 400].",
            show_default=False,
        ),
    ] = None,
    fill_response: Annotated[
        bool,
        typer.Option(
            "--fill-response",
            help="Write the sampled records' fields and types into the source metadata's `response` "
            "(QEasy's 自动填充响应), in the file it comes from; declared fields are kept.",
        ),
    ] = False,
) -> None:
    """Show what a run would send: the rendered source request, each sample record's mapped
    payload, the packed target calls, and every mapping failure with its reason.

    Without --from-ledger one page is fetched from the source: the first page of the first
    window that holds records, walking the windows a run would read now (from the cursor or
    window.start) forward, at most --max-windows of them; the empty ones are counted.
    --since/--until choose the windows instead. Every placeholder of the target request
    (and every condition field) that no sampled record has, nor the source's `response`
    declares, is printed as a warning with a did-you-mean.

    Writes nothing (but the source metadata with --fill-response): no ledger row, no window
    cursor, no target call (lookups read other schemes' ledgers). Exit code 1 when a sample
    record fails to map, 2 when the scheme is invalid.

    Example:

        ferry preview examples/001-kuaimai-aftersale-to-mysql/scheme.yaml --limit 3

        ferry preview scheme.yaml --since "2024-05-20" --until "2024-05-21" --fill-response
    """
    from ferry.engine.preview import preview as run_preview
    from ferry.engine.sample import MAX_WINDOWS

    (scheme,) = load_schemes([scheme_file])
    start, end = _bounds(since, until, scheme)
    source = None
    with open_store() as store:
        try:
            if not from_ledger:
                from ferry.connectors.registry import build_source
                from ferry.transform.plan import compile_scheme

                source = build_source(compile_scheme(scheme).source.connection)
            result = run_preview(
                scheme,
                store,
                limit=limit,
                source=source,
                from_ledger=from_ledger,
                since=start,
                until=end,
                max_windows=max_windows or MAX_WINDOWS,
            )
        finally:
            if source is not None:
                source.close()
    doc = preview_document(scheme, result, from_ledger=from_ledger)
    filled = _fill(scheme_file, scheme, result, from_ledger) if fill_response else None
    if as_json:
        doc["warnings"] = warning_documents(_warnings(scheme, result))
        doc["filled"] = filled
        print_json(doc)
    else:
        _print_human(doc, scheme)
        _print_sample(scheme, result, filled)
    raise typer.Exit(EXIT_FAILED if result.failures else EXIT_OK)


def _bounds(since: str | None, until: str | None, scheme: Scheme) -> tuple[datetime | None, datetime | None]:
    """``--since``/``--until`` as aware times (naive ones in the scheme's zone)."""
    start = parse_time(since, option="'--since'", tz=scheme.tz) if since is not None else None
    end = parse_time(until, option="'--until'", tz=scheme.tz) if until is not None else None
    if start is not None and end is not None and start >= end:
        raise typer.BadParameter("must be after --since", param_hint="'--until'")
    return start, end


def _warnings(scheme: Scheme, result: PreviewResult) -> list[Any]:
    if result.sample is None or not result.sample.records:
        return []
    return placeholder_warnings(scheme, result.sample)


def _print_sample(scheme: Scheme, result: PreviewResult, filled: dict[str, Any] | None) -> None:
    """The placeholders no sampled record has (or why none could be checked), what
    --fill-response wrote, and that nothing else was written."""
    if result.sample is not None:
        echo()
        print_placeholder_warnings(scheme.id, scheme, result.sample)
    written = "Nothing was written"
    if filled is not None:
        echo()
        count = filled["fields"]
        echo(
            f"Wrote {count} response field{'s' if count != 1 else ''} ({filled['added']} new) to {filled['file']}",
            style="bold green",
        )
        if filled["note"]:
            echo(f"  note: {filled['note']}", style="yellow")
        written = "Nothing else was written"
    echo()
    echo(f"{written}: no ledger row, no cursor, no target call.", style="dim")


def _fill(scheme_file: Path, scheme: Scheme, result: PreviewResult, from_ledger: bool) -> dict[str, Any]:
    """``--fill-response``: write the sampled records' fields into the source metadata."""
    from ferry.scheme.response_fill import fill_response

    records = result.sample.records if result.sample is not None else []
    arrays = tuple(scheme.source_meta.beatFlat) if from_ledger and scheme.source_meta else ()
    filled = fill_response(scheme_file, records, arrays=arrays)
    return {
        "file": str(filled.file),
        "inline": filled.inline,
        "fields": filled.fields,
        "added": filled.added,
        "note": filled.note or None,
    }


def register(app: typer.Typer) -> None:
    """Add ``preview`` to ``app``."""
    app.command("preview")(preview)
