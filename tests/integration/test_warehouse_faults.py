"""Real faults against a real DuckDB file and this machine's PostgreSQL: each becomes one
``WarehouseError`` that keeps the driver's words, names the entity (and the record, for bad
data), says whether a retry can help, and carries no secret and no chained driver error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from gruponos.errors import WarehouseError
from gruponos.settings import WarehouseSettings
from gruponos.warehouse import connect
from gruponos.warehouse.adapter import Warehouse
from gruponos.warehouse.duckdb import DuckDBWarehouse
from gruponos.warehouse.oracle import OracleWarehouse
from gruponos.warehouse.postgres import PostgresWarehouse
from tests.integration._warehouse import PG_DSN, SPEC, T0, batch, fresh_schema, needs_pg, open_target, running


def assert_unchained(error: BaseException) -> None:
    """Nothing of the driver's exception travels with ours (its text may quote a DSN)."""
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with fresh_schema() as schema:
        yield schema


def invalid_utf8_at(ids: list[int], bad: int) -> pa.RecordBatch:
    """Allocation rows whose ``pick_user`` is text, but bytes that are not UTF-8 for id ``bad``."""
    good = batch(ids, pick_user="ok")
    values = [b"ok" if i != bad else b"x\xff\xfey" for i in ids]
    offsets = pa.array([sum(len(v) for v in values[:n]) for n in range(len(values) + 1)], pa.int32())
    column = pa.Array.from_buffers(pa.string(), len(ids), [None, offsets.buffers()[1], pa.py_buffer(b"".join(values))])
    return good.set_column(good.schema.get_field_index("pick_user"), "pick_user", column)


def assert_data_error_named(error: WarehouseError, driver_words: str, record: int, field: str) -> None:
    message = str(error)
    assert error.retryable is False
    assert message.startswith("allocation: load failed") and "(data error)" in message
    assert driver_words in message  # the driver's own text, not a later error hiding it
    assert f"record id {record}, field {field}" in message
    assert_unchained(error)


def test_duckdb_invalid_utf8_fails_the_load_with_duckdbs_own_words_and_loses_nothing(tmp_path: Path) -> None:
    wh = open_target("duckdb", tmp_path)
    with running(wh) as first:
        wh.load(SPEC, batch([1, 2]), [], first, generation="g", checkpoint=None)
        with pytest.raises(WarehouseError) as failed:
            wh.load(SPEC, invalid_utf8_at([3, 4, 5], bad=4), [], first, generation="g", checkpoint=None)
        assert_data_error_named(failed.value, "Invalid unicode", 4, "pick_user")
        assert [r["id"] for r in wh.rows(SPEC.name)] == [1, 2]  # the batch rolled back, the earlier one kept
        counts = wh.load(SPEC, batch([3, 5]), [], first, generation="g", checkpoint=None)  # the connection still works
        assert counts.inserted == 2


@needs_pg
def test_postgres_nul_in_text_fails_the_load_as_a_data_error_naming_the_record(pg_schema: str) -> None:
    wh = PostgresWarehouse(dsn=PG_DSN, schema=pg_schema)
    with running(wh) as first:
        with pytest.raises(WarehouseError) as failed:
            wh.load(SPEC, batch([7], pick_user="a\x00b"), [], first, generation="g", checkpoint=None)
        assert_data_error_named(failed.value, "0x00", 7, "pick_user")
        assert list(wh.rows(SPEC.name)) == []


@needs_pg
def test_postgres_lock_timeout_may_heal(pg_schema: str) -> None:
    impatient = make_conninfo(PG_DSN, options="-c lock_timeout=200")
    wh = PostgresWarehouse(dsn=impatient, schema=pg_schema)
    with running(wh) as first:
        with psycopg.connect(PG_DSN) as blocker:
            blocker.execute(f'LOCK TABLE "{pg_schema}"."allocation" IN ACCESS EXCLUSIVE MODE')
            with pytest.raises(WarehouseError) as waited:
                wh.load(SPEC, batch([1]), [], first, generation="g", checkpoint=None)
            blocker.rollback()
        assert waited.value.retryable is True and "(lock timeout)" in str(waited.value)
        assert wh.load(SPEC, batch([1]), [], first, generation="g", checkpoint=None).inserted == 1  # and it did heal


