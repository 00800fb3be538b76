"""``ferry quarantine``: the records quality rules hold, and what an operator does with them.

``list`` shows them (by scheme, by rule), ``release`` sends them on as they are, ``edit`` fixes
one's content and releases it, ``drop`` ends them with a reason, ``audit`` shows who did what.
Every operation is audited in the store (:mod:`ferry.store.quarantine`), under the OS user or
``--user``.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferry._text import shown
from ferry.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    echo,
    fail,
    fmt_time,
    guarded,
    open_store,
    print_json,
    redact,
    stdout_console,
)
from ferry.cli._tables import fitted_table

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = ["app", "register"]

app = typer.Typer(
    name="quarantine",
    no_args_is_help=True,
    help="Records held by data-quality rules: list, release, edit, drop, audit.",
)

UserOption = Annotated[
    str | None,
    typer.Option("--user", help="Who does this, for the audit (default: the OS user).", show_default=False),
]
SchemeArg = Annotated[str, typer.Argument(metavar="SCHEME", help="Scheme id.", show_default=False)]
IdsArg = Annotated[list[str], typer.Argument(metavar="ID...", help="Record ids.", show_default=False)]


def _who(user: str | None) -> str:
    if user and user.strip():
        return user.strip()
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without a passwd entry)
        fail("cannot tell who you are", EXIT_INVALID, hint="pass --user NAME (it is kept in the audit)")


def _deliver_now(store: Store, scheme_file: Path | None, scheme_id: str) -> int:
    """With ``--now SCHEME.yaml``: deliver the scheme's pending records at once; the exit code."""
    if scheme_file is None:
        echo(
            f"delivered by the scheme's next run (or: ferry run <{scheme_id} scheme file> --deliver-only)",
            style="dim",
        )
        return EXIT_OK
    from ferry.cli._load import load_schemes
    from ferry.cli.run import print_report
    from ferry.engine.runner import run_scheme

    (scheme,) = load_schemes([scheme_file])
    if scheme.id != scheme_id:
        fail(
            f"{scheme_file} is scheme {scheme.id!r}, not {scheme_id!r}",
            EXIT_INVALID,
            hint="give --now the file of this scheme",
        )
    report = run_scheme(scheme, store, collect=False, deliver=True)
    print_report(report)
    return report.exit_code


NowOption = Annotated[
    Path | None,
    typer.Option(
        "--now",
        metavar="SCHEME.yaml",
        help="Deliver at once with this scheme file (same as ferry run --deliver-only).",
        show_default=False,
    ),
]


