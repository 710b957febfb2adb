"""Shared by the warehouse and sync tests: this machine's PostgreSQL, a fresh schema or DuckDB
file per test, and allocation batches built from the catalog."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from gruponos.warehouse.adapter import Warehouse
from gruponos.warehouse.base import RunRecord
from gruponos.warehouse.duckdb import DuckDBWarehouse
from gruponos.warehouse.postgres import PostgresWarehouse
from tests.specs import spec as entity

PG_DSN = os.environ.get("GRUPONOS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SPEC = entity("allocation")
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def pg_available() -> bool:
    with suppress(psycopg.Error), psycopg.connect(PG_DSN, connect_timeout=3):
        return True
    return False


needs_pg = pytest.mark.skipif(not pg_available(), reason=f"no PostgreSQL at {PG_DSN}")
KINDS = ["duckdb", pytest.param("postgres", marks=needs_pg)]


@contextmanager
def fresh_schema(prefix: str = "t") -> Iterator[str]:
    """A schema name nobody uses (``<prefix>_<random>``), dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def fresh_target(kind: str, folder: Path, *, prefix: str = "t", **options: Any) -> Iterator[dict[str, Any]]:
    """Warehouse settings for a fresh DuckDB file under ``folder``, or a fresh PostgreSQL schema dropped after."""
    if kind == "duckdb":
        yield {"kind": "duckdb", "path": str(folder / "wh.duckdb"), **options}
        return
    with fresh_schema(prefix) as schema:
        yield {"kind": "postgres", "dsn": PG_DSN, "schema": schema, **options}


def open_target(kind: str, where: Path | str) -> Warehouse:
    """A DuckDB file under the folder ``where``, or the PostgreSQL schema ``where``."""
    if kind == "duckdb":
        return DuckDBWarehouse(path=str(Path(where) / "wh.duckdb"))
    return PostgresWarehouse(dsn=PG_DSN, schema=str(where))


def batch(ids: range | list[int], *, shift: timedelta = timedelta(), **values: Any) -> pa.RecordBatch:
    """Allocation rows with these ids, ``mod_ts`` = T0 + id seconds + ``shift``, ``values`` in
    every row, the other columns null; built as columns (millions of rows in a second)."""
    ids, field = list(ids), SPEC.schema.field
    columns = {c: pa.nulls(len(ids), field(c).type) for c in SPEC.schema.names}
    columns["id"] = pa.array(ids, field("id").type)
    columns["mod_ts"] = pa.array([T0 + timedelta(seconds=i) + shift for i in ids], field("mod_ts").type)
    columns |= {c: pa.array([v] * len(ids), field(c).type) for c, v in values.items()}
    return pa.RecordBatch.from_pydict(columns, schema=SPEC.schema)


def run(mode: str = "full") -> RunRecord:
    return RunRecord(run_id=uuid.uuid4().hex[:12], entity=SPEC.name, mode=mode, started_at=datetime.now(UTC))


@contextmanager
def running(wh: Warehouse) -> Iterator[RunRecord]:
    """The allocation table ready and a run started on ``wh``; ``wh`` closed afterwards."""
    try:
        wh.prepare(SPEC)
        started = run()
        wh.start_run(started)
        yield started
    finally:
        wh.close()
