"""The Oracle adapter against a live Oracle / Autonomous Database, with allocation batches
fetched from the simulator: MERGE idempotency, newer ``mod_ts`` wins, deletes marked by
``finish``, rows the database refuses quarantined, one run per entity.

Runs only when ``GRUPONOS_TEST_ORACLE_DSN`` (plus ``GRUPONOS_TEST_ORACLE_USER`` and
``GRUPONOS_TEST_ORACLE_PASSWORD``; optional ``GRUPONOS_TEST_ORACLE_SCHEMA``, default the
user, and ``GRUPONOS_TEST_ORACLE_WALLET_DIR``/``_WALLET_PASSWORD``) is set. Use a
dedicated test schema: the tests drop and recreate its ``ALLOCATION`` tables and delete
the ``allocation`` rows of its control tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

DSN = os.environ.get("GRUPONOS_TEST_ORACLE_DSN") or ""
if not DSN:
    pytest.skip(
        "GRUPONOS_TEST_ORACLE_DSN is not set (with GRUPONOS_TEST_ORACLE_USER/_PASSWORD): no live Oracle to test",
        allow_module_level=True,
    )

import oracledb  # noqa: E402

from gruponos.errors import ConcurrentRunError  # noqa: E402
from gruponos.settings import WarehouseSettings, WmsSettings  # noqa: E402
from gruponos.simulator import Simulator  # noqa: E402
from gruponos.warehouse.base import Checkpoint, RunRecord  # noqa: E402
from gruponos.warehouse.oracle import OracleWarehouse  # noqa: E402
from gruponos.wms import Extraction, WmsClient  # noqa: E402
from tests.specs import spec as entity  # noqa: E402

USER = os.environ.get("GRUPONOS_TEST_ORACLE_USER")
PASSWORD = os.environ.get("GRUPONOS_TEST_ORACLE_PASSWORD")
SCHEMA = os.environ.get("GRUPONOS_TEST_ORACLE_SCHEMA") or USER or "wms_raw"
WALLET_DIR = os.environ.get("GRUPONOS_TEST_ORACLE_WALLET_DIR")
WALLET_PASSWORD = os.environ.get("GRUPONOS_TEST_ORACLE_WALLET_PASSWORD")
SPEC = entity("allocation")


def _connect() -> oracledb.Connection:
    extra: dict[str, Any] = {}
    if WALLET_DIR:
        extra = {"config_dir": WALLET_DIR, "wallet_location": WALLET_DIR, "wallet_password": WALLET_PASSWORD}
    return oracledb.connect(user=USER, password=PASSWORD, dsn=DSN, **extra)


def _reset() -> None:
    """Drop the allocation tables and forget the entity in the control tables."""
    s = f'"{SCHEMA.upper()}"'
    with _connect() as conn, conn.cursor() as cur:
        for name in ("ALLOCATION", "_STAGE_ALLOCATION"):
            try:
                cur.execute(f'DROP TABLE {s}."{name}" PURGE')
            except oracledb.DatabaseError as exc:
                if "ORA-00942" not in str(exc):  # table or view does not exist
                    raise
        for name in ("_SYNC_STATE", "_SYNC_RUNS", "_REJECTED"):
            cur.execute(f'DELETE FROM {s}."{name}" WHERE "ENTITY" = :e', {"e": "allocation"})
        conn.commit()


def _warehouse() -> OracleWarehouse:
    settings = WarehouseSettings(kind="oracle", dsn=DSN, user=USER, password=PASSWORD, schema=SCHEMA, pool_max=4,
                                 wallet_dir=WALLET_DIR)  # fmt: skip
    if WALLET_PASSWORD:
        return OracleWarehouse(dsn=DSN, user=USER, password=PASSWORD, schema=SCHEMA, wallet_dir=WALLET_DIR,
                               wallet_password=WALLET_PASSWORD)  # fmt: skip
    return OracleWarehouse.from_settings(settings)


@pytest.fixture(scope="module")
def allocation() -> pa.RecordBatch:
    """The simulator's allocations, fetched through the WMS client, as one batch."""
    with Simulator(scale=300, seed=5) as sim:
        settings = WmsSettings(
            base_url=sim.base_url,
            username=sim.username,
            password=sim.password,
            page_size=100,
            min_page_size=25,
            partition_min_rows=10**9,
        )
        with WmsClient(settings) as wms:
            table = pa.Table.from_batches(list(Extraction(SPEC, wms)), schema=SPEC.schema)
    batches = table.combine_chunks().to_batches()
    assert len(batches) == 1 and batches[0].num_rows > 50
    return batches[0]


