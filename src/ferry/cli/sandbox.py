"""``ferry sandbox``: serve the six vendor simulators on localhost until interrupted."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ferry.cli._common import EXIT_OK, echo, fail, guarded, stdout_console

__all__ = ["register", "sandbox"]


def _write_env(path: Path | None, simulators: Any, urls: dict[str, str], mysql: str, size: int) -> None:
    """``--write-env``: every variable the examples read, into ``path`` (nothing without one)."""
    if path is None:
        return
    from ferry.cli._envfile import write_env_file
    from ferry.sandbox.seeds import examples_env

    values = examples_env(simulators, urls, mysql=mysql, size=size)
    write_env_file(
        path, values, header="Written by `ferry sandbox`: the variables the examples' connections read."
    )
    echo(f"wrote {len(values)} variables to {path} (use: ferry --env-file {path} ...)")


def _client_url(url: str, in_process: str, described: dict[str, Any]) -> str:
    """The URL a client is configured with: the simulator's ``base_url`` (its path included,
    e.g. ``http://127.0.0.1:8700/k3cloud/``) on the served port, else the served root."""
    base = described.get("base_url")
    if isinstance(base, str) and base.startswith(in_process):
        return url + base[len(in_process) :]
    return url


_KINDS = ("wrong_type", "missing_required", "enum_violation")
"""``--bad-record-kinds`` choices (``ferry.sandbox._quality.BAD_RECORD_KINDS``, kept here so
``--help`` needs no sandbox import)."""
_TIMES = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]


def _bad_record_kinds(value: str) -> str:
    """``--bad-record-kinds``: a comma list of known kinds (checked before anything listens)."""
    unknown = [kind for kind in value.split(",") if kind.strip() not in _KINDS]
    if unknown:
        raise typer.BadParameter(f"unknown kind {unknown[0].strip()!r}; choose from: {', '.join(_KINDS)}")
    return value


def _faults(no_rate_limits: bool, bad_record_kinds: str, **settings: Any) -> Any:
    """The :class:`ferry.sandbox.Faults` the options ask for."""
    from ferry.sandbox import Faults

    budgets: dict[str, Any] = {"rate_per_second": 0, "rate_per_minute": 0} if no_rate_limits else {}
    kinds = tuple(kind.strip() for kind in bad_record_kinds.split(","))
    return Faults(bad_record_kinds=kinds, **settings, **budgets)


def _old_new(value: str | None) -> str | None:
    """``--rename-field``: ``OLD:NEW``, both named."""
    if value is not None and len([part for part in value.split(":") if part]) != 2:
        raise typer.BadParameter(f"write OLD:NEW, e.g. outerId:outerID (got {value!r})")
    return value


