"""Quarantine: records held by data-quality rules, and the audit of what operators did with them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12

- ``ledger.status`` may also be ``quarantined`` (a quality rule holds the row; never claimed or
  replayed) and ``dropped`` (an operator dropped it, with a reason; final): the check constraint
  ``ck_ledger_status`` is replaced. On SQLite that rebuilds the ledger table (its constraints
  cannot be altered in place): once, in the migration's transaction.
- ``quarantine_holds``: why each record was last held (rule, side, path, value, reason, run) and
  what became of the hold (``held``, ``released`` with the content hash released, ``dropped``).
- ``quarantine_audit``: one row per operator action (release, edit, drop): who, when, the status
  and content before and after, the rule and the reason.

Each step checks what is there first, so a migration interrupted half-way on MySQL (where each
DDL statement commits on its own) completes on the next start.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import BIG_ID, DT, ID, LONG_TEXT, MEDIUM_TEXT, create_index, create_table

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD = "status IN ('pending', 'queued', 'finished', 'error', 'dead')"
NEW = "status IN ('pending', 'queued', 'finished', 'error', 'dead', 'quarantined', 'dropped')"
NAME = "ck_ledger_status"


def _check_text() -> str | None:
    """The ledger's status check as the database holds it (``None`` when there is none)."""
    checks = sa.inspect(op.get_bind()).get_check_constraints("ledger")
    return next((str(c.get("sqltext") or "") for c in checks if c.get("name") == NAME), None)


def _replace_check(text: str) -> None:
    found = _check_text()
    if found is not None and "quarantined" in found and text == NEW:
        return  # done by an earlier, interrupted run of this step
    if op.get_bind().dialect.name == "sqlite":
        # batch mode rebuilds the table; SQLite's reflection leaves CHECK constraints out
        with op.batch_alter_table("ledger", recreate="always") as batch:
            batch.create_check_constraint(NAME, sa.text(text))
        return
    if found is not None:
        op.drop_constraint(NAME, "ledger", type_="check")
    op.create_check_constraint(NAME, "ledger", sa.text(text))


def upgrade() -> None:
    _replace_check(NEW)
    create_table(
        "quarantine_holds",
        sa.Column("scheme_id", ID, primary_key=True),
        sa.Column("record_id", ID, primary_key=True),
        sa.Column("rule", sa.String(191), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("value", MEDIUM_TEXT),
        sa.Column("reason", MEDIUM_TEXT, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("held_at", DT, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.CHAR(32)),
    )
    create_index("ix_quarantine_holds_rule", "quarantine_holds", ["scheme_id", "rule"])
    create_table(
        "quarantine_audit",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("scheme_id", ID, nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("who", sa.String(191), nullable=False),
        sa.Column("at", DT, nullable=False),
        sa.Column("status_before", sa.String(16)),
        sa.Column("status_after", sa.String(16)),
        sa.Column("content_before", LONG_TEXT),
        sa.Column("content_after", LONG_TEXT),
        sa.Column("rule", sa.String(191)),
        sa.Column("reason", MEDIUM_TEXT),
    )
    create_index("ix_quarantine_audit_scheme", "quarantine_audit", ["scheme_id", "id"])


def downgrade() -> None:
    op.drop_table("quarantine_audit")
    op.drop_table("quarantine_holds")
    op.execute(sa.text("UPDATE ledger SET status = 'dead' WHERE status IN ('quarantined', 'dropped')"))
    _replace_check(OLD)
