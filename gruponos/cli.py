"""``gruponos``: the product's command line.

uv run gruponos demo                      # simulator + extract every entity
uv run gruponos simulator serve --port 8765 --seed 42 --scale 100000
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from gruponos import settings as settings_module
from gruponos.entities import CATALOG, entity
from gruponos.errors import Error, SyncError

if TYPE_CHECKING:
    from gruponos.pipeline import EntityReport

app = typer.Typer(help="Keep an analytics warehouse in sync with Oracle WMS Cloud.", no_args_is_help=True)
simulator_app = typer.Typer(help="The bundled Oracle WMS simulator.", no_args_is_help=True)
app.add_typer(simulator_app, name="simulator")
service_app = typer.Typer(help="The local Prefect service: server, work pool, deployments, worker, simulator.")
app.add_typer(service_app, name="service")

console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, soft_wrap=True)


@simulator_app.command("serve")
def simulator_serve(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 picks a free one).")] = 8765,
    seed: Annotated[int, typer.Option(help="Same seed, same tenant.")] = 42,
    scale: Annotated[int, typer.Option(min=1, help="Number of allocations; other entities in proportion.")] = 100_000,
    username: Annotated[str | None, typer.Option(help="Basic-auth user (default: the local environment's).")] = None,
    password: Annotated[
        str | None, typer.Option(help="Basic-auth password (default: the local environment's).")
    ] = None,
    token: Annotated[str | None, typer.Option(help="Also accept this Bearer token.")] = None,
    environment: Annotated[str, typer.Option(help="The {environment} segment of the URL.")] = "local",
    faults: Annotated[str | None, typer.Option(help="Faults as JSON, e.g. '{\"latency_s\": 0.2}'.")] = None,
    clock: Annotated[
        str,
        typer.Option(help="realtime: the wall clock, changes stamped now; fixed: starts 2026-11-01, moves on advance."),
    ] = "realtime",
    churn: Annotated[
        float | None, typer.Option(min=0, help="Records changed per second (realtime only; default 1, fixed: 0).")
    ] = None,
    modify_share: Annotated[float, typer.Option(min=0, help="Share of the churn that modifies records.")] = 0.80,
    insert_share: Annotated[float, typer.Option(min=0, help="Share of the churn that inserts records.")] = 0.15,
    delete_share: Annotated[float, typer.Option(min=0, help="Share of the churn that deletes records.")] = 0.05,
    late_commit_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of changes visible only --late-commit-s after their mod_ts.")
    ] = 0.05,
    late_commit_s: Annotated[float, typer.Option(min=0, help="Seconds a late commit stays invisible.")] = 60.0,
    tls: Annotated[
        bool, typer.Option(help="Serve HTTPS with a self-signed certificate written to --data-dir.")
    ] = False,
    data_dir: Annotated[
        str, typer.Option(help="Where the certificate and the rendered pages live.")
    ] = "data/simulator",
    verbose: Annotated[bool, typer.Option(help="Log every request.")] = False,
    quiet: Annotated[bool, typer.Option(help="Print only the base URL.")] = False,
) -> None:
    """Serve a seeded WMS tenant; print its base URL as the first line, then run until stopped."""
    from gruponos.simulator import Faults, Simulator, Workload
    from gruponos.simulator.process import admin_url

    local = settings_module.Settings(env=settings_module.Environment.LOCAL)
    user = username or local.wms.username or settings_module.LOCAL_USERNAME
    secret = password or (local.wms.password.get_secret_value() if local.wms.password else "")
    if clock not in ("realtime", "fixed"):
        err_console.print(f"[red]--clock must be realtime or fixed, not {escape(repr(clock))}[/red]")
        raise typer.Exit(2)
    rate = churn if churn is not None else (1.0 if clock == "realtime" else 0.0)
    try:
        fault_cfg = Faults.from_dict(orjson.loads(faults)) if faults else Faults()
        workload = Workload(
            rate=rate,
            modify=modify_share,
            insert=insert_share,
            delete=delete_share,
            late_share=late_commit_share,
            late_s=late_commit_s,
        )
        sim = Simulator(
            scale=scale,
            seed=seed,
            username=user,
            password=secret,
            token=token,
            environment=environment,
            port=port,
            faults=fault_cfg,
            verbose=verbose,
            clock="realtime" if clock == "realtime" else "fixed",
            workload=workload,
            tls=tls,
            data_dir=data_dir,
        )
    except (ValueError, TypeError) as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    try:
        sim.start()
    except OSError as exc:
        err_console.print(f"[red]cannot listen on 127.0.0.1:{port}: {exc.strerror}[/red]")
        raise typer.Exit(1) from None
    print(sim.base_url, flush=True)
    if not quiet:
        living = f"{rate:g} changes/s, {late_commit_share:.0%} committing {late_commit_s:g} s late" if rate else "quiet"
        err_console.print(
            f"WMS simulator: {sim.tenant.count('allocation'):,} allocations (seed {seed}, {clock} clock, {living}) "
            f"at {sim.base_url} as user {user!r}; admin at {admin_url(sim.base_url)}/status. Ctrl-C stops."
        )
    if sim.ca_bundle is not None:
        err_console.print(f"TLS certificate (trust it with GRUPONOS_WMS__CA_BUNDLE): {sim.ca_bundle.resolve()}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


@app.command()
def sync(
    mode: Annotated[str, typer.Argument(help="full | incremental")],
    entities: Annotated[list[str] | None, typer.Option("--entity", help="Only these entities (repeatable).")] = None,
    dbt: Annotated[bool, typer.Option(help="Run dbt build after loading.")] = False,
) -> None:
    """One sync of the configured environment (GRUPONOS_* variables) through its Prefect flow."""
    if mode not in ("full", "incremental"):
        err_console.print(f"[red]mode must be 'full' or 'incremental', not {escape(repr(mode))}[/red]")
        raise typer.Exit(2)
    cfg = settings_module.load()
    names = _entities(entities)
    outcomes, error = _run_flow(cfg, mode, names, run_dbt=dbt)
    _print_reports(f"{mode} sync ({cfg.env.value})", outcomes)
    if error:
        err_console.print(f"[red]error:[/red] {escape(error)}")
        raise typer.Exit(1)


@app.command()
def status() -> None:
    """Per entity: watermark, last run and its state, rows, quarantined rows."""
    from gruponos.status import entity_status
    from gruponos.warehouse import connect

    cfg = settings_module.load()
    if cfg.warehouse.kind == "duckdb" and not Path(cfg.warehouse.path).exists():
        err_console.print(f"[yellow]no warehouse at {escape(cfg.warehouse.path)} yet: run a sync first[/]")
        raise typer.Exit(1)
    warehouse = connect(cfg.warehouse)
    try:
        rows = entity_status(warehouse, cfg.warehouse.db_schema)
    finally:
        warehouse.close()
    table = Table(title=f"gruponos status ({cfg.env.value}, {cfg.warehouse.kind}, schema {cfg.warehouse.db_schema})")
    for col in ("entity", "watermark", "last run", "state", "finished", "rows", "deleted", "quarantined"):
        table.add_column(col, justify="right" if col in ("rows", "deleted", "quarantined") else "left")
    colours = {"ok": "green", "failed": "red", "abandoned": "yellow", "running": "cyan"}
    for r in rows:
        state = r.last_status or "never run"
        table.add_row(
            r.entity,
            _when(r.watermark),
            f"{r.last_run_id} ({r.last_mode})" if r.last_run_id else "—",
            f"[{colours.get(state, 'default')}]{state}[/]",
            _when(r.last_finished_at),
            "—" if r.rows is None else f"{r.rows:,}",
            "—" if r.deleted is None else f"{r.deleted:,}",
            f"[{'yellow' if r.rejected else 'default'}]{r.rejected:,}[/]",
        )
    console.print(table)
    for r in rows:
        if r.last_status == "failed" and r.last_error:
            err_console.print(f"[red]{r.entity}:[/red] {escape(r.last_error)}")


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


@app.command()
def demo(
    scale: Annotated[int, typer.Option(min=1, help="Allocations in the simulated tenant.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated tenant.")] = 42,
    path: Annotated[str, typer.Option(help="The demo's DuckDB file (recreated).")] = "data/demo.duckdb",
) -> None:
    """Start the bundled simulator; full sync, move its clock, incremental sync, reconcile (through the flows)."""
    from gruponos.simulator.process import spawn

    target = Path(path)
    for leftover in (target, target.with_name(target.name + ".wal")):
        leftover.unlink(missing_ok=True)
    err_console.print(f"Starting the WMS simulator ({scale:,} allocations, seed {seed})…")
    failed = False
    with spawn(scale=scale, seed=seed) as base_url:
        local = settings_module.load(env="local")
        password = local.wms.password.get_secret_value() if local.wms.password else ""
        os.environ.update(
            {
                "GRUPONOS_ENV": "local",
                "GRUPONOS_WMS__BASE_URL": base_url,
                "GRUPONOS_WMS__USERNAME": local.wms.username or "",
                "GRUPONOS_WMS__PASSWORD": password,
                "GRUPONOS_WAREHOUSE__KIND": "duckdb",
                "GRUPONOS_WAREHOUSE__PATH": str(target),
            }
        )
        cfg = settings_module.load()
        names = list(CATALOG)
        full, error = _run_flow(cfg, "full", names, run_dbt=False)
        _print_reports("1. full sync", full)
        changes = _admin(cfg, base_url, "advance", minutes=60, modify=0.01, insert=0.002)
        console.print(
            f"2. the WMS clock moved 60 minutes: {sum(changes['modified'].values()):,} records modified, "
            f"{sum(changes['inserted'].values()):,} inserted"
        )
        incremental, error2 = _run_flow(cfg, "incremental", names, run_dbt=True)
        _print_reports("3. incremental sync, then dbt build", incremental)
        expected = {n: c for n, c in _admin(cfg, base_url, "status")["counts"].items() if n in names}
        for problem in (error, error2):
            if problem:
                err_console.print(f"[red]error:[/red] {escape(problem)}")
        failed = bool(error or error2)
    failed |= not _reconcile(cfg, expected)
    if not error2:
        _print_marts(target)
    console.print(f"Warehouse: {Path(path).resolve()} (schema {cfg.warehouse.db_schema})")
    if failed:
        raise typer.Exit(1)


@service_app.command("up")
def service_up(
    port: Annotated[int, typer.Option(help="Prefect server port on 127.0.0.1.")] = 4200,
    sim_port: Annotated[int, typer.Option(help="Simulator port (the local environment's WMS).")] = 8765,
    scale: Annotated[int, typer.Option(min=1, help="Allocations in the simulated tenant.")] = 100_000,
    home: Annotated[str, typer.Option(help="PREFECT_HOME (SQLite database, logs).")] = "data/prefect",
) -> None:
    """Run the local service in the foreground: Prefect server, pool, deployments, worker, simulator.

    SQLite under ``--home`` by default; PostgreSQL when PREFECT_SERVER_DATABASE_CONNECTION_URL is
    set. Ctrl-C stops everything.
    """
    from gruponos.service import Service

    project = Path(__file__).resolve().parent.parent
    service = Service(project=project, port=port, sim_port=sim_port, scale=scale, home=Path(home).resolve())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service.start(say=lambda text: err_console.print(text))
        console.print(
            f"[green]gruponos local service is up[/]: dashboard {service.ui_url}\n"
            f"  run a sync:  PREFECT_API_URL={service.api_url} uv run prefect deployment run full-sync/local --watch\n"
            "  Ctrl-C stops the server, the worker and the simulator."
        )
        while not stop.wait(0.5):
            if (dead := service.dead()) is not None:
                err_console.print(f"[red]{escape(dead)} exited; stopping the service[/red]")
                raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        err_console.print("stopping…")
        service.stop()


def _print_marts(path: Path) -> None:
    """A few rows of the marts dbt built: top facilities by fulfillment rate."""
    from gruponos.dbt_runner import top_facilities

    table = Table(title="5. dbt marts: top facilities by fulfillment rate (fct_allocation_performance)")
    for col in ("facility", "allocations", "allocated qty", "packed qty", "fulfillment rate"):
        table.add_column(col, justify="left" if col == "facility" else "right")
    for row in top_facilities(path):
        rate = "—" if row.fulfillment_rate is None else f"{row.fulfillment_rate:.1%}"
        table.add_row(
            row.facility_code or str(row.facility_id),
            f"{row.allocation_count:,}",
            f"{row.allocated_qty:,}",
            f"{row.packed_qty:,}",
            rate,
        )
    console.print(table)


def _entities(names: list[str] | None) -> list[str]:
    chosen = names or list(CATALOG)
    for name in chosen:
        try:
            entity(name)
        except KeyError as exc:
            err_console.print(f"[red]{escape(str(exc.args[0]))}[/red]")
            raise typer.Exit(2) from None
    return chosen


def _prefect_defaults() -> None:
    """Offline-friendly Prefect defaults for ad hoc runs (a user's own settings win)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _run_flow(
    cfg: settings_module.Settings, mode: str, names: list[str], *, run_dbt: bool
) -> tuple[list[EntityReport | SyncError], str | None]:
    """Run the sync flow ad hoc with a progress bar per entity; the outcomes and the run's error."""
    _prefect_defaults()
    from flows import full_sync, incremental_sync
    from flows.sync import SyncFailed
    from flows.tasks import listeners

    columns = (
        TextColumn("{task.description:<11}"),
        TextColumn("{task.fields[phase]:<8}"),
        BarColumn(),
        TextColumn("{task.completed:>10,} records"),
        TextColumn("{task.fields[rate]:>14}"),
        TimeElapsedColumn(),
    )
    chosen = full_sync if mode == "full" else incremental_sync
    with Progress(*columns, console=err_console, transient=True) as progress:
        bars: dict[tuple[str, str], tuple[TaskID, float]] = {}
        lock = threading.Lock()

        def tick(name: str, phase: str, rows: int) -> None:
            with lock:
                if (name, phase) not in bars:
                    for (other, _), (bar, _) in bars.items():
                        if other == name:
                            progress.update(bar, visible=False)
                    bars[(name, phase)] = (
                        progress.add_task(name, total=None, rate="", phase=phase),
                        time.perf_counter(),
                    )
                bar, started = bars[(name, phase)]
            rate = rows / max(time.perf_counter() - started, 1e-9)
            progress.update(bar, completed=rows, rate=f"{rate:,.0f} rec/s")

        listeners.append(tick)
        try:
            state = chosen(env=cfg.env.value, entities=names, run_dbt=run_dbt, return_state=True)
        finally:
            listeners.remove(tick)
    value: Any = state.result(raise_on_failure=False)
    if isinstance(value, SyncFailed):
        return value.outcomes, value.message
    if isinstance(value, BaseException):
        return [], f"the {chosen.name} run {state.name}: {state.message or value}"
    outcomes: list[EntityReport | SyncError] = list(value)
    return outcomes, None