@app.command("list")
@guarded
def list_cmd(
    scheme_id: Annotated[
        str | None, typer.Option("--scheme", help="Only this scheme.", show_default=False)
    ] = None,
    rule: Annotated[
        str | None, typer.Option("--rule", help="Only records this rule holds.", show_default=False)
    ] = None,
    dropped: Annotated[bool, typer.Option("--dropped", help="List dropped records instead.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000, help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List quarantined records, the most recently held first: the rule, path, value and reason.

    Example:

        ferry quarantine list --scheme shop-orders --rule qty-positive
    """
    from ferry.store import quarantine

    with open_store() as store:
        held = quarantine.list_held(
            store, scheme_id=scheme_id, rule=rule, status="dropped" if dropped else "quarantined", limit=limit
        )
    if as_json:
        print_json([h.as_dict() for h in held])
        raise typer.Exit(EXIT_OK)
    if not held:
        echo("no quarantined records" if not dropped else "no dropped records")
        raise typer.Exit(EXIT_OK)
    headers = ["scheme", "id", "rule", "side", "path", "value", "held", "reason"]
    rows = [_held_row(h) for h in held]
    console = stdout_console()
    console.print(fitted_table(headers, rows, width=console.width, flex="reason"))
    echo(
        "release: ferry quarantine release SCHEME ID...; drop: ferry quarantine drop SCHEME ID... --reason TEXT",
        style="dim",
    )


def _held_row(h: Any) -> list[str]:
    """One row of the ``list`` table."""
    reason = redact(h.reason or h.last_error or "")
    cells = [h.scheme_id, h.record_id, h.rule, h.side, h.path]
    return [*(c or "" for c in cells), shown(h.value, 40), fmt_time(h.held_at), reason]


@app.command("release")
@guarded
def release_cmd(
    scheme_id: SchemeArg, record_ids: IdsArg, user: UserOption = None, now: NowOption = None
) -> None:
    """Send quarantined records on as they are: back to pending, delivered by the next run (or
    at once with --now SCHEME.yaml). The rules let the released content pass. Audited.

    Example:

        ferry quarantine release shop-orders 1002 1003 --now examples/shop/scheme.yaml
    """
    from ferry.store import quarantine

    who = _who(user)
    with open_store() as store:
        count = quarantine.release(store, scheme_id, record_ids, who=who)
        echo(
            f"{count:,} record{'s' if count != 1 else ''} of scheme {scheme_id} released by {who}",
            style="bold",
        )
        code = _deliver_now(store, now, scheme_id)
    raise typer.Exit(code)


def _edited(content: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """``content`` with each ``path=value`` of ``sets`` applied (value parsed as JSON when it is
    JSON, else taken as text; a dotted path walks into objects)."""
    out = json.loads(json.dumps(content))
    for item in sets:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise typer.BadParameter(f"{item!r} is not path=value", param_hint="'--set'")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        node = out
        parts = path.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out


@app.command("edit")
@guarded
def edit_cmd(
    scheme_id: SchemeArg,
    record_id: Annotated[str, typer.Argument(metavar="ID", help="Record id.", show_default=False)],
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PATH=VALUE",
            help="Set a field (repeatable; VALUE is JSON or text).",
            show_default=False,
        ),
    ] = None,
    content_file: Annotated[
        Path | None,
        typer.Option(
            "--content",
            metavar="FILE.json",
            help="Replace the whole content with this JSON object.",
            show_default=False,
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the audit).", show_default=False)
    ] = None,
    user: UserOption = None,
    now: NowOption = None,
) -> None:
    """Fix a quarantined record's content, then release it (delivered as edited). Audited with
    the content before and after.

    Example:

        ferry quarantine edit shop-orders 1002 --set qty=3 --set address.city=Hangzhou
    """
    from ferry.store import quarantine

    if bool(sets) == (content_file is not None):
        raise typer.BadParameter(
            "give --set PATH=VALUE (repeatable) or --content FILE.json", param_hint="'--set' / '--content'"
        )
    who = _who(user)
    with open_store() as store:
        held = quarantine.get_held(store, scheme_id, record_id)
        if held is None:
            fail(
                f"scheme {scheme_id}: no record {record_id!r} in the ledger",
                EXIT_INVALID,
                hint=f"ferry quarantine list --scheme {scheme_id}",
            )
        if content_file is not None:
            content = json.loads(content_file.read_text(encoding="utf-8"))
        else:
            content = _edited(held.content, sets or [])
        quarantine.edit(store, scheme_id, record_id, content, who=who, reason=reason)
        echo(f"record {record_id} of scheme {scheme_id} edited and released by {who}", style="bold")
        code = _deliver_now(store, now, scheme_id)
    raise typer.Exit(code)


@app.command("drop")
@guarded
def drop_cmd(
    scheme_id: SchemeArg,
    record_ids: IdsArg,
    reason: Annotated[
        str,
        typer.Option(
            "--reason", help="Why (required; kept with the record and in the audit).", show_default=False
        ),
    ],
    user: UserOption = None,
) -> None:
    """Drop quarantined records for good: status dropped with the reason, counted, never
    deleted or delivered. Audited.

    Example:

        ferry quarantine drop shop-orders 1003 --reason "test order"
    """
    from ferry.store import quarantine

    who = _who(user)
    with open_store() as store:
        count = quarantine.drop(store, scheme_id, record_ids, who=who, reason=reason)
    echo(
        f"{count:,} record{'s' if count != 1 else ''} of scheme {scheme_id} dropped by {who}: {reason}",
        style="bold",
    )


@app.command("audit")
@guarded
def audit_cmd(
    scheme_id: Annotated[
        str | None, typer.Option("--scheme", help="Only this scheme.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000, help="At most this many.")] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (with the content before and after).")
    ] = False,
) -> None:
    """Who released, edited or dropped which record, when, and the status before and after.

    Example:

        ferry quarantine audit --scheme shop-orders --json
    """
    from ferry.store import quarantine

    with open_store() as store:
        entries = quarantine.audit_log(store, scheme_id=scheme_id, limit=limit)
    if as_json:
        print_json([e.as_dict() for e in entries])
        raise typer.Exit(EXIT_OK)
    if not entries:
        echo("no quarantine operations")
        raise typer.Exit(EXIT_OK)
    headers = ["at", "who", "operation", "scheme", "id", "before", "after", "rule", "reason"]
    rows = [
        [
            fmt_time(e.at),
            e.who,
            e.operation,
            e.scheme_id,
            e.record_id,
            e.status_before or "",
            e.status_after or "",
            e.rule or "",
            redact(e.reason or ""),
        ]
        for e in entries
    ]
    console = stdout_console()
    console.print(fitted_table(headers, rows, width=console.width, flex="reason"))


def register(main: typer.Typer) -> None:
    """Add the ``quarantine`` group to ``main``."""
    main.add_typer(app)
