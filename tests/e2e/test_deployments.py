"""The product as users run it: a real Prefect server (PostgreSQL-backed), `prefect.yaml` deployed,
process workers, `prefect deployment run … --watch`, the simulator and a DuckDB warehouse."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import duckdb
import httpx
import psycopg
import pytest

from gruponos.cli.service import LOCAL_POOL, WAREHOUSE_QUEUE
from gruponos.settings import DEFAULT_ENTITIES as CATALOG
from gruponos.simulator import Simulator
from gruponos.simulator.schema import SCHEMA
from tests.integration._warehouse import PG_DSN, fresh_schema, needs_pg
from tests.prefect_server import PREFECT, prefect, prefect_server

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)


@dataclass
class Service:
    api_url: str
    env: dict[str, str]
    sim: Simulator
    warehouse: Path
    alerts: list[dict[str, Any]]
    home: Path
    workers: list[subprocess.Popen[bytes]]

    def run(self, deployment: str, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
        return prefect(self.env, "deployment", "run", deployment, "--watch", *args, cwd=ROOT, timeout=timeout)

    def start_worker(self, name: str, **env: str) -> None:
        log = (self.home / f"{name}.log").open("ab")
        cmd = [PREFECT, "worker", "start", "--pool", "gruponos-local", "--name", name]
        worker = subprocess.Popen(cmd, env=self.env | env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(worker)

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.workers.clear()

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.api_url}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def flow_runs(self, deployment: str) -> list[dict[str, Any]]:
        dep = self.api("GET", f"/deployments/name/{deployment}")
        return list(self.api("POST", "/flow_runs/filter", {"deployments": {"id": {"any_": [dep["id"]]}}, "limit": 200}))

    def live(self, entity: str) -> dict[int, Any]:
        """id → mod_ts of the live rows (id → None for an entity without mod_ts)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as db:
            columns = {r[0] for r in db.execute(f'DESCRIBE wms_raw."{entity}"').fetchall()}
            ts = "mod_ts" if "mod_ts" in columns else "NULL"
            rows = db.execute(f'SELECT id, {ts} FROM wms_raw."{entity}" WHERE _deleted_at IS NULL').fetchall()
        return {int(i): ts for i, ts in rows}

    def truth(self, entity: str) -> dict[int, Any]:
        """The simulator's id → mod_ts (id → None without mod_ts)."""
        if any(f.name == "mod_ts" for f in SCHEMA[entity].fields):
            return self.sim.tenant.mod_ts(entity)
        return dict.fromkeys(self.sim.tenant.ids(entity))


