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

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from ferry.store._ddl import create_index, create_table

DT = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(191)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _options() -> dict[str, Any]:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        return {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
    return {}


def upgrade() -> None:
    create_table(
        "scheme_leases",
        sa.Column("scheme_id", ID, primary_key=True),
        sa.Column("phase", sa.String(16), primary_key=True),
        sa.Column("owner", sa.String(191), nullable=False),
        sa.Column("acquired_at", DT, nullable=False),
        sa.Column("expires_at", DT, nullable=False),
        **_options(),
    )
    create_table(
        "schedule_slots",
        sa.Column("scheme_id", ID, primary_key=True),
        sa.Column("job", sa.String(32), primary_key=True),
        sa.Column("last_slot", DT, nullable=False),
        sa.Column("updated_at", DT, nullable=False),
        **_options(),
    )
    create_table(
        "run_events",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("at", DT, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", TEXT, nullable=False),
        **_options(),
    )
    create_index("ix_run_events_run", "run_events", ["run_id", "id"])


def downgrade() -> None:
    op.drop_table("run_events")
    op.drop_table("schedule_slots")
    op.drop_table("scheme_leases")
