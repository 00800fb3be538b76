"""``ferry serve SCHEME...``: run schemes on their crontabs, with the web console beside them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferry.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    echo,
    fmt_time,
    guarded,
    open_store,
    redact,
    stdout_console,
)
from ferry.cli._load import load_schemes

if TYPE_CHECKING:
    from ferry.observe.alerts import AlertConfig
    from ferry.schedule import Scheduler
    from ferry.scheme.model import Scheme
    from ferry.store import Store

__all__ = ["register", "serve"]

Stopper = Callable[[], None]


def _no_console() -> None:
    """Nothing to stop."""


class _EchoHandler(logging.Handler):
    """The scheduler's log lines on the terminal, with the time and secrets masked."""

    def emit(self, record: logging.LogRecord) -> None:
        text = redact(record.getMessage())
        if record.exc_info and record.levelno >= logging.ERROR:
            text += f" ({record.exc_info[1]!r})"
        style = (
            "red"
            if record.levelno >= logging.ERROR
            else "yellow"
            if record.levelno >= logging.WARNING
            else None
        )
        echo(
            f"{fmt_time(datetime.now().astimezone())} {text}",
            style=style,
            err=record.levelno >= logging.WARNING,
        )


def _print_schedule(scheduler: Scheduler) -> None:
    from ferry.cli._tables import fitted_table

    console = stdout_console()
    rows = []
    for entry in scheduler.status():
        scheme = scheduler.schemes[entry["scheme_id"]]
        if not scheme.enabled:
            rows.append([scheme.id, "-", "-", "disabled in its scheme file"])
            continue
        if not entry["jobs"]:
            rows.append([scheme.id, "-", "-", "no crontab: runs only on 'run now'"])
        for job in entry["jobs"]:
            nxt = fmt_time(job["next_fires"][0], scheme.tz)
            note = "" if entry["enabled"] else " (switched off in the console)"
            rows.append([scheme.id, _job_label(scheduler, scheme.id, job["job"]), job["crontab"], nxt + note])
    headers = ["scheme", "job", "crontab", "next fire"]
    console.print(fitted_table(headers, rows, width=console.width, flex="next fire"))


def _job_label(scheduler: Scheduler, scheme_id: str, name: str) -> str:
    job = next(j for j in scheduler.jobs[scheme_id] if j.name == name)
    what = "collect + deliver" if job.collect and job.deliver else "collect" if job.collect else "deliver"
    return f"{name} ({what})"


def _alert_hook(
    config: AlertConfig | None, store: Store, schemes: Sequence[Scheme]
) -> tuple[Callable[[datetime], None] | None, timedelta, Stopper]:
    """``(hook(now), interval, close)`` evaluating the alert rules, or no hook."""
    if config is None:
        return None, timedelta(minutes=1), lambda: None
    from ferry.cli.alerts import warn_misconfigured
    from ferry.observe.alerts import AlertMonitor

    warn_misconfigured(config)  # said once here, not at every evaluation
    monitor = AlertMonitor(store, config, schemes={s.id: s for s in schemes})

    def hook(now: datetime) -> None:
        monitor.evaluate(now)

    return hook, config.settings.interval, monitor.close


def _console(
    store: Store, scheduler: Scheduler, host: str, port: int, alert_config: AlertConfig | None
) -> Stopper:
    """Serve the web console in a thread, its alerts page listing ``alert_config``'s rules;
    returns how to stop it."""
    import time
    from functools import partial

    import uvicorn

    from ferry.console import create_app
    from ferry.observe.alerts import describe_rules

    app = create_app(
        store,
        schemes=lambda: dict(scheduler.schemes),
        trigger=scheduler.trigger,
        alert_rules=None if alert_config is None else partial(describe_rules, alert_config),
    )
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ferry-console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        thread.join(0.02)  # binding the port takes a moment
    if not server.started:
        echo(
            f"warning: the console cannot listen on {host}:{port}; scheduling only", style="yellow", err=True
        )
        return _no_console
    echo(f"console on http://{host}:{port}/")

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return stop


def _check_or_refuse(schemes: Sequence[Scheme], store: Store) -> None:
    """Run ``ferry check``'s checks; on any failure print them all and exit 2."""
    from ferry.cli.check import print_checks
    from ferry.engine.checks import check_schemes

    results = check_schemes(schemes, store)
    failed = [r for r in results if not r.ok]
    if failed:
        print_checks(results)
        echo(
            f"refusing to start: {len(failed)} check{'s' if len(failed) != 1 else ''} failed; fix "
            "them (`ferry check SCHEME...` shows them again) or start with --no-check",
            style="bold red",
            err=True,
        )
        raise typer.Exit(EXIT_INVALID)
    echo(f"checks: {len(results)} passed (every connection logged in or connected)")


