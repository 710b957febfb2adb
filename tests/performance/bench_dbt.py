"""dbt build after a 1 %-changed incremental sync against a full rebuild, on the simulator's tenant.

    uv run python -m tests.performance.bench_dbt [--scale 1000000] [--pg-scale N] [--skip-postgres]

Per warehouse (a DuckDB file; a fresh schema of this machine's PostgreSQL, dropped after):
a full sync of every entity → the production build (the first creates every table; on
PostgreSQL then ANALYZE of every table, as autovacuum would do, which is off here) → the
tenant's clock moves 60 minutes (1 % of the rows modified, 0.2 % inserted, 0.2 % deleted) →
the 2-hourly incremental sync (the operational entities the models read) → the production
build a sync runs (``gruponos.dbt_runner.production_build``: incremental models, unchanged
seeds and views left alone, only what the synced sources that changed feed, data tests on the
changed rows) → the same build again with no sync since (the floor: nothing changed) → the
full rebuild of the same
data (``production_build(full_refresh=True)``: ``dbt build --full-refresh``, every data test
over every row). Neither runs the unit tests (CI does); the exact dbt arguments of both are
printed. Every dbt command runs in this process after one ``dbt parse``, so each timed
command parses partially, as a worker's second run does.
Printed per command: wall seconds, dbt's own ``elapsed_time`` (run_results.json), the node
count and node seconds per kind (model, snapshot, seed, test; summed over dbt's threads);
then incremental / full rebuild, and the slowest nodes of both builds; on DuckDB, the full
rebuild's data tests run again as plain SQL (what they cost without dbt's per-node work). Each
build's run_results.json is kept in the bench's temporary folder (printed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
from returns.io import IOFailure
from returns.unsafe import unsafe_perform_io

from gruponos import dbt_runner, settings
from gruponos.entities import EntitySpec
from gruponos.pipeline import Context, sync_entity
from gruponos.warehouse import connect
from gruponos.wms import WmsClient
from tests.performance._common import AUTH, admin, simulator
from tests.specs import read_by_dbt

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def sync(cfg: settings.Settings, specs: dict[str, EntitySpec], names: list[str], mode: str) -> float:
    started = time.perf_counter()
    wh = connect(cfg.warehouse)
    try:
        with WmsClient(cfg.wms) as wms:
            for name in names:
                for attempt in range(3):  # a rerun converges; retried when a retry can help
                    result = sync_entity(specs[name], mode, Context(settings=cfg, wms=wms, warehouse=wh))  # type: ignore[arg-type]
                    if not isinstance(result, IOFailure):
                        break
                    error = unsafe_perform_io(result.failure())
                    print(f"  ({error}{', retrying' if error.retryable and attempt < 2 else ''})", flush=True)
                    if not error.retryable or attempt == 2:
                        raise SystemExit(str(error))
                    wh.close()
                    wh = connect(cfg.warehouse)
    finally:
        wh.close()
    return time.perf_counter() - started


def ran(args: dict[str, Any]) -> str:
    """The dbt command a build ran, from run_results.json's ``args``."""
    words = [f"dbt {args['which']}"]
    if args.get("full_refresh"):
        words.append("--full-refresh")
    words += [f"--exclude-resource-type {t}" for t in args.get("exclude_resource_types") or []]
    if args.get("state"):
        words.append("--state <last production build>")
    if args.get("indirect_selection", "eager") != "eager":
        words.append(f"--indirect-selection {args['indirect_selection']}")
    if args.get("select"):
        words.append("--select " + " ".join(args["select"]))
    if args.get("exclude"):
        words.append("--exclude " + " ".join(args["exclude"]))
    return " ".join(words)


def dbt(label: str, cfg: settings.Settings, work: Path, schema: str, *, full_refresh: bool = False) -> dict[str, Any]:
    """One production build: wall seconds, dbt's elapsed seconds, node count, slowest nodes, its arguments."""
    (work / "target" / "run_results.json").unlink(missing_ok=True)  # dbt writes none when nothing is selected
    started = time.perf_counter()
    result = dbt_runner.production_build(
        cfg, full_refresh=full_refresh, schema=schema, target_path=work / "target", log_path=work / "logs"
    )
    wall = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"dbt build ({label}) failed: {result.exception or dbt_runner.failures(result)}")
    results = work / "target" / "run_results.json"
    if not results.exists():
        return {"wall": wall, "elapsed": wall, "nodes": 0, "slowest": [], "by_type": {}, "args": "(nothing selected)"}
    shutil.copyfile(results, work / f"run_results.{label}.json")
    run = json.loads(results.read_text())
    args = ran(run["args"])
    nodes = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in run["results"]), reverse=True)
    by_type: dict[str, float] = {}
    for r in run["results"]:
        kind = r["unique_id"].split(".")[0]
        by_type[kind] = by_type.get(kind, 0.0) + r["execution_time"]
    return {
        "wall": wall,
        "elapsed": run["elapsed_time"],
        "nodes": len(nodes),
        "slowest": nodes[:8],
        "by_type": by_type,
        "args": args,
    }


