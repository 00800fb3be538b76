"""The store's tables as SQLAlchemy Core objects, for building statements.

The schema itself is created and changed ONLY by the Alembic migrations in
``ferry/store/migrations/versions``; these definitions mirror them (a test compares the two).

Timestamps are stored as naive UTC (``DATETIME(6)`` on MySQL/MariaDB, ``TIMESTAMP`` on
PostgreSQL, ISO text on SQLite) through :class:`UTCDateTime`, which takes and returns
tz-aware datetimes, so every backend stores and orders the same instants the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

__all__ = [
    "ID",
    "LONG_TEXT",
    "MEDIUM_TEXT",
    "UTCDateTime",
    "alert_incidents",
    "alert_notices",
    "api_calls",
    "ledger",
    "metadata",
    "quarantine_audit",
    "quarantine_holds",
    "rate_calls",
    "rate_keys",
    "record_attempts",
    "run_events",
    "runs",
    "schedule_slots",
    "schema_drift_events",
    "schema_fingerprints",
    "scheme_leases",
    "schemes",
    "users",
    "window_cursors",
]

ID_LENGTH = 191
"""Longest scheme id, record id or record number: 191 utf8mb4 characters fit a MySQL index."""

ID = sa.String(ID_LENGTH)
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
MEDIUM_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A tz-aware datetime stored as naive UTC; naive datetimes are refused."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store; pass a tz-aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

schemes = sa.Table(
    "schemes",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("definition", LONG_TEXT, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

window_cursors = sa.Table(
    "window_cursors",
    metadata,
    sa.Column("scheme_id", ID, primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("position", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("scheme_id", ID, primary_key=True),
    sa.Column("record_id", ID, primary_key=True),
    sa.Column("number", ID),
    sa.Column("content", LONG_TEXT, nullable=False),
    sa.Column("content_hash", sa.CHAR(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("requeue", sa.Boolean, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("last_error", MEDIUM_TEXT),
    sa.Column("target_response", MEDIUM_TEXT),
    sa.Column("window_start", UTCDateTime),
    sa.Column("window_end", UTCDateTime),
    sa.Column("run_id", sa.Integer),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index("ix_ledger_due", "scheme_id", "status", "next_attempt_at"),
    sa.Index("ix_ledger_number", "scheme_id", "number"),
)

record_attempts = sa.Table(
    "record_attempts",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("scheme_id", ID, nullable=False),
    sa.Column("record_id", ID, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("error", MEDIUM_TEXT),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Index("ix_record_attempts_record", "scheme_id", "record_id", "id"),
)
"""One row per failed delivery attempt (``error`` or ``dead``); successes live on the ledger row."""

rate_keys = sa.Table(
    "rate_keys",
    metadata,
    sa.Column("key", ID, primary_key=True),
    sa.Column("not_before", sa.Double, nullable=False),
)
"""One row per rate-budget key; locked while a call is reserved (see ``_rate``)."""

rate_calls = sa.Table(
    "rate_calls",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("key", ID, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Index("ix_rate_calls_key_at", "key", "at"),
)
"""Recent calls per key (epoch seconds), for sliding-window budgets shared by processes."""

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scheme_id", ID, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("counts", sa.Text),
    sa.Column("error", MEDIUM_TEXT),
    sa.Column("windows", LONG_TEXT),
    sa.Column("placeholders", MEDIUM_TEXT),
    sa.Index("ix_runs_scheme", "scheme_id", "id"),
)

api_calls = sa.Table(
    "api_calls",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE")),
    sa.Column("scheme_id", ID),
    sa.Column("connection", sa.String(191), nullable=False),
    sa.Column("api", sa.String(255), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", MEDIUM_TEXT),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Index("ix_api_calls_scheme", "scheme_id", "id"),
    sa.Index("ix_api_calls_run", "run_id"),
)

scheme_leases = sa.Table(
    "scheme_leases",
    metadata,
    sa.Column("scheme_id", ID, primary_key=True),
    sa.Column("phase", sa.String(16), primary_key=True),
    sa.Column("owner", sa.String(191), nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)
"""Who works on a scheme's phase (``collect``, ``deliver``) until when; expired = taken over."""