@pytest.fixture
def wh() -> Iterator[OracleWarehouse]:
    warehouse = _warehouse()  # creates the control tables
    _reset()
    try:
        with warehouse.lock(SPEC.name):
            assert warehouse.prepare(SPEC) == []
            yield warehouse
    finally:
        warehouse.close()
        _reset()


def _run(mode: str = "full") -> RunRecord:
    return RunRecord(run_id=uuid.uuid4().hex, entity=SPEC.name, mode=mode, started_at=datetime.now(UTC))


def _with(batch: pa.RecordBatch, rows: list[dict[str, Any]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=batch.schema)


def _run_log(wh: OracleWarehouse, run: RunRecord) -> tuple[Any, ...]:
    s = f'"{SCHEMA.upper()}"'
    (row,) = wh.query(
        f'SELECT "STATUS", "EXTRACTED", "REJECTED", "INSERTED", "UPDATED", "DELETED" FROM {s}."_SYNC_RUNS" '
        'WHERE "RUN_ID" = :r',
        {"r": run.run_id},
    )
    return tuple(row)


def test_loading_the_same_batch_twice_leaves_one_row_per_id(wh: OracleWarehouse, allocation: pa.RecordBatch) -> None:
    run = _run()
    wh.start_run(run)
    first = wh.load(SPEC, allocation, [], run, generation="g1", checkpoint=None)
    second = wh.load(SPEC, allocation, [], run, generation="g1", checkpoint=None)
    n = allocation.num_rows
    assert (first.inserted, first.updated, first.unchanged) == (n, 0, 0)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, n)
    rows = list(wh.rows(SPEC.name))
    ids = [r["id"] for r in rows]
    assert ids == sorted(allocation.column("id").to_pylist()) and len(ids) == len(set(ids))
    sent = {r["id"]: r for r in allocation.to_pylist()}
    for got in rows[:25]:
        want = sent[got["id"]]
        for name in ("alloc_qty", "packed_qty", "mod_ts", "picked_ts", "is_picking_flg", "order_dtl_id",
                     "order_dtl_key", "status_id", "pick_locn_str"):  # fmt: skip
            assert got[name] == want[name], name
        assert got["_seen_run"] == "g1" and got["_run_id"] == run.run_id and got["_deleted_at"] is None
    assert _run_log(wh, run)[1:5] == (2 * n, 0, n, 0)


