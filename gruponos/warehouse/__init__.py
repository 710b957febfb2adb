"""Targets: raw tables per entity, run log, quarantine and sync state.

base.py           the values that cross the line (run record, state, checkpoint, counts); ``quote``
adapter.py        ``Warehouse``: what the pipeline calls, and the load sequence every target shares
sql/              the SQL, one module per dialect over the statements they share
duckdb.py         the embedded default (a file)
postgres.py       psycopg 3 against a PostgreSQL server
oracle.py         python-oracledb (thin mode) against Oracle / Autonomous Database
oracle_values.py  values between Arrow and python-oracledb
status.py         what the warehouse knows of each entity (``gruponos status``, health check)
"""

from __future__ import annotations

from gruponos.settings import WarehouseSettings
from gruponos.warehouse.adapter import Warehouse
from gruponos.warehouse.base import Checkpoint, LoadCounts, RunRecord, SyncState, quote
from gruponos.warehouse.status import EntityStatus, entity_status, stale

__all__ = [
    "Checkpoint",
    "EntityStatus",
    "LoadCounts",
    "RunRecord",
    "SyncState",
    "Warehouse",
    "connect",
    "entity_status",
    "quote",
    "stale",
]


def connect(settings: WarehouseSettings) -> Warehouse:
    """Open the configured warehouse (its control tables created or brought up to date)."""
    if settings.kind == "duckdb":
        from gruponos.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(path=settings.path, schema=settings.db_schema, memory_limit=settings.duckdb_memory_limit)
    if settings.kind == "postgres":
        from gruponos.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(dsn=settings.secret_dsn(), schema=settings.db_schema)
    from gruponos.warehouse.oracle import OracleWarehouse

    return OracleWarehouse.from_settings(settings)
