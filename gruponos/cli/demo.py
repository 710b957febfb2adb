"""``gruponos demo``: the whole job on a laptop, against the bundled simulator and DuckDB.

Starts a simulated tenant, full-syncs every selected entity into the local environment's
warehouse (the file ``gruponos status`` reads), moves the tenant's clock (1 % of the rows
modified, 0.2 % inserted), syncs the operational entities incrementally and re-reads master and
lookup data, builds the dbt marts, reconciles every entity with the tenant's own counts and
shows a few mart rows. In this process by default; through
the Prefect flows with ``--prefect`` (or when ``PREFECT_API_URL`` is set).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from gruponos import settings as settings_module
from gruponos.cli.output import Bars, console, err, fail, log_to, print_reports
from gruponos.errors import SyncError

__all__ = ["demo"]


def demo(
    scale: Annotated[int, typer.Option(min=1, help="Allocations in the simulated tenant.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated tenant.")] = 42,
    prefect: Annotated[bool, typer.Option(help="Run the syncs through the Prefect flows.")] = False,
) -> None:
    """Start the bundled simulator; full sync, move its clock, incremental sync + dbt, reconcile."""
    from gruponos.simulator.process import spawn

    local = settings_module.load(env="local")
    target = Path(local.warehouse.path).resolve()
    log = log_to(Path(local.flows.landing_path).resolve().parent / "logs" / "gruponos.log", verbose=False)
    for leftover in (target, target.with_name(target.name + ".wal")):
        leftover.unlink(missing_ok=True)
    err(f"Starting the WMS simulator ({scale:,} allocations, seed {seed})…; log: {log}")
    started = time.perf_counter()
    through_prefect = prefect or bool(os.environ.get("PREFECT_API_URL"))
    failed = False
    with spawn(scale=scale, seed=seed) as base_url:
        os.environ.update({"GRUPONOS_ENV": "local", "GRUPONOS_WMS__BASE_URL": base_url,
                           "GRUPONOS_WAREHOUSE__KIND": "duckdb", "GRUPONOS_WAREHOUSE__PATH": str(target)})  # fmt: skip
        cfg = settings_module.load()
        t0 = time.perf_counter()
        full, error = _sync(cfg, "full", through_prefect)
        print_reports("1. full sync", full, time.perf_counter() - t0)
        changes = _admin(cfg, base_url, "advance", minutes=60, modify=0.01, insert=0.002)
        console.print(
            f"2. the WMS clock moved 60 minutes: {sum(changes['modified'].values()):,} records modified, "
            f"{sum(changes['inserted'].values()):,} inserted"
        )
        t0 = time.perf_counter()
        incremental, error2 = _sync(cfg, "incremental", through_prefect)
        print_reports("3. incremental sync of the operational entities", incremental, time.perf_counter() - t0)
        t0 = time.perf_counter()
        master, error3 = _sync(cfg, "master", through_prefect)
        print_reports("4. master and lookup data re-read", master, time.perf_counter() - t0)
        expected = _admin(cfg, base_url, "status")["counts"]
        failed = bool(error or error2 or error3) or any(
            isinstance(o, SyncError) for o in [*full, *incremental, *master]
        )
        error4 = None if failed else _dbt_build(cfg)
        for problem in (error, error2, error3, error4):
            if problem:
                fail(problem)
        failed |= bool(error4)
    synced = [o.entity for o in full if not isinstance(o, SyncError)]
    failed |= not _reconcile(cfg, {k: v for k, v in expected.items() if k in synced})
    if not failed:
        _print_marts(target)
    console.print(f"Warehouse: {target} (uv run gruponos status); {time.perf_counter() - started:.0f} s in all")
    if failed:
        raise typer.Exit(1)


def _sync(cfg: settings_module.Settings, kind: str, through_prefect: bool) -> tuple[list[Any], str | None]:
    """One sync of every selected entity, in this process or through the flows."""
    import threading

    stop = threading.Event()
    if through_prefect:
        from gruponos.cli.flows import run_flow

        return run_flow(cfg, kind, None, run_dbt=False, stop=stop, verbose=False)
    from gruponos.runs import sync_many

    with Bars() as bars:
        outcomes: list[Any] = list(sync_many(cfg, kind, progress=bars.update, stop=stop))
    return outcomes, None


def _dbt_build(cfg: settings_module.Settings) -> str | None:
    """``dbt build`` of the marts on what the syncs loaded; the failure's message, if any."""
    from gruponos import dbt_runner

    err("dbt build…")
    started = time.perf_counter()
    result = dbt_runner.production_build(cfg, log_level="warn")  # its full log: data/dbt/logs
    console.print(f"5. dbt build: {dbt_runner.summary(result)} in {time.perf_counter() - started:.1f} s")
    return None if result.success else f"dbt build failed: {dbt_runner.failures(result)}"


def _admin(cfg: settings_module.Settings, base_url: str, action: str, **params: float) -> dict[str, Any]:
    """Call the simulator's admin door (status, advance)."""
    from gruponos.simulator.process import admin_url

    root = admin_url(base_url)
    auth = (cfg.wms.username or "", cfg.wms.password.get_secret_value() if cfg.wms.password else "")
    if action == "status":
        response = httpx.get(f"{root}/status", auth=auth)
    else:
        response = httpx.post(f"{root}/{action}", params=params, auth=auth, timeout=120)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _reconcile(cfg: settings_module.Settings, expected: dict[str, int]) -> bool:
    """Live rows per entity in the warehouse against the simulator's own counts."""
    from gruponos.warehouse import connect

    warehouse = connect(cfg.warehouse)
    ok = True
    parts = []
    try:
        for name, want in sorted(expected.items()):
            rows = warehouse.query(
                f"SELECT count(*) FROM {warehouse.table(name)} WHERE {warehouse.ident('_deleted_at')} IS NULL"
            )
            got = int(rows[0][0])
            ok &= got == want
            parts.append(f"{name} {got:,}" if got == want else f"[red]{name} {got:,}/{want:,}[/red]")
    finally:
        warehouse.close()
    if ok:
        total = sum(expected.values())
        console.print(f"[green]6. reconciled {len(expected)} entities with the WMS: all equal ({total:,} live rows)[/]")
    else:
        console.print(f"[red]6. reconciled {len(expected)} entities with the WMS: MISMATCH[/] (warehouse/WMS)")
        for part in parts:
            if "/" in part:
                console.print(f"  {part}")
    return ok


def _print_marts(path: Path) -> None:
    """A few rows of the marts dbt built: top facilities by fulfillment rate."""
    from gruponos.cli.output import number
    from gruponos.dbt_runner import top_facilities

    table = Table(title="7. dbt marts: top facilities by fulfillment rate")
    for col in ("facility", "allocations", "allocated", "packed", "rate"):
        table.add_column(col, justify="left" if col == "facility" else "right")
    for row in top_facilities(path):
        rate = "—" if row.fulfillment_rate is None else f"{row.fulfillment_rate:.1%}"
        table.add_row(
            row.facility_code or str(row.facility_id),
            number(row.allocation_count),
            number(row.allocated_qty),
            number(row.packed_qty),
            rate,
        )
    console.print(table)
