"""Alerts: incidents (one per rule and subject while it lasts) and the notices sent for them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

An incident opens when a rule starts firing for a subject (a scheme, or a vendor API), stays
open while it keeps firing, and is resolved once it stops: one alert per incident and one
recovery notice, not one per failure. ``alert_notices`` records each delivery to a channel.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ferry.store._ddl import BIG_ID, DT, ID, MEDIUM_TEXT, create_index, create_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "alert_incidents",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("subject", ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("summary", MEDIUM_TEXT, nullable=False),
        sa.Column("opened_at", DT, nullable=False),
        sa.Column("last_seen_at", DT, nullable=False),
        sa.Column("resolved_at", DT),
    )
    create_index("ix_alert_incidents_open", "alert_incidents", ["rule", "subject", "status"])
    create_table(
        "alert_notices",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", DT, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", MEDIUM_TEXT),
    )
    create_index("ix_alert_notices_incident", "alert_notices", ["incident_id", "id"])


def downgrade() -> None:
    op.drop_table("alert_notices")
    op.drop_table("alert_incidents")