@needs_pg
def test_postgres_terminated_backend_may_heal_and_the_next_call_reconnects(pg_schema: str) -> None:
    wh = PostgresWarehouse(dsn=PG_DSN, schema=pg_schema)
    try:
        ((pid,),) = wh.query("SELECT pg_backend_pid()")
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(WarehouseError) as lost:
            wh.state(SPEC.name)
        assert lost.value.retryable is True and "allocation: state failed" in str(lost.value)
        assert_unchained(lost.value)
        assert wh.state(SPEC.name).watermark is None  # a new session
    finally:
        wh.close()


@needs_pg
def test_postgres_unreachable_may_heal_and_never_shows_the_password() -> None:
    with pytest.raises(WarehouseError) as refused:
        PostgresWarehouse(dsn="postgresql://loader:Sup3r-s3cret@127.0.0.1:1/test", schema="wms_raw")
    assert refused.value.retryable is True and "cannot connect to PostgreSQL" in str(refused.value)
    assert "Sup3r-s3cret" not in str(refused.value) and "Sup3r-s3cret" not in repr(refused.value)
    assert_unchained(refused.value)


def test_oracle_unreachable_may_heal_and_never_shows_the_password() -> None:
    with pytest.raises(WarehouseError) as refused:
        OracleWarehouse(dsn="127.0.0.1:1/svc", user="loader", password="Sup3r-s3cret", wait_timeout_ms=2_000)
    assert refused.value.retryable is True and "DPY-6005" in str(refused.value)
    assert "Sup3r-s3cret" not in str(refused.value)
    assert_unchained(refused.value)


SCHEMAS = [
    ("duckdb", "information_schema"),
    ("duckdb", "pg_catalog"),
    ("duckdb", "temp"),  # DuckDB's temporary catalog: an ambiguous name
    ("duckdb", "wh"),  # the file's own catalog name: ambiguous too
    pytest.param("postgres", "information_schema", marks=needs_pg),
    pytest.param("postgres", "pg_catalog", marks=needs_pg),
    pytest.param("postgres", "pg_toast", marks=needs_pg),
]


@pytest.mark.parametrize(("kind", "schema"), SCHEMAS)
def test_a_schema_the_database_keeps_for_itself_is_refused_naming_the_setting(
    kind: str, schema: str, tmp_path: Path
) -> None:
    # the settings refuse these names already; the adapter refuses them on its own too
    values = {"kind": kind, "path": str(tmp_path / "wh.duckdb"), "dsn": SecretStr(PG_DSN), "db_schema": schema}
    settings = WarehouseSettings.model_construct(**(WarehouseSettings().model_dump() | values))
    with pytest.raises(WarehouseError) as refused:
        connect(settings)
    assert f"GRUPONOS_WAREHOUSE__SCHEMA={schema}" in str(refused.value)
    assert refused.value.retryable is False
    assert_unchained(refused.value)


def test_duckdbs_default_schema_main_is_a_schema_like_any_other(tmp_path: Path) -> None:
    wh: Warehouse = DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"), schema="main")
    with running(wh) as first:
        wh.load(SPEC, batch([1]), [], first, generation="g", checkpoint=None)
        wh.finish(SPEC, first, watermark=T0, generation=None)
        assert wh.state(SPEC.name).watermark == T0


def test_a_memory_limit_duckdb_cannot_read_names_its_setting(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="GRUPONOS_WAREHOUSE__DUCKDB_MEMORY_LIMIT='lots'"):
        DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"), memory_limit="lots")
    DuckDBWarehouse(path=str(tmp_path / "wh.duckdb")).close()  # the file was released
