"""``ferry console FILES...`` serves the web console; ``ferry users add NAME`` creates its logins."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ferry.cli._common import EXIT_INVALID, echo, fail, fmt_time, guarded, open_store, stdout_console

__all__ = ["console", "register", "users_add", "users_list", "users_remove"]

users_app = typer.Typer(
    name="users",
    help="Manage web console users (password hashes live in the store's users table).",
    no_args_is_help=True,
)


@guarded
def console(
    schemes: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="SCHEME",
            help="Scheme files to show (flow, mapping, preview) and run from the console.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    alerts: Annotated[
        Path | None,
        typer.Option(
            "--alerts",
            metavar="ALERTS.yaml",
            help="List these alert rules on the alerts page (`ferry serve --alerts` evaluates them).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the web console: dashboard, schemes, runs, records (search, replay), API assets, alerts.

    Log in with a user made by `ferry users add NAME`. Scheme files are reloaded when they
    change; files that fail to load are listed with every error at its path. "Run now"
    runs a scheme in the background (one run per scheme at a time). The session cookie is
    signed with $FERRY_CONSOLE_SECRET (else a random key: sessions end when the console
    restarts); /metrics requires `Authorization: Bearer $FERRY_METRICS_TOKEN` when that is set.

    Example:

        ferry users add ops && ferry console examples/*/scheme.yaml --port 8000
    """
    from functools import partial

    import uvicorn

    from ferry.console import SchemeFiles, create_app, list_users
    from ferry.observe.alerts import describe_rules, load_alert_config

    missing = [str(p) for p in schemes or [] if not p.is_file()]
    if missing:
        fail(f"no such scheme file: {', '.join(missing)}")
    alert_rules = partial(describe_rules, load_alert_config(alerts)) if alerts is not None else None
    files = SchemeFiles(schemes or [])
    with open_store() as store:
        broken = files.issues()
        for path, issues in broken.items():
            echo(
                f"INVALID {path}: {len(issues)} error{'s' if len(issues) != 1 else ''} (shown in the console)",
                err=True,
            )
        if not list_users(store):
            echo("no console user yet: create one with `ferry users add NAME`", style="yellow", err=True)
        if not os.environ.get("FERRY_CONSOLE_SECRET"):
            echo(
                "FERRY_CONSOLE_SECRET is not set: sessions end when the console restarts",
                style="yellow",
                err=True,
            )
        app = create_app(store, schemes=files.schemes, load_issues=files.issues, alert_rules=alert_rules)
        loaded = len(files.schemes())
        echo(
            f"Ferry console on http://{host}:{port}/ ({loaded} scheme{'s' if loaded != 1 else ''} loaded; Ctrl-C stops)"
        )
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            fail("no password on stdin")
        return text
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@guarded
def users_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Login name.", show_default=False)],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Set a new password for an existing user.")
    ] = False,
) -> None:
    """Create a console user (or with --replace, set its password). Asks for the password twice.

    Only a salted scrypt hash is stored. Passwords need at least 8 characters.

    Example:

        ferry users add ops          # or: printf '%s\\n' "$PW" | ferry users add ops --password-stdin
    """
    from ferry.console import add_user

    password = _read_password(password_stdin)
    with open_store() as store:
        created = add_user(store, name, password, replace=replace)
    echo(f"user {name} {'created' if created else 'updated'}", style="green")


@guarded
def users_list() -> None:
    """List console users and when they last logged in.

    Example:

        ferry users list
    """
    from rich.table import Table

    from ferry.console import list_users

    with open_store() as store:
        rows = list_users(store)
    table = Table("user", "created", "last login")
    for row in rows:
        table.add_row(row["username"], fmt_time(row["created_at"]), fmt_time(row["last_login_at"]))
    stdout_console().print(table)


@guarded
def users_remove(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Login name.", show_default=False)],
) -> None:
    """Remove a console user; its open sessions end at their next request.

    Example:

        ferry users remove ops
    """
    from ferry.console import remove_user

    with open_store() as store:
        if not remove_user(store, name):
            fail(f"no console user {name!r}", EXIT_INVALID)
    echo(f"user {name} removed", style="green")


users_app.command("add")(users_add)
users_app.command("list")(users_list)
users_app.command("remove")(users_remove)


def register(app: typer.Typer) -> None:
    """Add ``console`` and the ``users`` group to ``app``."""
    app.command("console")(console)
    app.add_typer(users_app)
