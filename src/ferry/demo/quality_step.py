"""The data-quality step of ``ferry demo``: one rule holds one record, and the demo says how to
fix and release it.

Seed 001 (``examples/001-kuaimai-aftersale-to-mysql``) has the source rule ``status-known``
(``status`` must be one of the work-order statuses). The demo's KuaiMai simulator serves work
order 4000007 with ``status`` 99 (:mod:`ferry.sandbox.quality_demo`), so the rule quarantines
that one ledger row and the demo prints the rule, the path, the value, the reason, and the
commands that fix and deliver it; they work as printed, after the demo, in the same folder::

    step = QualityStep.prepare(store, home, size)     # the simulators, the demo's env file
    ... run the seeds with step.sandbox ...
    code, lines = step.outcome(store, run_id_of_seed_001)

A second demo reads no window twice (the cursor moved), so it neither holds the record again
nor delivers it twice: the step says it is still held, or what an operator did with it.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferry.cli._common import EXIT_FAILED, EXIT_OK, fmt_time
from ferry.sandbox.quality_demo import (
    LEDGER_ID,
    SCHEME,
    WORK_ORDER,
    QualityDemo,
    quality_demo,
    quality_demo_sandbox,
)
from ferry.sandbox.seeds import SEEDS, sandbox_env

if TYPE_CHECKING:
    from ferry.sandbox import Sandbox
    from ferry.store import Store

__all__ = ["DEMO_ENV", "QualityStep"]

DEMO_ENV = "demo.env"
"""The env file (in the demo's folder) that points seed 001's connections at the demo's SQLite
target, for ``ferry --env-file`` in the printed commands."""
Lines = list[tuple[str, str]]
"""Lines to print, each with its style."""


def _shown_path(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it (shorter to copy), else absolute."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


@dataclass(frozen=True)
class QualityStep:
    """The demo's simulators, its one planned bad record, and how to reach it from a shell."""

    sandbox: Sandbox
    planned: QualityDemo
    """The record KuaiMai serves bad."""
    store_url: str
    env_file: Path
    scheme_file: Path

    @classmethod
    def prepare(cls, store: Store, home: Path, size: int) -> QualityStep:
        """The six simulators with ``size`` records each (KuaiMai serving work order 4000007
        bad) on the demo's ledger ``store``, and the env file ``home/demo.env``.

        Raises:
            ValueError: ``size`` is below 7 (the work order would not exist).
        """
        from ferry.cli._envfile import write_env_file

        sandbox = quality_demo_sandbox(size)
        env = {**sandbox_env(sandbox), "BI_MYSQL_URL": f"sqlite:///{home / 'bi.db'}"}
        header = (
            "ferry demo: seed 001's connections on the demo's SQLite target (bi.db) and the in-process\n"
            "simulators (not reachable from outside `ferry demo`; delivering to bi.db needs none)"
        )
        env_file = write_env_file(home / DEMO_ENV, env, header=header)
        seed = next(s for s in SEEDS if s.key == "001")
        return cls(sandbox, quality_demo(sandbox), store.url, env_file, seed.path)

    def ferry(self, *args: str, env: bool = False) -> str:
        """A ``ferry`` command line on the demo's ledger (and its env file when ``env``)."""
        head = ["ferry", "--store", self.store_url] + (["--env-file", str(self.env_file)] if env else [])
        return shlex.join([*head, *args])

    def fix_command(self) -> str:
        """Edit the held record back to the value KuaiMai holds, and deliver it at once."""
        fix = f"{self.planned.path}={self.planned.stored}"
        now = ["--now", _shown_path(self.scheme_file)]
        return self.ferry("quarantine", "edit", SCHEME, LEDGER_ID, "--set", fix, *now, env=True)

    def release_command(self) -> str:
        """Deliver the held record as it is, at once."""
        now = ["--now", _shown_path(self.scheme_file)]
        return self.ferry("quarantine", "release", SCHEME, LEDGER_ID, *now, env=True)

    def outcome(self, store: Store, run_id: int | None) -> tuple[int, Lines]:
        """The exit code of the quality step (0 when exactly the planned record is held, or an
        operator dealt with it; 1 otherwise) and the "Data quality" lines to print.

        ``run_id``: this demo's run of seed 001 (to tell a record held now from one held before).
        """
        from ferry.store import quarantine

        held = quarantine.get_held(store, SCHEME, LEDGER_ID)
        lines: Lines = [("Data quality", "bold")]
        if held is not None and held.status != quarantine.QUARANTINED:
            code, body = EXIT_OK, self._handled(store)
        elif held is not None and held.path == self.planned.path and held.value == self.planned.served:
            code, body = EXIT_OK, self._held(held, run_id)
        else:
            code, body = EXIT_FAILED, self._not_held(held)
        others = _unplanned(store)
        if others:
            command = self.ferry("quarantine", "list")
            records = f"{others:,} other record{'s' if others != 1 else ''}"
            body.append((f"  not planned: {records} quarantined; see them: {command}", "red"))
        return max(code, EXIT_FAILED if others else EXIT_OK), lines + body

    def _held(self, held: Any, run_id: int | None) -> Lines:
        if run_id is not None and held.run_id == run_id:
            when = "this run held it"
        else:
            when = f"held since run {held.run_id}, still waiting for an operator"
        audit = self.ferry("quarantine", "audit", "--scheme", SCHEME)
        drop = self.ferry("quarantine", "drop", SCHEME, LEDGER_ID, "--reason", "test order")
        return [
            (f"  {SCHEME}: 1 record quarantined ({when}), not written to bi.db:", ""),
            (f"  record {LEDGER_ID} (KuaiMai work order {WORK_ORDER}, its one item line)", "cyan"),
            (
                f"  rule {held.rule} (quality.{held.side}): {held.path} = {held.value!r}: {held.reason}",
                "cyan",
            ),
            (
                f"  KuaiMai shows {held.path} {self.planned.stored} for this work order. Fix it and deliver it:",
                "",
            ),
            (f"    {self.fix_command()}", "bold"),
            ("  or deliver it as it is, or drop it with a reason:", ""),
            (f"    {self.release_command()}", ""),
            (f"    {drop}", ""),
            (f"  who did what: {audit}", "dim"),
        ]

    def _handled(self, store: Store) -> Lines:
        from ferry.store import quarantine

        held = quarantine.get_held(store, SCHEME, LEDGER_ID)
        last = quarantine.audit_log(store, scheme_id=SCHEME, record_id=LEDGER_ID, limit=1)
        if held is None or not last:
            return self._not_held(held)
        entry = last[0]
        done = {"edit": "edited and released", "release": "released", "drop": "dropped"}[entry.operation]
        audit = self.ferry("quarantine", "audit", "--scheme", SCHEME)
        return [
            (
                f"  {SCHEME}: record {LEDGER_ID} (work order {WORK_ORDER}) was {done} by {entry.who} "
                f"at {fmt_time(entry.at)}; it is {held.status} now, nothing is held",
                "cyan",
            ),
            (f"  who did what: {audit}", "dim"),
        ]

    def _not_held(self, held: Any) -> Lines:
        if held is None:
            status = "not in the ledger"
        elif held.rule:
            status = f"{held.status}, held by {held.rule} for {held.path} = {held.value!r}"
        else:
            status = f"{held.status}, held by no rule"
        return [
            (
                f"  not as planned: {SCHEME} record {LEDGER_ID} (served with status 99) is {status}; "
                "seed 001's quality rule status-known should quarantine it for its status",
                "red",
            )
        ]


def _unplanned(store: Store) -> int:
    """How many quarantined records there are besides the demo's one."""
    from ferry.store import quarantine

    held = sum(
        n for (_, _, status), n in quarantine.counts(store).items() if status == quarantine.QUARANTINED
    )
    mine = quarantine.get_held(store, SCHEME, LEDGER_ID)
    return held - (mine is not None and mine.status == quarantine.QUARANTINED)