def tests_as_sql(work: Path, path: str) -> tuple[int, float]:
    """The full rebuild's data tests run again as plain SQL (their compiled text from
    run_results.json), one after another on one read-only DuckDB connection: how many, and
    their seconds — what the tests cost without dbt's work around each node."""
    run = json.loads((work / "run_results.full.json").read_text())
    queries = [r["compiled_code"] for r in run["results"] if r["unique_id"].startswith("test.") and r["compiled_code"]]
    started = time.perf_counter()
    with duckdb.connect(path, read_only=True) as db:
        db.execute("set TimeZone = 'UTC'")
        for sql in queries:
            db.execute(sql).fetchall()
    return len(queries), time.perf_counter() - started


def analyze(schemas: list[str]) -> float:
    """What autovacuum does after the first load and build (this machine's server runs with
    autovacuum off, so the planner would otherwise see tables it never measured)."""
    started = time.perf_counter()
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s)", [schemas]
        ).fetchall()
        for table_schema, table in tables:
            conn.execute(f'ANALYZE "{table_schema}"."{table}"')
    return time.perf_counter() - started


def bench(kind: str, scale: int) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"bench-dbt-{kind}-"))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    if kind == "duckdb":
        warehouse: dict[str, Any] = {"kind": "duckdb", "path": str(work / "wh.duckdb")}
    else:
        warehouse = {"kind": "postgres", "dsn": PG_DSN, "schema": f"{schema}_raw"}
    print(f"{kind}, {scale:,} allocations", flush=True)
    try:
        with simulator(scale) as base_url:
            cfg = settings.load(env="local", wms={"base_url": base_url}, warehouse=warehouse)
            with WmsClient(cfg.wms) as wms:
                specs = read_by_dbt(wms)
            operational = [name for name, spec in specs.items() if spec.incremental]
            print(f"  full sync of every entity: {sync(cfg, specs, list(specs), 'full'):.1f}s", flush=True)
            dbt_runner.invoke(["parse"], cfg, schema=schema, target_path=work / "target", log_path=work / "logs")
            first = dbt("first", cfg, work, schema)
            print(
                f"  dbt build (first, every table): {first['wall']:.1f}s wall, {first['elapsed']:.1f}s dbt", flush=True
            )
            if kind == "postgres":
                print(f"  ANALYZE of the raw and model tables: {analyze([f'{schema}_raw', schema]):.1f}s", flush=True)
            change = {"minutes": 60, "modify": 0.01, "insert": 0.002, "delete": 0.002}
            moved = httpx.post(admin(base_url) + "/advance", auth=AUTH, timeout=900, params=change).json()
            counts = {what: moved[what]["allocation"] for what in ("modified", "inserted", "deleted")}
            print(f"  (clock moved 60 minutes; allocations {counts})")
            seconds = sync(cfg, specs, operational, "incremental")
            print(f"  incremental sync of {', '.join(operational)}: {seconds:.1f}s")
            incremental = dbt("incremental", cfg, work, schema)
            unchanged = dbt("unchanged", cfg, work, schema)  # no sync since: what a build costs when nothing changed
            full = dbt("full", cfg, work, schema, full_refresh=True)
    finally:
        if kind == "postgres":
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                for name in (f"{schema}_raw", schema):
                    conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    for label, r in (
        ("after the sync (tests: window)", incremental),
        ("no sync since (nothing changed)", unchanged),
        ("full rebuild (tests: all rows)", full),
    ):
        print(f"  {label:<32} {r['wall']:6.1f}s wall, {r['elapsed']:6.1f}s dbt, {r['nodes']} nodes")
        print(f"    ran: {r['args']}")
        print("    node seconds by kind: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["by_type"].items())))
    print(f"  incremental / full rebuild: {incremental['wall'] / full['wall']:.0%} wall, "
          f"{incremental['elapsed'] / full['elapsed']:.0%} dbt")  # fmt: skip
    print("  slowest nodes, incremental: " + ", ".join(f"{n} {s:.2f}s" for s, n in incremental["slowest"]))
    print("  slowest nodes, full rebuild: " + ", ".join(f"{n} {s:.2f}s" for s, n in full["slowest"]))
    if kind == "duckdb":
        count, seconds = tests_as_sql(work, warehouse["path"])
        print(f"  the full rebuild's {count} data tests as plain SQL, one connection: {seconds:.2f}s "
              f"(in the build: {full['by_type'].get('test', 0.0):.1f} node-s)")  # fmt: skip
    print(f"  run_results.json of each build: {work}/run_results.*.json", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--pg-scale", type=int, default=None, help="PostgreSQL's tenant (default: --scale)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-duckdb", action="store_true")
    args = parser.parse_args()
    print(f"$ uv run python -m tests.performance.bench_dbt --scale {args.scale}"
          + (f" --pg-scale {args.pg_scale}" if args.pg_scale else "")
          + (" --skip-postgres" if args.skip_postgres else "")
          + (" --skip-duckdb" if args.skip_duckdb else ""), flush=True)  # fmt: skip
    if not args.skip_duckdb:
        bench("duckdb", args.scale)
    if not args.skip_postgres:
        bench("postgres", args.pg_scale or args.scale)


if __name__ == "__main__":
    main()
