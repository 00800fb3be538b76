"""Scheduling: scheme leases, the last slot fired per schedule, and per-run event logs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

``scheme_leases`` holds one row per (scheme, phase) while a process works on it, so a scheme
collects in at most one place at a time; a lease whose ``expires_at`` has passed was left by
a process that died and may be taken over. ``schedule_slots`` remembers the last cron slot each
schedule fired, so a restart after downtime runs a missed slot once, not once per missed slot.
``run_events`` is a run's log: windows committed, retries, errors (never credentials).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import BIG_ID, DT, ID, MEDIUM_TEXT, create_index, create_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "scheme_leases",
        sa.Column("scheme_id", ID, primary_key=True),
        sa.Column("phase", sa.String(16), primary_key=True),
        sa.Column("owner", sa.String(191), nullable=False),
        sa.Column("acquired_at", DT, nullable=False),
        sa.Column("expires_at", DT, nullable=False),
    )
    create_table(
        "schedule_slots",
        sa.Column("scheme_id", ID, primary_key=True),
        sa.Column("job", sa.String(32), primary_key=True),
        sa.Column("last_slot", DT, nullable=False),
        sa.Column("updated_at", DT, nullable=False),
    )
    create_table(
        "run_events",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("at", DT, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", MEDIUM_TEXT, nullable=False),
    )
    create_index("ix_run_events_run", "run_events", ["run_id", "id"])


def downgrade() -> None:
    op.drop_table("run_events")
    op.drop_table("schedule_slots")
    op.drop_table("scheme_leases")
