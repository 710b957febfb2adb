"""Incremental dbt builds against a real warehouse (a DuckDB file, and a schema of this
machine's PostgreSQL): a simulator tenant synced in full and built; 1 % of it modified,
inserted and deleted, synced the way production does (operational entities incremental,
master data in full) and built again, incrementally; then rebuilt from scratch
(``--full-refresh``) into a second schema from the same raw tables. The incremental schema is
built the way a sync builds it (``dbt_runner.production_build``: unchanged seeds and views
left alone, data tests on the changed rows). Every intermediate and mart must be equal, row
for row, in both schemas — the full rebuild is the independent expectation. On DuckDB a
second round syncs everything in full (the weekly job that finds deleted allocations) and
compares again. Every node of every ``dbt build`` must pass.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import psycopg
import pytest
from dbt.artifacts.schemas.run import RunExecutionResult
from dbt.cli.main import dbtRunnerResult
from returns.io import IOFailure
from returns.unsafe import unsafe_perform_io

from gruponos import dbt_runner
from gruponos import settings as settings_module
from gruponos.entities import EntitySpec
from gruponos.pipeline import Context, sync_entity
from gruponos.simulator import Simulator
from gruponos.warehouse import connect
from gruponos.wms import WmsClient
from tests.integration._warehouse import KINDS, PG_DSN
from tests.specs import INCREMENTAL_MODELS, read_by_dbt

pytestmark = pytest.mark.slow

# every table of the intermediate and marts layers (the ephemeral label models have none)
TABLES = [*INCREMENTAL_MODELS, "dim_items", "dim_locations"]
INCREMENTAL = list(INCREMENTAL_MODELS)
# the copy rebuilt from scratch: seeds, models, snapshots (the first build of the other
# schema was a from-scratch build, and ran every test)
REBUILD = ["build", "--full-refresh", "--exclude-resource-type", "unit_test", "--exclude-resource-type", "test"]


@dataclass
class Warehouse:
    """One warehouse: its settings, and the two model schemas compared."""

    cfg: settings_module.Settings
    specs: dict[str, EntitySpec]  # every entity the models read
    work: Path
    incremental: str
    rebuilt: str

    def rows(self, schema: str, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        sql = f'select * from "{schema}"."{table}"'
        if self.cfg.warehouse.kind == "duckdb":
            with duckdb.connect(self.cfg.warehouse.path, read_only=True) as db:
                cur = db.execute(sql)
                return [d[0] for d in cur.description], cur.fetchall()
        with psycopg.connect(PG_DSN) as conn, conn.cursor() as cur:
            cur.execute(sql)
            assert cur.description is not None
            return [d.name for d in cur.description], cur.fetchall()

    def dbt(self, args: list[str], schema: str) -> dbtRunnerResult:
        """dbt into ``schema``, each schema with its own target/ (partial parsing holds per profile)."""
        folder = self.work / schema
        return dbt_runner.invoke(args, self.cfg, schema=schema, target_path=folder / "target", log_path=folder / "logs")

    def production(self, callbacks: list[Any] | None = None) -> dbtRunnerResult:
        """The build a sync runs, into the incremental schema (``callbacks``: dbt's events)."""
        folder = self.work / self.incremental
        return dbt_runner.production_build(
            self.cfg,
            schema=self.incremental,
            target_path=folder / "target",
            log_path=folder / "logs",
            callbacks=callbacks or (),
        )


@pytest.fixture(params=KINDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Simulator, Warehouse]]:
    suffix = uuid.uuid4().hex[:8]
    if request.param == "duckdb":
        target: dict[str, Any] = {"kind": "duckdb", "path": str(tmp_path / "wh.duckdb")}
    else:
        target = {"kind": "postgres", "dsn": PG_DSN, "schema": f"raw_{suffix}"}
    with Simulator(scale=5_000, seed=21) as sim:
        cfg = settings_module.load(env="local", wms={"base_url": sim.base_url, "page_size": 1000}, warehouse=target)
        with WmsClient(cfg.wms) as wms:
            specs = read_by_dbt(wms)
        try:
            yield sim, Warehouse(cfg, specs, tmp_path, incremental=f"inc_{suffix}", rebuilt=f"full_{suffix}")
        finally:
            if request.param == "postgres":
                with psycopg.connect(PG_DSN, autocommit=True) as conn:
                    for schema in (f"raw_{suffix}", f"inc_{suffix}", f"full_{suffix}"):
                        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sync(w: Warehouse, modes: dict[str, str]) -> None:
    cfg = w.cfg
    wh = connect(cfg.warehouse)
    try:
        with WmsClient(cfg.wms) as wms:
            for name, mode in modes.items():
                result = sync_entity(w.specs[name], mode, Context(settings=cfg, wms=wms, warehouse=wh))  # type: ignore[arg-type]
                assert not isinstance(result, IOFailure), unsafe_perform_io(result.failure())
    finally:
        wh.close()


