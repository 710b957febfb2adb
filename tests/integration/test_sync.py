"""Exactly once, proven: syncs from the simulator into a real DuckDB file and a real
PostgreSQL server, with crashes (real process deaths) before, during and after the MERGE,
faults mid-scan, a killed PostgreSQL connection and two runs at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import psycopg
import pytest
from returns.unsafe import unsafe_perform_io

from gruponos import settings as settings_module
from gruponos.pipeline import Context, EntityReport, sync_entity
from gruponos.simulator import Faults, Simulator
from gruponos.warehouse import Warehouse, connect
from gruponos.wms import WmsClient
from tests.integration._sync import ok, sync_once
from tests.integration._warehouse import KINDS, PG_DSN, fresh_target, needs_pg
from tests.local import tenant
from tests.specs import CATALOG
from tests.specs import spec as entity

simulator = tenant(scale=1_500, seed=3)


@pytest.fixture(params=KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Warehouse settings for a fresh DuckDB file, or a fresh PostgreSQL schema."""
    with fresh_target(request.param, tmp_path, merge_batch_rows=400) as settings:
        yield settings


def config(simulator: Simulator, target: dict[str, Any], **wms: Any) -> settings_module.Settings:
    wms_cfg = {"base_url": simulator.base_url, "page_size": 100, "backoff_base_s": 0.01, "backoff_max_s": 0.05} | wms
    return settings_module.load(env="local", wms=wms_cfg, warehouse=target)


def sync(cfg: settings_module.Settings, mode: str, name: str = "allocation") -> EntityReport:
    return ok(sync_once(cfg, mode, name))


@pytest.fixture(autouse=True)
def _prefect_for_children(prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`gruponos sync` runs through the Prefect flows: children use the session's server (a
    killed child would orphan an ephemeral one) and keep their results and landings here."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    monkeypatch.setenv("TEST_FLOW_DATA_DIR", str(tmp_path / "flow-data"))


