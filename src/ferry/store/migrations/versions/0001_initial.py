"""Initial store schema: schemes, window cursors, the ledger, runs and API calls.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Notes on the choices (see also ``ferry/store/_schema.py``):

- Ids are ``VARCHAR(191)``: 191 utf8mb4 characters is the longest key MySQL indexes in full.
- On MySQL/MariaDB every table is utf8mb4 with a *binary, no-pad* collation, so ``'SO1'``,
  ``'so1'`` and ``'SO1 '`` are three different record ids, as on SQLite and PostgreSQL.
- Content is ``LONGTEXT`` on MySQL (a single record may exceed 64 KB); responses and errors
  (kept to 64 KB of UTF-8, which can exceed ``TEXT``'s 65,535 bytes) are ``MEDIUMTEXT``.
- ``ix_ledger_due (scheme_id, status, next_attempt_at)`` serves claiming (oldest due first)
  and counting by status; ``ix_ledger_number`` serves search by bill number.
- The ledger has no foreign key to ``schemes``: it is the hot path, and the rows of a
  removed scheme stay auditable.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import BIG_ID, DT, ID, LONG_TEXT, MEDIUM_TEXT, create_index, create_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "schemes",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("definition", LONG_TEXT, nullable=False),
        sa.Column("enabled", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("created_at", DT, nullable=False),
        sa.Column("updated_at", DT, nullable=False),
    )
    create_table(
        "window_cursors",
        sa.Column("scheme_id", ID, primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("position", DT, nullable=False),
        sa.Column("updated_at", DT, nullable=False),
    )
    create_table(
        "ledger",
        sa.Column("scheme_id", ID, primary_key=True),
        sa.Column("record_id", ID, primary_key=True),
        sa.Column("number", ID),
        sa.Column("content", LONG_TEXT, nullable=False),
        sa.Column("content_hash", sa.CHAR(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("requeue", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("next_attempt_at", DT),
        sa.Column("last_error", MEDIUM_TEXT),
        sa.Column("target_response", MEDIUM_TEXT),
        sa.Column("window_start", DT),
        sa.Column("window_end", DT),
        sa.Column("run_id", sa.Integer),
        sa.Column("created_at", DT, nullable=False),
        sa.Column("updated_at", DT, nullable=False),
        sa.Column("delivered_at", DT),
        sa.CheckConstraint(
            "status IN ('pending', 'queued', 'finished', 'error', 'dead')", name="ck_ledger_status"
        ),
    )
    create_index("ix_ledger_due", "ledger", ["scheme_id", "status", "next_attempt_at"])
    create_index("ix_ledger_number", "ledger", ["scheme_id", "number"])
    create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scheme_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", DT, nullable=False),
        sa.Column("finished_at", DT),
        sa.Column("counts", sa.Text),
        sa.Column("error", MEDIUM_TEXT),
        sa.Column("windows", LONG_TEXT),
        sa.CheckConstraint("kind IN ('run', 'collect', 'deliver', 'replay')", name="ck_runs_kind"),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'partial', 'failed')", name="ck_runs_status"),
    )
    create_index("ix_runs_scheme", "runs", ["scheme_id", "id"])
    create_table(
        "api_calls",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE")),
        sa.Column("scheme_id", ID),
        sa.Column("connection", sa.String(191), nullable=False),
        sa.Column("api", sa.String(255), nullable=False),
        sa.Column("started_at", DT, nullable=False),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", MEDIUM_TEXT),
        sa.Column("records", sa.Integer, nullable=False),
        sa.CheckConstraint("status IN ('ok', 'error')", name="ck_api_calls_status"),
    )
    create_index("ix_api_calls_scheme", "api_calls", ["scheme_id", "id"])
    create_index("ix_api_calls_run", "api_calls", ["run_id"])


def downgrade() -> None:
    for table in ("api_calls", "runs", "ledger", "window_cursors", "schemes"):
        op.drop_table(table)
