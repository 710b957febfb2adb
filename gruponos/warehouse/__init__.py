"""Targets: raw tables per entity, run log, quarantine and sync state (see ``base``).

duckdb.py     the embedded default (a file)
postgres.py   psycopg 3 against a PostgreSQL server
oracle.py     python-oracledb (thin mode) against Oracle / Autonomous Database
"""

from __future__ import annotations

from gruponos.settings import WarehouseSettings
from gruponos.warehouse.base import Checkpoint, LoadCounts, RunRecord, SyncState, Warehouse, quote

__all__ = ["Checkpoint", "LoadCounts", "RunRecord", "SyncState", "Warehouse", "connect", "quote"]


def connect(settings: WarehouseSettings) -> Warehouse:
    """Open the configured warehouse."""
    if settings.kind == "duckdb":
        from gruponos.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(path=settings.path, schema=settings.db_schema, memory_limit=settings.duckdb_memory_limit)
    if settings.kind == "postgres":
        from gruponos.warehouse.postgres import PostgresWarehouse

        assert settings.dsn is not None
        return PostgresWarehouse(dsn=settings.dsn.get_secret_value(), schema=settings.db_schema)
    from gruponos.warehouse.oracle import OracleWarehouse

    return OracleWarehouse.from_settings(settings)
