"""Alerts: incidents (one per rule and subject while it lasts) and the notices sent for them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

An incident opens when a rule starts firing for a subject (a scheme, or a vendor API), stays
open while it keeps firing, and is resolved once it stops: one alert per incident and one
recovery notice, not one per failure. ``alert_notices`` records each delivery to a channel.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from ferry.store._ddl import create_index, create_table

DT = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

revision = "0005"
down_revision = "0004"
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
        "alert_incidents",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("subject", ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("summary", TEXT, nullable=False),
        sa.Column("opened_at", DT, nullable=False),
        sa.Column("last_seen_at", DT, nullable=False),
        sa.Column("resolved_at", DT),
        **_options(),
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
        sa.Column("error", TEXT),
        **_options(),
    )
    create_index("ix_alert_notices_incident", "alert_notices", ["incident_id", "id"])


def downgrade() -> None:
    op.drop_table("alert_notices")
    op.drop_table("alert_incidents")