def _before_start(
    schemes: Sequence[Scheme], store: Store, *, check: bool, initial: bool | None, once: bool
) -> list[str]:
    """Check the enabled schemes (or exit 2); the ids of those that run at start, in order
    (lookup schemes first; none with ``--no-initial-run``, or with ``--once`` unless asked)."""
    from ferry.scheme.lookups import lookup_order

    enabled = [s for s in schemes if s.enabled]
    if check:
        _check_or_refuse(enabled, store)
    if not (initial if initial is not None else not once):
        return []
    order = [s.id for s in lookup_order(enabled)]
    if order:
        echo(f"at start, each scheme runs once, lookup schemes first: {', '.join(order)}")
    return order


@guarded
def serve(
    schemes: Annotated[
        list[Path],
        typer.Argument(metavar="SCHEME", help="Scheme files to schedule.", show_default=False),
    ],
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Run the jobs that are due now (missed slots), wait for them, evaluate --alerts once, exit.",
        ),
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Console address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Console port.")] = 8000,
    no_console: Annotated[bool, typer.Option("--no-console", help="Schedule only; no web console.")] = False,
    alerts: Annotated[
        Path | None,
        typer.Option(
            "--alerts",
            metavar="ALERTS.yaml",
            help="Evaluate these alert rules periodically and list them on the console's alerts page.",
            show_default=False,
        ),
    ] = None,
    initial_run: Annotated[
        bool | None,
        typer.Option(
            "--initial-run/--no-initial-run",
            help="Run every enabled scheme once at start, lookup schemes first, one after another "
            "(default: on; off with --once, which runs only what is due).",
            show_default=False,
        ),
    ] = None,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            help="Start without the checks of `ferry check` (log in, connect, target tables).",
        ),
    ] = False,
) -> None:
    """Run every enabled scheme on its crontabs until SIGTERM or Ctrl-C.

    `schedule.source` collects, `schedule.target` delivers, `schedule.omissionRemedy` runs
    the 补漏 sweep; a scheme without a target crontab delivers while it collects. At most one
    collect per scheme runs at a time, also across `ferry serve` processes sharing a store;
    a slot missed (downtime, a long run) runs once, not once per slot. A job seen for the
    first time fires from its next slot. SIGTERM or Ctrl-C starts nothing more and
    stops the runs in flight at their next checkpoint (a committed page or deliver batch);
    a second Ctrl-C exits at once (still safe: the next run goes on from the ledger).

    At start every enabled scheme is checked as `ferry check` does (each connection logs in
    or connects; a SQL target's tables and columns must exist): any failure is listed and
    nothing starts (exit 2; --no-check skips it). Then every enabled scheme runs once, the
    schemes others look up in (_mongoQuery, _findCollection, settings.lookup_scheme) first
    (--no-initial-run: only the crontabs). The web console runs beside the scheduler (log
    in with a user from `ferry users add`); --alerts evaluates the alert rules every
    settings.interval and lists them in the console; a channel whose variables are unset or
    empty is reported once at start and its notices are skipped.

    Example:

        ferry serve examples/*/scheme.yaml --alerts examples/alerts.yaml --port 8000
    """
    import signal
    import time

    from ferry.cli.run import print_report
    from ferry.engine.pacing import RateSharing
    from ferry.observe.alerts import load_alert_config
    from ferry.schedule import Scheduler

    loaded = load_schemes(schemes)
    alert_config = load_alert_config(alerts) if alerts is not None else None  # a bad file exits 2 here
    with open_store() as store:
        startup = _before_start(loaded, store, check=not no_check, initial=initial_run, once=once)
        hook, every, close_alerts = _alert_hook(alert_config, store, loaded)
        scheduler = Scheduler(
            loaded,
            store,
            periodic=hook,
            periodic_every=every,
            startup=startup,
            run_options={"rates": RateSharing.from_env()},
        )
        scheduler.prepare()
        _print_schedule(scheduler)
        if once:
            reports = scheduler.run_once()
            for report in reports:
                print_report(report)
            echo(f"{len(reports)} run{'s' if len(reports) != 1 else ''} due")
            if hook is not None:  # evaluate the alert rules once, after the runs
                hook(scheduler.clock.now())
            close_alerts()
            raise typer.Exit(max((r.exit_code for r in reports), default=EXIT_OK))
        logger = logging.getLogger("ferry.schedule")
        logger.addHandler(_EchoHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False
        first: list[float] = []

        def on_signal(signum: int, frame: Any) -> None:
            if first and time.monotonic() - first[0] > 1:  # a second signal, not one sent twice
                raise KeyboardInterrupt
            if first:
                return
            first.append(time.monotonic())
            scheduler.stop(wait=False)
            running = len(scheduler.running())
            echo(
                f"stopping: {running} run{'s' if running != 1 else ''} in flight stop at their next checkpoint"
            )

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        stop_console: Stopper = _no_console
        try:
            if not no_console:
                stop_console = _console(store, scheduler, host, port, alert_config)
            scheduler.start()
            echo("serving; Ctrl-C or SIGTERM stops")
            while not scheduler.join(timeout=0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            scheduler.stop(wait=False)
            stop_console()
            close_alerts()
    echo("stopped")
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve)