def assert_every_node_passes(result: dbtRunnerResult) -> dict[str, str]:
    assert isinstance(result.result, RunExecutionResult), result.exception
    statuses = {r.node.unique_id: str(r.status) for r in result.result.results}
    # warn: a severity-warn test found something (the tenant deletes inventory that allocations use)
    bad = {name: s for name, s in statuses.items() if s not in ("success", "pass", "warn")}
    assert not bad, bad
    assert result.success
    return statuses


def built_incrementally(w: Warehouse, schema: str) -> set[str]:
    """The models whose last build ran their incremental branch (its CTE ``keys``, the keys the
    window touched: macros/changed_keys.sql)."""
    results = orjson.loads((w.work / schema / "target" / "run_results.json").read_bytes())
    return {
        r["unique_id"].split(".")[-1]
        for r in results["results"]
        if r["unique_id"].startswith("model.") and "\nkeys as (" in (r.get("compiled_code") or "")
    }


def windowed_tests(w: Warehouse, schema: str) -> set[str]:
    """The models whose data tests, in the last build, read only the keys that build replaced."""
    results = orjson.loads((w.work / schema / "target" / "run_results.json").read_bytes())
    manifest = orjson.loads((w.work / schema / "target" / "manifest.json").read_bytes())
    return {
        manifest["nodes"][r["unique_id"]]["attached_node"].split(".")[-1]
        for r in results["results"]
        if r["unique_id"].startswith("test.")
        and "__window_keys" in (r.get("compiled_code") or "")
        and manifest["nodes"][r["unique_id"]].get("attached_node")
    }


def fed_by(w: Warehouse, source: str) -> set[str]:
    """Every node downstream of the source ``wms.<source>`` in the last build's manifest."""
    children = orjson.loads((w.work / w.incremental / "target" / "manifest.json").read_bytes())["child_map"]
    found: set[str] = set()
    todo = [f"source.gruponos.wms.{source}"]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def sortable(value: Any) -> tuple[bool, Any]:
    return (value is None, 0.0 if isinstance(value, float) else value)


def assert_tables_equal(w: Warehouse) -> dict[str, int]:
    """Every table equal in both schemas (floats to 1e-12 relative); returns the row counts."""
    counts = {}
    for table in TABLES:
        columns, incremental = w.rows(w.incremental, table)
        rebuilt_columns, rebuilt = w.rows(w.rebuilt, table)
        assert columns == rebuilt_columns, table
        assert len(incremental) == len(rebuilt), f"{table}: {len(incremental)} rows, rebuilt {len(rebuilt)}"
        incremental.sort(key=lambda r: [sortable(v) for v in r])
        rebuilt.sort(key=lambda r: [sortable(v) for v in r])
        for got, want in zip(incremental, rebuilt, strict=True):
            same = all(
                math.isclose(a, b, rel_tol=1e-12) if isinstance(a, float) and isinstance(b, float) else a == b
                for a, b in zip(got, want, strict=True)
            )
            assert same, f"{table}: {dict(zip(columns, got, strict=True))} != {dict(zip(columns, want, strict=True))}"
        counts[table] = len(incremental)
    return counts