@guarded
def sandbox(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65_000, help="First port; one per simulator (0: any).")
    ] = 8700,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    size: Annotated[int, typer.Option("--size", min=1, help="Records each simulator holds.")] = 200,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Serve only this simulator (repeatable).", show_default=False),
    ] = None,
    error_rate: Annotated[
        float,
        typer.Option("--error-rate", min=0, max=1, help="Share of calls failing with 5xx or a timeout."),
    ] = 0.0,
    latency: Annotated[float, typer.Option("--latency", min=0, help="Seconds added to every call.")] = 0.0,
    token_expiry_calls: Annotated[
        int | None,
        typer.Option("--token-expiry-calls", min=1, help="Tokens/sessions expire after this many calls."),
    ] = None,
    drift_rate: Annotated[
        float,
        typer.Option("--drift-rate", min=0, max=1, help="Share of served records modified while paging."),
    ] = 0.0,
    late_rate: Annotated[
        float, typer.Option("--late-rate", min=0, max=1, help="Share of records arriving late.")
    ] = 0.0,
    duplicate_rate: Annotated[
        float, typer.Option("--duplicate-rate", min=0, max=1, help="Share of pages repeating a record.")
    ] = 0.0,
    malformed_rate: Annotated[
        float,
        typer.Option(
            "--malformed-rate", min=0, max=1, help="Share of calls answered 200 with a broken body."
        ),
    ] = 0.0,
    lost_write_rate: Annotated[
        float,
        typer.Option("--lost-write-rate", min=0, max=1, help="Share of writes applied whose answer is lost."),
    ] = 0.0,
    bad_record_rate: Annotated[
        float,
        typer.Option(
            "--bad-record-rate",
            min=0,
            max=1,
            help="Share of records served corrupted, the same records on every call (a wrong type, a "
            "missing required field or an enum violation; the stored record stays intact).",
        ),
    ] = 0.0,
    bad_record_kinds: Annotated[
        str,
        typer.Option(
            "--bad-record-kinds",
            metavar="KINDS",
            callback=_bad_record_kinds,
            help="Comma list of the kinds --bad-record-rate serves: " + ", ".join(_KINDS) + ".",
        ),
    ] = ",".join(_KINDS),
    volume_drop: Annotated[
        float,
        typer.Option(
            "--volume-drop",
            min=0,
            max=1,
            help="Share of the records no query returns (0.9: a tenth of the volume), of those "
            "modified in [--volume-drop-since, --volume-drop-until).",
        ),
    ] = 0.0,
    volume_zero: Annotated[
        bool,
        typer.Option("--volume-zero", help="No query returns any record of the drop span (zero windows)."),
    ] = False,
    volume_drop_since: Annotated[
        datetime | None,
        typer.Option(
            "--volume-drop-since",
            formats=_TIMES,
            help="The drop span starts at this modification time (vendor time; default: the first record).",
            show_default=False,
        ),
    ] = None,
    volume_drop_until: Annotated[
        datetime | None,
        typer.Option(
            "--volume-drop-until",
            formats=_TIMES,
            help="The drop span ends before this modification time (default: no end).",
            show_default=False,
        ),
    ] = None,
    volume_drop_after_calls: Annotated[
        int,
        typer.Option(
            "--volume-drop-after-calls",
            min=0,
            help="Queries of each record set answered in full before the drop starts (mid-run).",
        ),
    ] = 0,
    rename_field: Annotated[
        str | None,
        typer.Option(
            "--rename-field",
            metavar="OLD:NEW",
            help="Schema drift: serve records with every key OLD renamed NEW (nested keys too).",
            show_default=False,
            callback=_old_new,
        ),
    ] = None,
    rename_after_calls: Annotated[
        int, typer.Option("--rename-after-calls", min=0, help="Calls served before --rename-field applies.")
    ] = 0,
    no_rate_limits: Annotated[
        bool, typer.Option("--no-rate-limits", help="Switch the vendors' call budgets off.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fault dice.")] = 7,
    write_env: Annotated[
        Path | None,
        typer.Option(
            "--write-env",
            metavar="FILE",
            help="Once listening, write every variable the examples read (their MySQL URLs "
            "included) to FILE, for `ferry --env-file FILE ...`.",
            show_default=False,
        ),
    ] = None,
    mysql: Annotated[
        str,
        typer.Option(
            "--mysql",
            metavar="URL",
            help="The MySQL server of the examples' databases bi and ty_mes, in --write-env's URLs.",
        ),
    ] = "mysql+pymysql://root@127.0.0.1:3306",
) -> None:
    """Serve the K3Cloud, KIS, JuShuiTan, WangDianTong, KuaiMai and OKKI simulators over HTTP.

    Prints each simulator's URL and the environment variables that point the examples'
    connections.yaml at them, then serves until Ctrl-C. --write-env FILE writes those
    variables, and the MySQL URLs of seeds 000 and 001 on --mysql, to FILE once the
    simulators listen.

    Example:

        ferry sandbox --write-env .env &  ferry --env-file .env check examples/*/scheme.yaml
    """
    from ferry.sandbox import SIMULATORS, Sandbox
    from ferry.sandbox.seeds import sandbox_env
    from ferry.sandbox.server import SandboxServer

    unknown = sorted(set(only or []) - set(SIMULATORS))
    if unknown:
        fail(f"unknown simulator {unknown[0]!r}", hint=f"choose from: {', '.join(SIMULATORS)}")
    faults = _faults(
        no_rate_limits,
        bad_record_kinds,
        error_rate=error_rate,
        latency=latency,
        token_expiry_calls=token_expiry_calls,
        drift_rate=drift_rate,
        late_rate=late_rate,
        duplicate_rate=duplicate_rate,
        malformed_rate=malformed_rate,
        lost_write_rate=lost_write_rate,
        bad_record_rate=bad_record_rate,
        volume_drop=volume_drop,
        volume_zero=volume_zero,
        volume_drop_since=volume_drop_since,
        volume_drop_until=volume_drop_until,
        volume_drop_after_calls=volume_drop_after_calls,
        rename_field=rename_field,
        rename_after_calls=rename_after_calls,
        seed=seed,
    )
    simulators = Sandbox.default(size=size, faults=faults, only=only or None)
    console = stdout_console()
    with SandboxServer(simulators, host=host, port=port) as server:
        urls = server.urls()
        table = Table(title="Ferry sandbox", title_justify="left")
        table.add_column("system")
        table.add_column("url")
        table.add_column("demo credentials")
        for name, url in urls.items():
            described = simulators[name].describe()
            credentials = described.get("credentials") or {
                f"{group}.{k}" if group else k: v
                for group, block in [
                    ("", described),
                    *((g, b) for g, b in described.items() if isinstance(b, dict)),
                ]
                for k, v in block.items()
                if isinstance(v, str | int) and k not in ("base_url", "prefix")
            }
            table.add_row(
                simulators[name].title or name,
                _client_url(url, simulators[name].base_url, described),
                ", ".join(f"{k}={v}" for k, v in credentials.items()),
            )
        console.print(table)
        if not only:
            echo("Point the examples at it:", style="bold")
            for key, value in sandbox_env(simulators, urls).items():
                echo(f"  export {key}={value}")
        _write_env(write_env, simulators, urls, mysql, size)
        echo("Serving; Ctrl-C to stop.", style="bold")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    echo("calls answered: " + ", ".join(f"{sim.name} {len(sim.calls)}" for sim in simulators))
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add ``sandbox`` to ``app``."""
    app.command("sandbox")(sandbox)