def _print_reports(title: str, outcomes: list[EntityReport | SyncError]) -> None:
    table = Table(title=title)
    for col in ("entity", "extracted", "rejected", "inserted", "updated", "deleted", "seconds", "records/s"):
        table.add_column(col, justify="left" if col == "entity" else "right")
    total_rows = 0
    total_s = 0.0
    for o in outcomes:
        if isinstance(o, SyncError):
            table.add_row(f"[red]{o.entity}[/red]", "[red]failed[/red]", "", "", "", "", "", "")
            continue
        total_rows += o.extracted
        total_s += o.seconds
        table.add_row(
            o.entity,
            f"{o.extracted:,}",
            f"[{'yellow' if o.rejected else 'default'}]{o.rejected:,}[/]",
            f"{o.inserted:,}",
            f"{o.updated:,}",
            f"{o.deleted:,}",
            f"{o.seconds:.2f}",
            f"{o.records_per_s:,.0f}",
        )
    table.add_section()
    table.add_row(
        "total", f"{total_rows:,}", "", "", "", "", f"{total_s:.2f}", f"{total_rows / max(total_s, 1e-9):,.0f}"
    )
    console.print(table)
    for o in outcomes:
        if isinstance(o, SyncError):
            err_console.print(f"[red]error:[/red] {escape(str(o))}")
        elif o.new_fields:
            err_console.print(
                f"[yellow]{o.entity}: new fields kept as text columns: {escape(', '.join(o.new_fields))}[/]"
            )


def _admin(cfg: settings_module.Settings, base_url: str, action: str, **params: float) -> dict[str, Any]:
    """Call the simulator's admin door (status, advance)."""
    from gruponos.simulator.process import admin_url

    root = admin_url(base_url)
    password = cfg.wms.password.get_secret_value() if cfg.wms.password else ""
    auth = (cfg.wms.username or "", password)
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
    try:
        parts = []
        for name, want in expected.items():
            got = sum(1 for r in warehouse.rows(name) if r["_deleted_at"] is None)
            ok &= got == want
            parts.append(f"{name} {got:,}/{want:,}" if got != want else f"{name} {got:,}")
    finally:
        warehouse.close()
    colour = "green" if ok else "red"
    console.print(f"[{colour}]4. reconciled with the WMS ({'all equal' if ok else 'MISMATCH'}):[/] " + ", ".join(parts))
    return ok


def _terminated(*_: object) -> None:
    """SIGTERM as Ctrl-C: clean-up runs (Prefect's temporary server is stopped, not orphaned)."""
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except Error as exc:  # our own errors: a clear message, no traceback
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(1)


if __name__ == "__main__":
    main()