schedule_slots = sa.Table(
    "schedule_slots",
    metadata,
    sa.Column("scheme_id", ID, primary_key=True),
    sa.Column("job", sa.String(32), primary_key=True),
    sa.Column("last_slot", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
"""The last cron slot each schedule (``source``, ``target``, ``omissionRemedy``) fired."""

run_events = sa.Table(
    "run_events",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("message", MEDIUM_TEXT, nullable=False),
    sa.Index("ix_run_events_run", "run_id", "id"),
)
"""A run's log lines (windows, retries, errors); never credentials."""

alert_incidents = sa.Table(
    "alert_incidents",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("subject", ID, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("summary", MEDIUM_TEXT, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("notice_count", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_alert_incidents_open", "rule", "subject", "status"),
)
"""One row per incident: a rule firing for a subject, from first failure to recovery;
``notice_count`` counts every notice recorded for it (``alert_notices`` keeps only the latest)."""

alert_notices = sa.Table(
    "alert_notices",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("incident_id", BIG_ID, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", MEDIUM_TEXT),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_alert_notices_incident", "incident_id", "id"),
)
"""Each alert or recovery notice sent (or attempted, or ``skipped`` for a misconfigured channel)
to a channel; ``attempt`` numbers the sends of one notice. Only an incident's latest rows are kept."""

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(191), primary_key=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_login_at", UTCDateTime),
)
"""Console logins; only password hashes are stored."""

quarantine_holds = sa.Table(
    "quarantine_holds",
    metadata,
    sa.Column("scheme_id", ID, primary_key=True),
    sa.Column("record_id", ID, primary_key=True),
    sa.Column("rule", sa.String(191), nullable=False),
    sa.Column("side", sa.String(16), nullable=False),
    sa.Column("path", sa.String(255), nullable=False),
    sa.Column("value", MEDIUM_TEXT),
    sa.Column("reason", MEDIUM_TEXT, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("held_at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("content_hash", sa.CHAR(32)),
    sa.Index("ix_quarantine_holds_rule", "scheme_id", "rule"),
)
"""Why each record was last held by a quality rule. ``state``: ``held``, ``released`` (deliver as
is: ``content_hash`` is the content released, which the rules then let pass) or ``dropped``."""

quarantine_audit = sa.Table(
    "quarantine_audit",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("scheme_id", ID, nullable=False),
    sa.Column("record_id", ID, nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("who", sa.String(191), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status_before", sa.String(16)),
    sa.Column("status_after", sa.String(16)),
    sa.Column("content_before", LONG_TEXT),
    sa.Column("content_after", LONG_TEXT),
    sa.Column("rule", sa.String(191)),
    sa.Column("reason", MEDIUM_TEXT),
    sa.Index("ix_quarantine_audit_scheme", "scheme_id", "id"),
)
"""Every operator action on a quarantined record (release, edit, drop): who, when, before, after."""

schema_fingerprints = sa.Table(
    "schema_fingerprints",
    metadata,
    sa.Column("scheme_id", ID, primary_key=True),
    sa.Column("fingerprint", MEDIUM_TEXT, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
"""Each scheme's known source fingerprint (JSON, :mod:`ferry.engine.fingerprint`)."""

schema_drift_events = sa.Table(
    "schema_drift_events",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("scheme_id", ID, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("window_start", UTCDateTime),
    sa.Column("window_end", UTCDateTime),
    sa.Column("field_path", ID, nullable=False),
    sa.Column("change_kind", sa.String(16), nullable=False),
    sa.Column("types_before", sa.String(64)),
    sa.Column("types_after", sa.String(64)),
    sa.Column("record_id", ID),
    sa.Column("policy", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
    sa.Column("detected_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("accepted_at", UTCDateTime),
    sa.Column("accepted_by", sa.String(191)),
    sa.Index("ix_schema_drift_scheme", "scheme_id", "status", "id"),
)
"""Drifted source fields per scheme (:mod:`ferry.store.drift`), ``open`` until accepted."""
