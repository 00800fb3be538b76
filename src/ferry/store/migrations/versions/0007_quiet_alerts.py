"""Quiet, true alerts: throttled API calls, exact rate-budget times, bounded incident notices.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

- ``api_calls.status`` may be ``throttled`` (a "slow down" answer Ferry waited out is not an
  API error); the column widens to 16 characters and its check constraint takes the new value.
- ``rate_calls.at`` and ``rate_keys.not_before`` become double precision: on MySQL/MariaDB a
  plain ``FLOAT`` is single precision, which rounds epoch seconds to about two minutes and lets
  the shared rate budget admit more calls than the vendor allows.
- ``alert_notices.attempt`` numbers the sends of one notice (incident, channel, kind), so old
  notice rows can be pruned without losing count; ``alert_notices.skipped`` marks a notice not
  sent because its channel is misconfigured; ``alert_incidents.notice_count`` counts every notice
  ever recorded for the incident (the rows keep only the latest ones).

Every step checks what is there first, so a migration interrupted half-way on MySQL (where each
DDL statement commits on its own) completes on the next start.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATUS_CHECK = "ck_api_calls_status"


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def _checks(table: str) -> set[str]:
    return {str(c["name"]) for c in sa.inspect(op.get_bind()).get_check_constraints(table) if c.get("name")}


def _api_call_status() -> None:
    with op.batch_alter_table("api_calls") as batch:
        if STATUS_CHECK in _checks("api_calls"):
            batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.alter_column("status", existing_type=sa.String(8), type_=sa.String(16), existing_nullable=False)
        batch.create_check_constraint(STATUS_CHECK, "status IN ('ok', 'error', 'throttled')")


def _double(table: str, column: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.alter_column(column, existing_type=sa.Float(), type_=sa.Double(), existing_nullable=False)


def _add(table: str, column: sa.Column[object]) -> None:
    if column.name not in _columns(table):
        op.add_column(table, column)


def upgrade() -> None:
    _api_call_status()
    _double("rate_calls", "at")
    _double("rate_keys", "not_before")
    _add("alert_notices", sa.Column("attempt", sa.Integer, nullable=False, server_default="0"))
    _add("alert_notices", sa.Column("skipped", sa.Boolean, nullable=False, server_default=sa.false()))
    if "notice_count" not in _columns("alert_incidents"):
        op.add_column(
            "alert_incidents", sa.Column("notice_count", sa.Integer, nullable=False, server_default="0")
        )
        op.execute(
            "UPDATE alert_incidents SET notice_count = "
            "(SELECT COUNT(*) FROM alert_notices WHERE alert_notices.incident_id = alert_incidents.id)"
        )


def downgrade() -> None:
    op.drop_column("alert_incidents", "notice_count")
    with op.batch_alter_table("alert_notices") as batch:
        batch.drop_column("skipped")
        batch.drop_column("attempt")
    with op.batch_alter_table("api_calls") as batch:
        batch.drop_constraint(STATUS_CHECK, type_="check")
        batch.alter_column("status", existing_type=sa.String(16), type_=sa.String(8), existing_nullable=False)
        batch.create_check_constraint(STATUS_CHECK, "status IN ('ok', 'error')")
