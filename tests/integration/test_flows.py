"""The Prefect flows run ad hoc against a real Prefect server (PostgreSQL-backed), the simulator
over loopback, a real DuckDB file or PostgreSQL schema, and a real HTTP webhook receiver."""

from __future__ import annotations

import contextvars
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)

from flows import full_sync, health_check, incremental_sync
from gruponos import settings as settings_module
from gruponos.pipeline import EntityReport
from gruponos.settings import DEFAULT_ENTITIES
from gruponos.simulator import Simulator
from gruponos.warehouse import connect
from tests.integration._warehouse import PG_DSN
from tests.local import tenant
from tests.specs import CATALOG

SECRET = "s3cr3t-Pa55-9f1"  # a password that must never be printed


class Receiver:
    """A webhook receiver on loopback: records every JSON body POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/gruponos"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


simulator = tenant(scale=1_000, seed=11)


@pytest.fixture
def env(simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api: str) -> Path:
    """The local environment pointed at this test's simulator, DuckDB file and folders."""
    for name in [k for k in os.environ if k.startswith("GRUPONOS_")]:
        monkeypatch.delenv(name)
    values = {
        "GRUPONOS_ENV": "local",
        "GRUPONOS_WMS__BASE_URL": simulator.base_url,
        "GRUPONOS_WMS__USERNAME": simulator.username,
        "GRUPONOS_WMS__PASSWORD": simulator.password,
        "GRUPONOS_WMS__MAX_RETRIES": "1",
        "GRUPONOS_WMS__BACKOFF_BASE_S": "0.05",
        "GRUPONOS_WAREHOUSE__PATH": str(tmp_path / "wh.duckdb"),
        "GRUPONOS_WAREHOUSE__MERGE_BATCH_ROWS": "300",
        "GRUPONOS_QUALITY__BATCH_ROWS": "100",
        "GRUPONOS_FLOWS__RESULTS_PATH": str(tmp_path / "results"),
        "GRUPONOS_FLOWS__LANDING_PATH": str(tmp_path / "landing"),
        "GRUPONOS_FLOWS__TASK_RETRIES": "1",
        "GRUPONOS_FLOWS__RETRY_DELAY_S": "0.5",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def _live_ids(entity: str) -> list[int]:
    warehouse = connect(settings_module.load().warehouse)
    try:
        return [int(str(r["id"])) for r in warehouse.rows(entity) if r["_deleted_at"] is None]
    finally:
        warehouse.close()


def _client_call(coro_fn: Any) -> Any:
    import asyncio

    async def run() -> Any:
        async with get_client() as client:
            return await coro_fn(client)

    return asyncio.run(run())


def test_full_sync_loads_every_entity_and_publishes_its_report(env: Path, simulator: Simulator) -> None:
    reports = full_sync(env="local", run_dbt=False)  # the default selection

    assert sorted(r.entity for r in reports) == sorted(DEFAULT_ENTITIES)
    for report in reports:
        assert isinstance(report, EntityReport)
        assert report.extracted == simulator.tenant.count(report.entity), report
        assert _live_ids(report.entity) == simulator.tenant.ids(report.entity)
    assert not list((env / "landing").glob("*")), "landing files stay after their load"
    artifacts = _client_call(
        lambda c: c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["full-sync-local"])))
    )
    latest = max(artifacts, key=lambda a: a.created)
    assert f"| allocation | ok | {simulator.tenant.count('allocation'):,} |" in latest.data
    assert "No record was rejected" in latest.data
    flow_run_id = latest.flow_run_id
    task_runs = _client_call(
        lambda c: c.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id]))
        )
    )
    names = {t.name for t in task_runs}
    for entity in DEFAULT_ENTITIES:  # every step of every entity, named for what it does and on what
        assert {f"extract {entity}", f"validate {entity}", f"load {entity}"} <= names, names
    assert {"discover catalog", "wms clock"} <= {t.name.rsplit("-", 1)[0] for t in task_runs}


def test_an_entity_breaking_the_contract_fails_the_run_after_the_others_finish(env: Path, simulator: Simulator) -> None:
    simulator.tenant.set_values("allocation", range(1, 101), {"alloc_qty": -1})  # 10 % of 1,000 > 5 %

    state = full_sync(env="local", entities=list(CATALOG), run_dbt=False, return_state=True)

    assert state.is_failed()
    assert state.message is not None
    assert "1 of 8 entities failed: allocation: check failed" in state.message
    assert "record id 1" in state.message and "GRUPONOS_QUALITY__MAX_REJECTED_SHARE" in state.message
    for name in CATALOG:
        if name != "allocation":  # the others finished and loaded
            assert _live_ids(name) == simulator.tenant.ids(name)
    outcomes = state.result(raise_on_failure=False).outcomes
    assert [o.entity for o in outcomes] == list(CATALOG)