def test_incremental_build_after_a_changed_sync_equals_a_full_rebuild(warehouse: tuple[Simulator, Warehouse]) -> None:
    sim, w = warehouse
    sync(w, dict.fromkeys(w.specs, "full"))
    assert_every_node_passes(w.production())
    before = {t: len(w.rows(w.incremental, t)[1]) for t in INCREMENTAL}

    # round 1: 1 % changed; the 2-hourly incremental sync plus the master data in full
    changes = sim.advance(minutes=60, modify=0.01, insert=0.002, delete=0.002)
    assert changes.deleted["allocation"] and changes.deleted["inventory"] and changes.modified["order_hdr"]
    assert changes.modified["ib_shipment_dtl"] and changes.modified["container"]
    sync(w, {name: "incremental" if spec.incremental else "full" for name, spec in w.specs.items()})
    statuses = assert_every_node_passes(w.production())
    assert built_incrementally(w, w.incremental) == set(INCREMENTAL)
    assert windowed_tests(w, w.incremental) >= set(INCREMENTAL)  # each incremental model's tests read its keys
    assert not [n for n in statuses if n.startswith("seed.")]  # unchanged: left alone
    assert_every_node_passes(w.dbt(REBUILD, w.rebuilt))
    counts = assert_tables_equal(w)
    # the incremental sync saw the new allocations, not the deleted ones (a full sync finds those)
    assert counts["int_allocation_lifecycle"] == before["int_allocation_lifecycle"] + len(
        changes.inserted["allocation"]
    )

    # round 1b: a sync run that finishes inside a build, after the model that reads it has
    # compiled and before its pre-hooks: that build may miss its rows, the next one reads them
    sim.advance(minutes=60, modify=0.01, insert=0.002, delete=0.002)
    sync(w, {"order_hdr": "incremental"})  # the build reads it (and runs the model)

    synced_inside: list[str] = []

    def sync_mid_build(event: Any) -> None:
        if event.info.name == "NodeExecuting" and event.data.node_info.unique_id.endswith(".int_allocation_lifecycle"):
            sync(w, {"allocation": "incremental"})
            synced_inside.append("allocation")

    result = w.production(callbacks=[sync_mid_build])
    assert_every_node_passes(result)
    assert synced_inside == ["allocation"]  # the event still fires: the round tests what it says
    assert "model.gruponos.int_allocation_lifecycle" in {r.node.unique_id for r in result.result.results}
    assert_every_node_passes(w.production())  # no sync since: the run the last build finished inside
    assert "int_allocation_lifecycle" in built_incrementally(w, w.incremental)
    assert_every_node_passes(w.dbt(REBUILD, w.rebuilt))
    assert_tables_equal(w)

    if w.cfg.warehouse.kind != "duckdb":
        return  # the second round is dialect-neutral SQL already compared above; CI time is kept for DuckDB

    # round 2: changed again, then the weekly full sync of everything marks the deleted rows
    more = sim.advance(minutes=60, modify=0.01, insert=0.002, delete=0.002)
    sync(w, dict.fromkeys(w.specs, "full"))
    assert_every_node_passes(w.production())
    assert built_incrementally(w, w.incremental) == set(INCREMENTAL)
    assert_every_node_passes(w.dbt(REBUILD, w.rebuilt))
    counts = assert_tables_equal(w)
    assert counts["int_allocation_lifecycle"] == sim.tenant.count("allocation")
    gone = set(changes.deleted["allocation"]) | set(more.deleted["allocation"])
    columns, lifecycle = w.rows(w.incremental, "int_allocation_lifecycle")
    key = columns.index("allocation_id")
    assert gone and not gone & {r[key] for r in lifecycle}

    # round 3: only allocations synced since: what is built only on other sources (a mart of
    # locations, the order snapshot) and the tests of their staging views are left alone
    sim.advance(minutes=60, modify=0.01, insert=0.002, delete=0.002)
    sync(w, {"allocation": "incremental"})
    ran = set(assert_every_node_passes(w.production()))
    fed = fed_by(w, "allocation")  # dbt's own graph: every node built or tested on the source
    built = {n for n in ran if n.startswith(("model.", "snapshot."))}
    assert built and built <= fed and "model.gruponos.int_allocation_lifecycle" in built
    assert not {"model.gruponos.dim_locations", "snapshot.gruponos.snap_wms__order_hdr_status"} & ran
    assert {n for n in ran if n.startswith("test.")} <= fed
    assert_every_node_passes(w.dbt(REBUILD, w.rebuilt))
    assert_tables_equal(w)

    # round 4: no sync since the last build: nothing to build
    result = w.production()
    assert result.success and not [r for r in result.result.results if r.node.resource_type != "operation"]