def _receiver(alerts: list[dict[str, Any]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            alerts.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("e2e")
    alerts: list[dict[str, Any]] = []
    hooks = _receiver(alerts)
    with Simulator(scale=2_000, seed=5) as sim, prefect_server(home / "prefect") as (api_url, env):
        env = env | {
            "GRUPONOS_ENV": "local",
            "GRUPONOS_PROJECT_DIR": str(ROOT),
            "GRUPONOS_WMS__BASE_URL": sim.base_url,
            "GRUPONOS_WMS__USERNAME": sim.username,
            "GRUPONOS_WMS__PASSWORD": sim.password,
            "GRUPONOS_WMS__MAX_RETRIES": "1",
            "GRUPONOS_WAREHOUSE__PATH": str(home / "wh.duckdb"),
            "GRUPONOS_FLOWS__RESULTS_PATH": str(home / "results"),
            "GRUPONOS_FLOWS__LANDING_PATH": str(home / "landing"),
            "GRUPONOS_FLOWS__RETRY_DELAY_S": "1",
            "GRUPONOS_FLOWS__TASK_RETRIES": "1",
            "GRUPONOS_FLOWS__WEBHOOK_URL": f"http://127.0.0.1:{hooks.server_address[1]}/alerts",
        }
        for pool, kind in (
            ("gruponos-local", "process"),
            *((f"gruponos-{e}", "docker") for e in ("dev", "staging", "prod")),
        ):
            created = prefect(env, "work-pool", "create", pool, "--type", kind)
            assert created.returncode == 0, created.stdout + created.stderr
        deployed = prefect(env, "--no-prompt", "deploy", "--all", cwd=ROOT)
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        # as `gruponos service up` does: the local DuckDB warehouse's runs, one at a time
        limited = prefect(env, "work-queue", "set-concurrency-limit", WAREHOUSE_QUEUE, "1", "--pool", LOCAL_POOL)
        assert limited.returncode == 0, limited.stdout + limited.stderr
        svc = Service(api_url, env, sim, home / "wh.duckdb", alerts, home, [])
        svc.start_worker("worker-a")
        try:
            yield svc
        finally:
            svc.stop_workers()
            hooks.shutdown()


def test_every_flow_is_deployed_per_environment_and_schedules_create_runs(service: Service) -> None:
    names = {f"{d['flow_name']}/{d['name']}" for d in _deployments(service)}
    flows = ("full-sync", "incremental-sync", "master-data", "sync-entity", "dbt-build", "health-check", "meltano-run")
    assert names == {f"{f}/{e}" for f in flows for e in ("local", "dev", "staging", "prod")}
    local = service.api("GET", "/deployments/name/full-sync/local")
    assert local["schedules"] == [] and local["work_pool_name"] == "gruponos-local"
    prod = service.api("GET", "/deployments/name/full-sync/prod")
    assert {s["schedule"]["cron"] for s in prod["schedules"]} == {"0 3 * * 0", "0 2 * * *"}
    assert {s["schedule"]["timezone"] for s in prod["schedules"]} == {"America/Sao_Paulo"}
    assert prod["parameters"]["merge_batch_size"] == 10_000 and prod["parameters"]["batch_size"] == 5_000
    deadline = time.monotonic() + 120  # the scheduler runs every few seconds: a broken one is silent
    while time.monotonic() < deadline:
        scheduled = [r for r in service.flow_runs("incremental-sync/prod") if r["state_type"] == "SCHEDULED"]
        if scheduled:
            break
        time.sleep(2)
    assert scheduled, "no scheduled run was created for incremental-sync/prod"
    assert all(r["parameters"]["env"] == "prod" for r in scheduled)


def _deployments(service: Service) -> list[dict[str, Any]]:
    deployments = service.api("POST", "/deployments/filter", {"limit": 200})
    flows = {f["id"]: f["name"] for f in service.api("POST", "/flows/filter", {"limit": 200})}
    return [{**d, "flow_name": flows[d["flow_id"]]} for d in deployments]


def test_full_sync_deployment_run_brings_every_entity(service: Service) -> None:
    done = service.run("full-sync/local", "--param", "run_dbt=false")

    assert done.returncode == 0, done.stdout[-3000:]
    for name in CATALOG:
        assert service.live(name) == service.truth(name), name


def test_wrong_credentials_fail_the_run_clearly_and_alert(service: Service) -> None:
    before = len(service.alerts)
    done = service.run(
        "incremental-sync/local",
        "--param",
        "run_dbt=false",
        "--job-variable",
        'env={"GRUPONOS_WMS__PASSWORD": "not-the-password"}',
    )

    assert done.returncode == 1
    assert "Failed" in done.stdout
    runs = sorted(service.flow_runs("incremental-sync/local"), key=lambda r: r["created"])
    assert runs[-1]["state_type"] == "FAILED"
    assert "401" in runs[-1]["state"]["message"] and "AUTHENTICATION_FAILED" in runs[-1]["state"]["message"]
    _wait(lambda: len(service.alerts) > before, "the webhook got no alert")
    alert = service.alerts[-1]
    assert alert["flow"] == "incremental-sync" and alert["state"] == "Failed" and "401" in alert["message"]
    assert "not-the-password" not in json.dumps(alert)


def test_a_run_killed_mid_load_then_rerun_converges(service: Service) -> None:
    service.sim.advance(minutes=60, modify=0.3, insert=0.05)
    killed = service.run(
        "incremental-sync/local",
        "--param",
        "run_dbt=false",
        "--param",
        "merge_batch_size=100",
        "--param",
        "batch_size=100",
        "--param",
        "page_size=100",
        "--param",
        "concurrency=1",
        "--job-variable",
        'env={"GRUPONOS_TEST_CRASH_AT": "during_merge:2"}',
    )

    assert killed.returncode == 1
    runs = sorted(service.flow_runs("incremental-sync/local"), key=lambda r: r["created"])
    assert runs[-1]["state_type"] == "CRASHED", runs[-1]["state"]
    assert service.live("allocation") != service.sim.tenant.mod_ts("allocation"), "the crash came too late"

    rerun = service.run("incremental-sync/local", "--param", "run_dbt=false")

    assert rerun.returncode == 0, rerun.stdout[-3000:]
    for name in ("allocation", "order_hdr", "order_dtl"):
        assert service.live(name) == service.sim.tenant.mod_ts(name), name


def test_two_workers_run_each_queued_run_exactly_once_and_runs_of_one_sync_never_overlap(service: Service) -> None:
    service.start_worker("worker-b")
    dep = service.api("GET", "/deployments/name/incremental-sync/local")
    created = [
        service.api(
            "POST",
            f"/deployments/{dep['id']}/create_flow_run",
            {"parameters": {"entities": ["allocation", "order_hdr"], "run_dbt": False}},
        )["id"]
        for _ in range(3)
    ]

    def finished() -> bool:
        runs = [service.api("GET", f"/flow_runs/{i}") for i in created]
        return all(r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for r in runs)

    _wait(finished, "the queued runs did not all finish", timeout=480)
    runs = [service.api("GET", f"/flow_runs/{i}") for i in created]
    assert [r["state_type"] for r in runs] == ["COMPLETED"] * 3
    assert [r["run_count"] for r in runs] == [1] * 3
    spans = sorted((r["start_time"], r["end_time"]) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two runs of incremental-sync/local overlapped: {spans}"
    with duckdb.connect(str(service.warehouse), read_only=True) as db:
        logged = db.execute("SELECT run_id, entity, status FROM wms_raw._sync_runs").fetchall()
    for run in runs:
        prefix = run["id"].replace("-", "")[:12]
        mine = sorted((entity, status) for run_id, entity, status in logged if run_id.startswith(prefix))
        assert mine == [("allocation", "ok"), ("order_hdr", "ok")], (run["id"], mine)


def test_two_syncs_of_the_duckdb_warehouse_queue_one_after_the_other_instead_of_failing(service: Service) -> None:
    """A full and an incremental sync (two deployments, so neither waits on the other's
    deployment limit) started together with two workers up: a DuckDB file has one writer
    process, so the second waits in the warehouse's work queue; both complete."""
    if len(service.workers) < 2:
        service.start_worker("worker-c")
    created = []
    for name in ("full-sync/local", "incremental-sync/local"):
        dep = service.api("GET", f"/deployments/name/{name}")
        assert dep["work_queue_name"] == WAREHOUSE_QUEUE, dep["work_queue_name"]
        run = service.api("POST", f"/deployments/{dep['id']}/create_flow_run", {"parameters": {"run_dbt": False}})
        created.append(run["id"])

    def finished() -> bool:
        runs = [service.api("GET", f"/flow_runs/{i}") for i in created]
        return all(r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for r in runs)

    _wait(finished, "the two syncs did not both finish", timeout=480)
    runs = [service.api("GET", f"/flow_runs/{i}") for i in created]
    assert [r["state_type"] for r in runs] == ["COMPLETED"] * 2, [r["state"]["message"] for r in runs]
    (_, end_first), (start_second, _) = sorted((r["start_time"], r["end_time"]) for r in runs)
    assert end_first <= start_second, "the two runs wrote the warehouse at once"


def test_fan_out_onto_duckdb_is_refused_before_it_starts(service: Service) -> None:
    done = service.run("full-sync/local", "--param", "run_dbt=false", "--param", "fan_out=true", timeout=200)
    assert done.returncode != 0
    run = sorted(service.flow_runs("full-sync/local"), key=lambda r: r["created"])[-1]
    assert run["state_type"] == "FAILED"
    assert "GRUPONOS_WAREHOUSE__KIND" in run["state"]["message"] and "DuckDB" in run["state"]["message"]
    assert not [r for r in service.flow_runs("sync-entity/local") if r["parameters"].get("group") == _group(run)]


@needs_pg
def test_fan_out_spreads_the_entities_over_two_workers_each_exactly_once(service: Service) -> None:
    """Two process workers writing to PostgreSQL: every child on the pool, each entity loaded once."""
    entities = ["allocation", "order_hdr", "order_dtl", "item"]
    service.stop_workers()
    with fresh_schema() as schema:
        pg = {"GRUPONOS_WAREHOUSE__KIND": "postgres", "GRUPONOS_WAREHOUSE__DSN": PG_DSN}
        pg |= {"GRUPONOS_WAREHOUSE__SCHEMA": schema}
        try:
            service.start_worker("worker-pg-a", **pg)
            service.start_worker("worker-pg-b", **pg)
            service.sim.advance(minutes=30, modify=0.05, insert=0.01)
            args = ("--param", "run_dbt=false", "--param", "fan_out=true", "--param", json_param(entities))
            done = service.run("full-sync/local", *args)
            assert done.returncode == 0, done.stdout[-3000:]
            parent = sorted(service.flow_runs("full-sync/local"), key=lambda r: r["created"])[-1]
            mine = [r for r in service.flow_runs("sync-entity/local") if r["parameters"].get("group") == _group(parent)]
            assert sorted(r["parameters"]["entity"] for r in mine) == sorted(entities)
            assert [r["state_type"] for r in mine] == ["COMPLETED"] * len(entities)
            assert all(r["parent_task_run_id"] for r in mine)
            with psycopg.connect(PG_DSN) as db:
                logged = db.execute(
                    f'SELECT entity, status FROM "{schema}"._sync_runs WHERE run_id LIKE %s', [_group(parent) + "%"]
                ).fetchall()
                assert sorted(logged) == sorted((e, "ok") for e in entities)  # each entity loaded once
                for name in entities:
                    rows = db.execute(f'SELECT id, mod_ts FROM "{schema}"."{name}" WHERE _deleted_at IS NULL')
                    assert {int(i): ts for i, ts in rows} == service.truth(name), name
        finally:
            service.stop_workers()
            service.start_worker("worker-a")


def _group(run: dict[str, Any]) -> str:
    return str(run["id"]).replace("-", "")[:12]


def json_param(entities: list[str]) -> str:
    return f"entities={json.dumps(entities)}"


def _wait(condition: Any, message: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(message)


def test_cli_status_reads_what_the_deployments_wrote(service: Service) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "gruponos.cli", "status"],
        env=service.env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert all(name in shown.stdout for name in CATALOG)