def test_wrong_credentials_fail_the_run_clearly_and_alert_without_the_secret(
    env: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRUPONOS_WMS__PASSWORD", SECRET)
    monkeypatch.setenv("GRUPONOS_FLOWS__WEBHOOK_URL", receiver.url)

    state = incremental_sync(env="local", run_dbt=False, return_state=True)

    assert state.is_failed()
    assert "401" in (state.message or "") and "AUTHENTICATION_FAILED" in (state.message or "")
    assert len(receiver.received) == 1
    alert = receiver.received[0]
    assert alert["flow"] == "incremental-sync" and alert["state"] == "Failed" and alert["env"] == "local"
    assert "401" in alert["message"]
    run_id = state.state_details.flow_run_id
    deadline, logs = time.monotonic() + 30, []
    while not logs and time.monotonic() < deadline:
        time.sleep(0.5)
        logs = _client_call(
            lambda c: c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
        )
    assert logs, "the run's logs reached the server"
    assert not [log.message for log in logs if SECRET in log.message]
    assert SECRET not in json.dumps(alert) and SECRET not in (state.message or "")


def test_a_retried_flow_run_reuses_its_extraction_when_the_load_failed(
    env: Path, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real lock held on the raw table makes the load time out; the flow run's retry loads
    from the landed extraction without asking the WMS again."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("GRUPONOS_WAREHOUSE__KIND", "postgres")
    monkeypatch.setenv("GRUPONOS_WAREHOUSE__DSN", PG_DSN + "?options=-c%20lock_timeout%3D1500")
    monkeypatch.setenv("GRUPONOS_WAREHOUSE__SCHEMA", schema)
    monkeypatch.setenv("GRUPONOS_FLOWS__TASK_RETRIES", "0")
    try:
        full_sync(env="local", entities=["allocation"], run_dbt=False)
        simulator.advance(minutes=30, modify=0.2)
        with psycopg.connect(PG_DSN) as blocker:
            blocker.execute(f'LOCK TABLE "{schema}"."allocation" IN EXCLUSIVE MODE')  # writes wait
            outcome: dict[str, Any] = {}
            flow = incremental_sync.with_options(retries=1, retry_delay_seconds=4)
            context = contextvars.copy_context()  # the test's Prefect settings (API URL) go along
            worker = threading.Thread(
                target=lambda: context.run(
                    lambda: outcome.update(
                        state=flow(env="local", entities=["allocation"], run_dbt=False, return_state=True)
                    )
                )
            )
            worker.start()
            _wait_for_a_blocked_load_to_give_up()
            requests_after_first_attempt = _sim_requests(simulator)
            blocker.rollback()  # release the lock before the retry starts
            worker.join(timeout=180)
        state = outcome["state"]
        assert state.is_completed(), state.message
        assert _live_ids("allocation") == simulator.tenant.ids("allocation")
        warehouse = connect(settings_module.load().warehouse)
        try:
            stored = {int(str(r["id"])): r["mod_ts"] for r in warehouse.rows("allocation")}
        finally:
            warehouse.close()
        assert stored == simulator.tenant.mod_ts("allocation")
        flow_run_id = state.state_details.flow_run_id
        task_runs = _client_call(
            lambda c: c.read_task_runs(
                task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id]))
            )
        )

        lands = sorted(t.state.name for t in task_runs if t.name == "extract allocation")
        loads = sorted(t.state.name for t in task_runs if t.name == "load allocation")
        assert lands == ["Cached", "Completed"], lands
        assert loads == ["Completed", "Failed"], loads
        assert _sim_requests(simulator) == requests_after_first_attempt, "the retry asked the WMS again"
        flow_run = _client_call(
            lambda c: c.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        )[0]
        assert flow_run.run_count == 2
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _sim_requests(simulator: Simulator) -> int:
    import httpx

    from gruponos.simulator.process import admin_url

    body = httpx.get(f"{admin_url(simulator.base_url)}/status", auth=(simulator.username, simulator.password)).json()
    return int(body["requests"])


def _wait_for_a_blocked_load_to_give_up(timeout: float = 120) -> None:
    """Until a backend has waited on a lock and stopped waiting (its lock_timeout fired)."""
    deadline = time.monotonic() + timeout
    seen = False
    with psycopg.connect(PG_DSN, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            waiting = bool(row and row[0])
            if waiting:
                seen = True
            elif seen:
                time.sleep(1.0)  # the failure travels to the flow, which schedules its retry
                return
            time.sleep(0.05)
    raise AssertionError("no load ever waited on the lock")


def test_health_check_passes_after_a_sync_and_fails_and_alerts_when_data_is_late(
    env: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRUPONOS_FLOWS__WEBHOOK_URL", receiver.url)
    full_sync(env="local", run_dbt=False)

    assert health_check(env="local") == ["wms", "warehouse", "freshness", "source freshness"]
    assert receiver.received == []

    with duckdb.connect(str(env / "wh.duckdb")) as db:  # as if allocations were last loaded 5 h ago
        db.execute("UPDATE wms_raw.allocation SET _loaded_at = _loaded_at - INTERVAL 5 HOUR")
    stale = health_check(env="local", return_state=True)

    assert stale.is_failed()
    assert "source allocation: freshness error" in (stale.message or "")  # dbt's 4 h error limit
    assert "order_hdr" not in (stale.message or "")
    assert [a["flow"] for a in receiver.received] == ["health-check"]

    monkeypatch.setenv("GRUPONOS_FLOWS__FRESHNESS_HOURS_OPERATIONAL", "0.0001")  # 0.36 s
    time.sleep(1)
    state = health_check(env="local", return_state=True)

    assert state.is_failed()
    assert "allocation: last successful sync" in (state.message or "")
    assert "item:" not in (state.message or "")  # master data's limit is days
    assert [a["flow"] for a in receiver.received] == ["health-check", "health-check"]


def test_status_command_shows_watermark_last_run_rows_and_quarantine(env: Path, simulator: Simulator) -> None:
    simulator.tenant.set_values("allocation", [5, 6], {"packed_qty": 999})  # two rows quarantined
    full_sync(env="local", run_dbt=False)

    shown = subprocess.run(
        [sys.executable, "-m", "gruponos.cli", "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )

    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if "allocation" in line)
    assert "ok" in line and f"{simulator.tenant.count('allocation') - 2:,}" in line and line.rstrip(" │").endswith("2")
    assert "11-01 " in line  # the watermark: the WMS clock at the sync (the year only when not this one)
