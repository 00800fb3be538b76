"""The ``ferry`` command (``ferry = "ferry.cli.main:app"``).

Each command group lives in its own module under :mod:`ferry.cli` with a
``register(app: typer.Typer) -> None`` function; :data:`COMMAND_MODULES` lists them in the
order ``ferry --help`` shows them. Adding a command is one module plus one entry there.
Command modules import the engine, store and connectors inside the command bodies, so ``ferry --help`` stays fast and never opens a database.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from ferry import __version__
from ferry.cli._common import CliState, set_state

__all__ = ["COMMAND_MODULES", "app", "main"]

COMMAND_MODULES: tuple[str, ...] = (
    "ferry.cli.validate",
    "ferry.cli.check",
    "ferry.cli.run",
    "ferry.cli.serve",
    "ferry.cli.preview",
    "ferry.cli.runs",
    "ferry.cli.records",
    "ferry.cli.replay",
    "ferry.cli.drift",
    "ferry.cli.quarantine",
    "ferry.cli.quality",
    "ferry.cli.reconcile",
    "ferry.cli.alerts",
    "ferry.cli.schema",
    "ferry.cli.store",
    "ferry.cli.demo",
    "ferry.cli.sandbox",
    "ferry.cli.demo_orders",
    "ferry.cli.console",
)
"""Modules whose ``register(app)`` adds their commands, in help order."""

app = typer.Typer(
    name="ferry",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    # Tracebacks with local variables could show credentials; --debug prints a plain one.
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ferry {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URL",
            envvar="FERRY_STORE_URL",
            show_envvar=True,
            help="Store URL (sqlite:///path.db, mysql+pymysql://..., postgresql+psycopg://...). "
            "Default: sqlite:///$FERRY_HOME/ferry.db (FERRY_HOME defaults to ./.ferry).",
            show_default=False,
        ),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            metavar="FILE",
            envvar="FERRY_ENV_FILE",
            show_envvar=True,
            help="Read KEY=VALUE lines for the ${VAR} references of connections (variables already "
            "set in the environment win). `ferry sandbox --write-env FILE` writes one.",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Ferry: metadata-driven data integration that never loses or duplicates a record.

    Validate QEasy-style schemes, run them (collect -> ledger -> deliver), preview what they
    would send, and inspect or replay ledger records and runs. Exit codes: 0 ok, 1 a run or
    some records failed, 2 invalid input or configuration.

    Example:

        ferry --env-file .env validate examples/*/scheme.yaml
    """
    if env_file is not None:
        from ferry.cli._envfile import load_env_file
        from ferry.errors import ConfigError

        try:
            load_env_file(env_file)
        except ConfigError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--env-file'") from None
    set_state(CliState(store_url=store, debug=debug))


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_all()