def test_newer_mod_ts_wins_and_an_older_one_is_ignored(wh: OracleWarehouse, allocation: pa.RecordBatch) -> None:
    run = _run("incremental")
    wh.start_run(run)
    wh.load(SPEC, allocation, [], run, generation=run.run_id, checkpoint=None)
    row = allocation.slice(0, 1).to_pylist()[0]
    newer = row | {"mod_ts": row["mod_ts"] + timedelta(hours=1), "pick_user": "newer"}
    older = row | {"mod_ts": row["mod_ts"] - timedelta(hours=1), "pick_user": "older"}

    counts = wh.load(SPEC, _with(allocation, [newer]), [], run, generation=run.run_id, checkpoint=None)
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 1, 0)
    counts = wh.load(SPEC, _with(allocation, [older]), [], run, generation=run.run_id, checkpoint=None)
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 1)
    stored = next(r for r in wh.rows(SPEC.name) if r["id"] == row["id"])
    assert stored["pick_user"] == "newer" and stored["mod_ts"] == newer["mod_ts"]

    # Two versions of one id in one batch: the latest wins, whatever the order.
    latest = row | {"mod_ts": row["mod_ts"] + timedelta(hours=3), "pick_user": "latest"}
    middle = row | {"mod_ts": row["mod_ts"] + timedelta(hours=2), "pick_user": "middle"}
    counts = wh.load(SPEC, _with(allocation, [latest, middle]), [], run, generation=run.run_id, checkpoint=None)
    assert counts.updated == 1
    stored = next(r for r in wh.rows(SPEC.name) if r["id"] == row["id"])
    assert stored["pick_user"] == "latest"


def test_finish_marks_rows_the_generation_did_not_see_as_deleted(
    wh: OracleWarehouse, allocation: pa.RecordBatch
) -> None:
    first = _run()
    wh.start_run(first)
    started = datetime.now(UTC).replace(microsecond=0)
    wh.load(SPEC, allocation, [], first, generation="g1", checkpoint=Checkpoint("g1", started, None))
    wh.finish(SPEC, first, watermark=started, generation="g1")

    second = _run()
    wh.start_run(second)
    half = allocation.slice(0, allocation.num_rows // 2)
    last_id = max(half.column("id").to_pylist())
    wh.load(SPEC, half, [], second, generation="g2", checkpoint=Checkpoint("g2", started, last_id))
    state = wh.state(SPEC.name)
    assert (state.generation_started_at, state.resume_after, state.generation) == (started, last_id, "g2")

    later = started + timedelta(minutes=5)
    deleted = wh.finish(SPEC, second, watermark=later, generation="g2")
    assert deleted == allocation.num_rows - half.num_rows
    rows = list(wh.rows(SPEC.name))
    seen = set(half.column("id").to_pylist())
    assert all((r["_deleted_at"] is None) == (r["id"] in seen) for r in rows)
    assert wh.state(SPEC.name) == type(state)(watermark=later)
    assert _run_log(wh, second)[0] == "ok" and _run_log(wh, second)[5] == deleted

    # A row that comes back is alive again.
    third = _run()
    wh.start_run(third)
    wh.load(SPEC, allocation, [], third, generation="g3", checkpoint=None)
    assert all(r["_deleted_at"] is None for r in wh.rows(SPEC.name))


def test_rows_the_database_refuses_are_quarantined(wh: OracleWarehouse, allocation: pa.RecordBatch) -> None:
    run = _run()
    wh.start_run(run)
    rows = allocation.to_pylist()
    rows[3]["pick_locn_str"] = "X" * 60  # VARCHAR2(50 CHAR): ORA-12899 for this row only
    counts = wh.load(SPEC, _with(allocation, rows), [], run, generation="g1", checkpoint=None)
    assert counts.rejected == 1 and counts.inserted == allocation.num_rows - 1
    s = f'"{SCHEMA.upper()}"'
    quarantined = wh.query(f'SELECT "RECORD_ID", "RULE" FROM {s}."_REJECTED" WHERE "RUN_ID" = :r', {"r": run.run_id})
    assert [tuple(q) for q in quarantined] == [(rows[3]["id"], "oracle:ORA-12899")]
    assert _run_log(wh, run)[1:4] == (allocation.num_rows, 1, allocation.num_rows - 1)


def test_a_second_run_of_the_entity_is_refused_while_the_first_holds_it(wh: OracleWarehouse) -> None:
    other = _warehouse()
    try:
        with pytest.raises(ConcurrentRunError, match="allocation"), other.lock(SPEC.name):
            pass
        with other.lock("order_hdr"):  # another entity is free
            pass
    finally:
        other.close()
