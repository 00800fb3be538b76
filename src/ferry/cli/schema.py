"""``ferry schema``: the JSON Schema of scheme files or of QEasy metadata, for editors and CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ferry.cli._common import EXIT_OK, echo, fail, guarded, to_json

__all__ = ["register", "schema"]


@guarded
def schema(
    metadata: Annotated[
        Literal["source", "target"] | None,
        typer.Option(
            "--metadata",
            help="The schema of bare QEasy metadata of this side instead of the scheme file's.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to FILE instead of stdout.", show_default=False
        ),
    ] = None,
) -> None:
    """Print (or write) the JSON Schema of scheme files, or of source/target metadata.

    Point an editor's YAML/JSON language server at it to get completion and checks.

    Example:

        ferry schema -o ferry-scheme.schema.json && ferry schema --metadata target
    """
    from ferry.scheme.schema import metadata_json_schema, scheme_json_schema

    document = metadata_json_schema(metadata) if metadata else scheme_json_schema()
    text = to_json(document) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        raise typer.Exit(EXIT_OK)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(
            f"cannot write {output}: {exc.strerror or exc}",
            hint="check that the folder exists and is writable",
        )
    what = f"{metadata} metadata" if metadata else "scheme"
    echo(f"wrote the {what} JSON Schema to {output}")
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add ``schema`` to ``app``."""
    app.command("schema")(schema)
