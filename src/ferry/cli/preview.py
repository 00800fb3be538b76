"""``ferry preview SCHEME.yaml``: what a run would fetch and send, without writing anything."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferry.cli._common import EXIT_FAILED, EXIT_OK, echo, fmt_time, guarded, open_store, print_json, redact
from ferry.cli._load import describe_connection, load_schemes

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
    echo()
    echo("Nothing was written: no ledger row, no cursor, no target call.", style="dim")


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
) -> None:
    """Show what a run would send: the rendered source request, each sample record's mapped
    payload, the packed target calls, and every mapping failure with its reason.

    Writes nothing: no ledger row, no window cursor, no target call (lookups read other
    schemes' ledgers). Without --from-ledger one page is fetched from the source.
    Exit code 1 when a sample record fails to map, 2 when the scheme is invalid.

    Example:

        ferry preview examples/001-kuaimai-aftersale-to-mysql/scheme.yaml --limit 3
    """
    from ferry.engine.preview import preview as run_preview

    (scheme,) = load_schemes([scheme_file])
    source = None
    with open_store() as store:
        try:
            if not from_ledger:
                from ferry.connectors.registry import build_source
                from ferry.transform.plan import compile_scheme

                source = build_source(compile_scheme(scheme).source.connection)
            result = run_preview(scheme, store, limit=limit, source=source, from_ledger=from_ledger)
        finally:
            if source is not None:
                source.close()
    doc = preview_document(scheme, result, from_ledger=from_ledger)
    if as_json:
        print_json(doc)
    else:
        _print_human(doc, scheme)
    raise typer.Exit(EXIT_FAILED if result.failures else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add ``preview`` to ``app``."""
    app.command("preview")(preview)