def sync_in_subprocess(
    cfg: settings_module.Settings,
    mode: str,
    *,
    crash_at: str | None = None,
    name: str = "allocation",
    library: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`gruponos sync` (through its flow) in a child process configured only through GRUPONOS_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRUPONOS_")}
    wh = cfg.warehouse
    data = Path(os.environ["TEST_FLOW_DATA_DIR"])
    env |= {
        "GRUPONOS_FLOWS__RESULTS_PATH": str(data / "results"),
        "GRUPONOS_FLOWS__LANDING_PATH": str(data / "landing"),
        "GRUPONOS_FLOWS__TASK_RETRIES": "0",
        "GRUPONOS_ENV": "local",
        "GRUPONOS_WMS__BASE_URL": cfg.wms.base_url or "",
        "GRUPONOS_WMS__PAGE_SIZE": str(cfg.wms.page_size),
        "GRUPONOS_WAREHOUSE__KIND": wh.kind,
        "GRUPONOS_WAREHOUSE__PATH": wh.path,
        "GRUPONOS_WAREHOUSE__SCHEMA": wh.db_schema,
        "GRUPONOS_WAREHOUSE__MERGE_BATCH_ROWS": str(wh.merge_batch_rows),
    }
    if wh.dsn is not None:
        env["GRUPONOS_WAREHOUSE__DSN"] = wh.dsn.get_secret_value()
    if crash_at:
        env["GRUPONOS_TEST_CRASH_AT"] = crash_at
    cmd = [sys.executable, "-m", "gruponos.cli", "sync", mode, "--entity", name]
    if library:  # extraction and load streaming together, without the flow's landing step
        cmd = [sys.executable, "-m", "tests.integration._sync_child", mode, name]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def table(cfg: settings_module.Settings, name: str = "allocation") -> list[dict[str, Any]]:
    wh = connect(cfg.warehouse)
    try:
        return list(wh.rows(name))
    finally:
        wh.close()


def assert_mirrors(simulator: Simulator, cfg: settings_module.Settings, name: str = "allocation") -> None:
    """The raw table holds each current WMS row exactly once, at its current mod_ts."""
    rows = table(cfg, name)
    live = {r["id"]: r["mod_ts"] for r in rows if r["_deleted_at"] is None}
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate ids in the raw table"
    want = simulator.tenant.mod_ts(name)
    assert set(live) == set(want), (
        f"{name}: missing {sorted(set(want) - set(live))[:5]}, extra {sorted(set(live) - set(want))[:5]}"
    )
    assert all(live[i].astimezone(UTC) == want[i] for i in want), f"{name}: stale mod_ts"


def runs(cfg: settings_module.Settings) -> list[tuple[str, str]]:
    wh = connect(cfg.warehouse)
    q = f'SELECT mode, status FROM "{cfg.warehouse.db_schema}"."_sync_runs" ORDER BY started_at, mode'
    try:
        return [tuple(r) for r in wh.query(q)]  # type: ignore[attr-defined]
    finally:
        wh.close()


def test_full_then_incremental_mirrors_every_entity(simulator: Simulator, target: dict[str, Any]) -> None:
    cfg = config(simulator, target)
    for name in CATALOG:
        report = sync(cfg, "full", name)
        assert report.inserted == report.extracted == simulator.tenant.count(name)
        assert_mirrors(simulator, cfg, name)
    changes = simulator.advance(minutes=90, modify=0.03, insert=0.01)
    for name in CATALOG:
        report = sync(cfg, "incremental", name)
        assert report.inserted == len(changes.inserted.get(name, []))
        assert report.updated == len(changes.modified.get(name, []))
        assert_mirrors(simulator, cfg, name)


def test_no_change_incremental_changes_nothing_and_moves_the_watermark(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    cfg = config(simulator, target)
    sync(cfg, "full")
    first = sync(cfg, "incremental")
    second = sync(cfg, "incremental")
    assert (second.inserted, second.updated) == (0, 0)
    assert first.watermark_after == second.watermark_after == simulator.tenant.now


def test_full_sync_marks_vanished_ids_deleted_and_never_removes_rows(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    cfg = config(simulator, target)
    sync(cfg, "full")
    gone = simulator.delete("allocation", [10, 11, 12, 700])
    report = sync(cfg, "full")
    assert report.deleted == 4
    rows = {r["id"]: r for r in table(cfg)}
    assert len(rows) == 1_500  # nothing physically deleted
    assert all(rows[i]["_deleted_at"] is not None for i in gone)
    assert_mirrors(simulator, cfg)


@pytest.mark.parametrize("crash_at", ["before_merge:2", "during_merge:2", "after_merge:2"])
@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_rerun_after_a_crash_loads_each_row_once(
    simulator: Simulator, target: dict[str, Any], crash_at: str, mode: str
) -> None:
    cfg = config(simulator, target)
    if mode == "incremental":
        sync(cfg, "full")
        simulator.advance(minutes=60, modify=0.5, insert=0.1)  # enough changes for several batches
    crashed = sync_in_subprocess(cfg, mode, crash_at=crash_at)
    assert crashed.returncode == 86, crashed.stderr  # the process really died there
    committed = table(cfg)
    rerun = sync_in_subprocess(cfg, mode)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_mirrors(simulator, cfg)
    if mode == "full":
        # the first batch (400 rows) was committed before the crash and survived it
        assert len(committed) >= 400
    assert ("full" if mode == "full" else "incremental", "abandoned") in runs(cfg)


def test_full_sync_resumes_after_the_last_committed_id(simulator: Simulator, target: dict[str, Any]) -> None:
    cfg = config(simulator, target)
    assert sync_in_subprocess(cfg, "full", crash_at="after_merge:2").returncode == 86
    wh = connect(cfg.warehouse)
    state = wh.state("allocation")
    wh.close()
    assert state.resume_after is not None and state.generation_started_at is not None
    report = sync(cfg, "full")
    assert report.extracted == 1_500 - state.resume_after  # only the ids after the checkpoint
    assert report.deleted == 0  # rows loaded before the crash count as seen
    assert_mirrors(simulator, cfg)


@pytest.mark.parametrize(
    "faults",
    [
        Faults(rate_limit_every=5, retry_after_s=0, error_every=7, error_burst=2, truncate_every=11),
        Faults(error_every=4, error_burst=1, error_status=500, timeout_above_page_size=50, timeout_s=2),
    ],
    ids=["429-503-truncated", "500-timeouts"],
)
def test_faults_mid_scan_still_converge(simulator: Simulator, target: dict[str, Any], faults: Faults) -> None:
    cfg = config(simulator, target, timeout_s=0.5, max_retries=8)
    sync(cfg, "full")
    simulator.advance(minutes=60, modify=0.1, insert=0.05)
    simulator.set_faults(faults)
    sync(cfg, "incremental")
    simulator.set_faults(Faults())
    assert_mirrors(simulator, cfg)


def test_rejected_rows_are_quarantined_and_the_run_passes_under_the_threshold(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    simulator.tenant.set_values("allocation", [5, 6], {"packed_qty": 999})  # packed > allocated
    cfg = config(simulator, target)
    report = sync(cfg, "full")
    assert report.rejected == 2 and report.extracted == 1_500
    wh = connect(cfg.warehouse)
    bind = "?" if cfg.warehouse.kind == "duckdb" else "%s"
    rows = wh.query(  # type: ignore[attr-defined]
        f'SELECT record_id, rule, raw_json FROM "{cfg.warehouse.db_schema}"."_rejected" '
        f"WHERE run_id = {bind} ORDER BY 1",
        [report.run_id],
    )
    wh.close()
    assert [(r[0], r[1]) for r in rows] == [(5, "packed_qty_le_alloc_qty"), (6, "packed_qty_le_alloc_qty")]
    assert '"packed_qty":"999.0000"' in rows[0][2]
    assert {r["id"] for r in table(cfg)} == set(simulator.tenant.ids("allocation")) - {5, 6}


def test_too_many_rejected_rows_fail_the_run_naming_entity_record_and_rule(
    simulator: Simulator, target: dict[str, Any]
) -> None:
    simulator.tenant.set_values("allocation", range(1, 101), {"alloc_qty": -1})  # 100 of 1,500 = 6.7 %
    cfg = config(simulator, target)
    proc = sync_in_subprocess(cfg, "full")
    assert proc.returncode == 1
    assert "allocation: check failed" in proc.stderr and "100 of 1500" in proc.stderr
    assert "record id 1" in proc.stderr and "non_negative:alloc_qty,packed_qty" in proc.stderr
    wh = connect(cfg.warehouse)
    assert wh.state("allocation").watermark is None  # the watermark did not move
    wh.close()
    assert ("full", "failed") in runs(cfg)


def test_wrong_wms_password_fails_clearly_without_printing_it(simulator: Simulator, target: dict[str, Any]) -> None:
    cfg = config(simulator, target, password="hunter2-wrong")
    wh = connect(cfg.warehouse)
    with WmsClient(cfg.wms) as wms:
        result = sync_entity(entity("item"), "full", Context(settings=cfg, wms=wms, warehouse=wh))
    wh.close()
    error = unsafe_perform_io(result.failure())
    assert error.entity == "item" and error.step == "extract" and "401" in str(error)
    assert "hunter2" not in str(error)


def test_two_runs_of_one_entity_at_once_the_second_fails_clearly(simulator: Simulator, target: dict[str, Any]) -> None:
    cfg = config(simulator, target)
    sync(cfg, "full")
    holder = connect(cfg.warehouse)
    try:
        with holder.lock("allocation"):
            if cfg.warehouse.kind == "duckdb":
                other = sync_in_subprocess(cfg, "incremental")  # another process: the DuckDB file is taken
                assert other.returncode == 1 and "open in another process" in other.stderr
                wh2: Warehouse = holder
            else:
                other = sync_in_subprocess(cfg, "incremental")
                assert other.returncode == 1 and "another run of this entity holds its lock" in other.stderr
                wh2 = connect(cfg.warehouse)
            with WmsClient(cfg.wms) as wms:  # and in this process too
                result = sync_entity(entity("allocation"), "incremental", Context(settings=cfg, wms=wms, warehouse=wh2))
            assert unsafe_perform_io(result.failure()).step == "lock"
            if wh2 is not holder:
                wh2.close()
    finally:
        holder.close()
    assert sync(cfg, "incremental").extracted >= 0  # the lock is free again


@needs_pg
def test_postgres_connection_killed_mid_load_loses_nothing_committed(simulator: Simulator, tmp_path: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    target = {"kind": "postgres", "dsn": PG_DSN, "schema": schema, "merge_batch_rows": 200}
    cfg = config(simulator, target)
    simulator.set_faults(Faults(latency_s=0.03))  # a slow WMS keeps the load going while we strike
    try:
        killed: list[int] = []

        def strike() -> None:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not killed:
                    row = None
                    if _has_runs(conn, schema):
                        query = f'SELECT inserted FROM "{schema}"."_sync_runs" WHERE status = %s'
                        row = conn.execute(query, ["running"]).fetchone()
                    if row and row[0] >= 400:
                        pids = conn.execute(
                            "SELECT pid FROM pg_stat_activity "
                            "WHERE application_name = 'gruponos' AND pid <> pg_backend_pid()"
                        ).fetchall()
                        for (pid,) in pids:
                            conn.execute("SELECT pg_terminate_backend(%s)", [pid])
                            killed.append(pid)
                    time.sleep(0.05)

        striker = threading.Thread(target=strike)
        striker.start()
        first = sync_in_subprocess(cfg, "full", library=True)
        striker.join()
        assert killed, "the load finished before the connection could be killed"
        assert first.returncode == 1 and "PostgreSQL" in first.stderr
        survived = table(cfg)
        assert len(survived) >= 400  # what was committed before the kill is still there
        simulator.set_faults(Faults())
        assert sync_in_subprocess(cfg, "full").returncode == 0
        assert_mirrors(simulator, cfg)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _has_runs(conn: psycopg.Connection[Any], schema: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", [f'"{schema}"."_sync_runs"']).fetchone()
    return bool(row and row[0])


def test_sync_command_prints_the_table_and_exits_zero(simulator: Simulator, target: dict[str, Any]) -> None:
    proc = sync_in_subprocess(config(simulator, target), "full")
    assert proc.returncode == 0, proc.stderr
    assert "allocation" in proc.stdout and "1,500" in proc.stdout and "records/s" in proc.stdout
