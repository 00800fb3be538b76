"""``ferry alerts``: check an alerts file, test a channel, evaluate the rules once, list incidents."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ferry.cli._common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    echo,
    fail,
    fmt_time,
    guarded,
    open_store,
    print_json,
    stdout_console,
    truncate,
)
from ferry.cli._tables import fitted_table

if TYPE_CHECKING:
    from ferry.observe.alerts import AlertConfig, Notice

__all__ = ["app", "register", "warn_misconfigured"]

app = typer.Typer(name="alerts", no_args_is_help=True)

FileArg = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="The alerts YAML (see examples/alerts.yaml).", show_default=False),
]


@app.callback()
def alerts() -> None:
    """Alert rules and channels (DingTalk, WeCom, Feishu, webhook, e-mail) and their incidents.

    Example:

        ferry alerts check alerts.yaml && ferry alerts test alerts.yaml ops-dingtalk
    """


def _load(file: Path) -> AlertConfig:
    from ferry.observe.alerts import load_alert_config

    return load_alert_config(file)


@app.command("check")
@guarded
def check(file: FileArg) -> None:
    """Validate an alerts file (every problem with its path) and print its channels and rules.

    Secrets come from ``${VAR}`` references and are never printed. A channel whose variables
    are unset or empty is reported as misconfigured (exit 0: the file is valid; `ferry serve`
    skips that channel's notices and says so once at start).

    Example:

        ferry alerts check examples/alerts.yaml
    """
    import httpx

    from ferry.observe.alerts import describe_rules
    from ferry.observe.alerts.channels import build_channel

    config = _load(file)
    echo(f"OK {file}: {len(config.channels)} channel(s), {len(config.rules)} rule(s)", style="green")
    with httpx.Client() as client:
        for name, spec in config.channels.items():
            if name in config.misconfigured:
                echo(f"  {config.misconfigured_line(name)}", style="yellow")
                continue
            echo(f"  channel {name}: {build_channel(name, spec, client=client).describe()}")
    for rule in describe_rules(config):
        echo(f"  rule {rule['name']} [{rule['severity']}] -> {', '.join(rule['channels']) or '(no channel)'}")
        echo(f"    {rule['description']}")
    raise typer.Exit(EXIT_OK)


@app.command("test")
@guarded
def test(
    file: FileArg,
    channel: Annotated[
        str, typer.Argument(metavar="CHANNEL", help="Channel name in the file.", show_default=False)
    ],
) -> None:
    """Send a test notice to one channel; exit 1 (or 2 for a configuration problem) if it is refused.

    A channel whose variables are unset or empty is not tried: exit 2, naming them.

    Example:

        ferry alerts test alerts.yaml ops-dingtalk
    """
    import httpx

    from ferry.observe.alerts.channels import build_channel
    from ferry.observe.alerts.monitor import probe_message

    config = _load(file)
    if channel not in config.channels:
        fail(
            f"unknown channel {channel!r}",
            EXIT_INVALID,
            hint=f"channels in {file}: {', '.join(config.channels)}",
        )
    if channel in config.misconfigured:
        fail(config.misconfigured_line(channel), EXIT_INVALID)
    with httpx.Client() as client:
        target = build_channel(channel, config.channels[channel], client=client)
        target.send(probe_message(config))
    echo(f"sent a test notice to {target.describe()}", style="green")
    raise typer.Exit(EXIT_OK)


@app.command("evaluate")
@guarded
def evaluate(
    file: FileArg,
    schemes: Annotated[
        list[Path] | None,
        typer.Argument(metavar="[SCHEME]...", help="Scheme files (the stalled rule reads their crontabs).",
                       show_default=False),
    ] = None,
) -> None:  # fmt: skip
    """Evaluate every rule once against the store and send what is due (as ``ferry serve`` does).

    Exit 1 while an incident is open. Use it from cron when ``ferry serve`` does not run.

    Example:

        ferry alerts evaluate alerts.yaml examples/*/scheme.yaml
    """
    from ferry.cli._load import load_schemes
    from ferry.observe.alerts import AlertMonitor

    config = _load(file)
    loaded = load_schemes(schemes or [])
    warn_misconfigured(config)
    with open_store() as store, AlertMonitor(store, config, schemes={s.id: s for s in loaded}) as monitor:
        events = monitor.evaluate()
        for rule, error in monitor.rule_errors.items():
            echo(f"rule {rule} could not be evaluated: {error}", style="yellow", err=True)
    for event in events:
        sent = ", ".join(f"{n.channel} {_outcome(n)}" for n in event.notices) or "nothing sent"
        echo(
            f"#{event.incident_id} {event.change:8} {event.rule} {event.subject}: {truncate(event.summary, 160)}"
        )
        echo(f"    {sent}")
        for notice in event.notices:
            if notice.error and not notice.skipped:
                echo(f"    {notice.channel}: {notice.error}", style="yellow")
    if not events:
        echo("nothing is firing", style="green")
    raise typer.Exit(EXIT_FAILED if any(e.firing for e in events) else EXIT_OK)


@app.command("incidents")
@guarded
def incidents(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Incidents to show.")] = 20,
    status: Annotated[
        str | None, typer.Option("--status", help="open, resolved or closed.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List alert incidents, newest first, with the notices sent, failed and skipped for each
    (a notice to a misconfigured channel is skipped). Counts are of the notices kept: an
    incident keeps its latest 20 and counts them all (notices.total in --json).

    Example:

        ferry alerts incidents --status open
    """
    from ferry.observe.alerts import list_incidents

    if status is not None and status not in ("open", "resolved", "closed"):
        fail(f"unknown status {status!r}", EXIT_INVALID, hint="use open, resolved or closed")
    with open_store() as store:
        found = list_incidents(store, limit, status=status)
    if as_json:
        print_json(found)
        raise typer.Exit(EXIT_OK)
    if not found:
        echo("no incidents", style="dim")
        raise typer.Exit(EXIT_OK)
    headers = (
        "id", "rule", "subject", "status", "opened", "resolved", "sent", "failed", "skipped", "summary"
    )  # fmt: skip
    rows = [
        (
            str(i["id"]), i["rule"], i["subject"], i["status"], fmt_time(i["opened_at"]),
            fmt_time(i["resolved_at"]), str(i["notices"]["sent"]), str(i["notices"]["failed"]),
            str(i["notices"]["skipped"]), truncate(i["summary"], 1000),
        )
        for i in found
    ]  # fmt: skip
    console = stdout_console()
    right = {"id", "sent", "failed", "skipped"}
    console.print(fitted_table(headers, rows, width=console.width, right=right, flex="summary"))
    raise typer.Exit(EXIT_OK)


def warn_misconfigured(config: AlertConfig) -> None:
    """Say once, on stderr, which channels are misconfigured and what they lack."""
    for line in config.misconfigured_lines():
        echo(f"warning: {line}", style="yellow", err=True)


def _outcome(notice: Notice) -> str:
    return "skipped (misconfigured)" if notice.skipped else "ok" if notice.ok else "FAILED"


def register(main: typer.Typer) -> None:
    """Add the ``alerts`` group to ``main``."""
    main.add_typer(app)
