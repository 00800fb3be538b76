"""The schema comes only from the Alembic migrations, from empty, idempotently."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ferry.errors import FatalError
from ferry.store import Store, open_store
from ferry.store._schema import metadata

TABLES = {
    "schemes",
    "window_cursors",
    "ledger",
    "record_attempts",
    "rate_keys",
    "rate_calls",
    "runs",
    "api_calls",
    "scheme_leases",
    "schedule_slots",
    "run_events",
    "alert_incidents",
    "alert_notices",
    "users",
    "quarantine_holds",
    "quarantine_audit",
    "schema_fingerprints",
    "schema_drift_events",
    "ferry_alembic_version",
}


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_an_unmigrated_store_has_no_tables_and_no_revision(any_db_url: str) -> None:
    with Store(any_db_url) as store:
        assert store.current_revision() is None
    assert _tables(any_db_url) == set()


def test_migrate_creates_every_table_from_empty(any_db_url: str) -> None:
    with open_store(any_db_url) as store:
        assert store.current_revision() == Store.head_revision()
    assert _tables(any_db_url) == TABLES


def test_migrate_is_idempotent_and_keeps_data(any_db_url: str) -> None:
    with open_store(any_db_url) as store:
        store.save_scheme("s1", "Scheme one", {"a": 1})
        store.migrate()
        store.migrate()
        assert store.current_revision() == Store.head_revision()
        assert store.get_scheme("s1")["definition"] == {"a": 1}  # type: ignore[index]
    with open_store(any_db_url) as reopened:
        assert [s["id"] for s in reopened.list_schemes()] == ["s1"]


def test_migrated_schema_matches_the_runtime_table_definitions(any_db_url: str) -> None:
    with open_store(any_db_url):
        pass
    engine = sa.create_engine(any_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": "ferry_alembic_version"}
            )
            diffs = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diffs == []


def test_using_an_unmigrated_store_fails_with_the_hint_to_migrate(any_db_url: str) -> None:
    with Store(any_db_url) as store, pytest.raises(FatalError, match="ferry store migrate"):
        store.count_by_status("s1")


def test_ledger_ids_are_case_and_space_sensitive(store: Store) -> None:
    result = store.upsert_records("s", [("SO1", None, {}), ("so1", None, {}), ("SO1 ", None, {})])
    assert result.new == 3
    assert store.count_by_status("s")["pending"] == 3


def test_concurrent_migrators_all_succeed(any_db_url: str) -> None:
    errors: list[BaseException] = []
    stores: list[Store] = []

    def migrate() -> None:
        try:
            stores.append(open_store(any_db_url))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        late = open_store(any_db_url)  # the others are still open: no migration lock is left held
        stores.append(late)
        assert {s.current_revision() for s in stores} == {Store.head_revision()}
    finally:
        for opened in stores:
            opened.close()


def test_a_migration_killed_half_way_completes_on_the_next_start(any_db_url: str) -> None:
    # MySQL/MariaDB commit each CREATE on its own: a process killed during the first migration
    # leaves some tables and no version stamp. The next start must finish the job, not stop at
    # "table already exists".
    with open_store(any_db_url):
        pass
    engine = sa.create_engine(any_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM ferry_alembic_version"))
            for table in ("api_calls", "runs", "users", "alert_notices"):
                conn.execute(sa.text(f"DROP TABLE {table}"))
    finally:
        engine.dispose()
    with open_store(any_db_url) as store:
        assert store.current_revision() == Store.head_revision()
        store.save_scheme("s1", "Scheme one", {"a": 1})
    assert _tables(any_db_url) == TABLES
