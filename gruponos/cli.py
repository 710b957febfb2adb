"""``gruponos``: the product's command line.

uv run gruponos demo                      # simulator + extract every entity
uv run gruponos simulator serve --port 8765 --seed 42 --scale 100000
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import orjson
import typer
from returns.io import IOFailure, IOResult
from returns.unsafe import unsafe_perform_io
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
    verbose: Annotated[bool, typer.Option(help="Log every request.")] = False,
    quiet: Annotated[bool, typer.Option(help="Print only the base URL.")] = False,
) -> None:
    """Serve a seeded WMS tenant; print its base URL as the first line, then run until stopped."""
    from gruponos.simulator import Faults, Simulator

    local = settings_module.Settings(env=settings_module.Environment.LOCAL)
    user = username or local.wms.username or settings_module.LOCAL_USERNAME
    secret = password or (local.wms.password.get_secret_value() if local.wms.password else "")
    try:
        fault_cfg = Faults.from_dict(orjson.loads(faults)) if faults else Faults()
    except (ValueError, TypeError) as exc:
        err_console.print(f"[red]--faults: {escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
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
    )
    try:
        sim.start()
    except OSError as exc:
        err_console.print(f"[red]cannot listen on 127.0.0.1:{port}: {exc.strerror}[/red]")
        raise typer.Exit(1) from None
    print(sim.base_url, flush=True)
    if not quiet:
        err_console.print(
            f"WMS simulator: {sim.tenant.count('allocation'):,} allocations (seed {seed}) at {sim.base_url} "
            f"as user {user!r}; admin at http://127.0.0.1:{sim.port}/_sim/status. Ctrl-C stops."
        )
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
) -> None:
    """One sync of the configured environment (GRUPONOS_* variables); exit 1 if an entity failed."""
    if mode not in ("full", "incremental"):
        err_console.print(f"[red]mode must be 'full' or 'incremental', not {escape(repr(mode))}[/red]")
        raise typer.Exit(2)
    cfg = settings_module.load()
    names = _entities(entities)
    outcomes = _run_sync(cfg, mode, names)
    _print_reports(f"{mode} sync ({cfg.env.value})", outcomes)
    if any(isinstance(o, SyncError) for o in outcomes):
        raise typer.Exit(1)


@app.command()
def demo(
    scale: Annotated[int, typer.Option(min=1, help="Allocations in the simulated tenant.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated tenant.")] = 42,
    path: Annotated[str, typer.Option(help="The demo's DuckDB file (recreated).")] = "data/demo.duckdb",
) -> None:
    """Start the bundled simulator; full sync, move its clock, incremental sync, reconcile."""
    from gruponos.simulator.process import spawn

    target = Path(path)
    for leftover in (target, target.with_name(target.name + ".wal")):
        leftover.unlink(missing_ok=True)
    err_console.print(f"Starting the WMS simulator ({scale:,} allocations, seed {seed})…")
    failed = False
    with spawn(scale=scale, seed=seed) as base_url:
        cfg = settings_module.load(env="local", wms={"base_url": base_url}, warehouse={"kind": "duckdb", "path": path})
        names = list(CATALOG)
        full = _run_sync(cfg, "full", names)
        _print_reports("1. full sync", full)
        changes = _admin(cfg, base_url, "advance", minutes=60, modify=0.01, insert=0.002)
        console.print(
            f"2. the WMS clock moved 60 minutes: {sum(changes['modified'].values()):,} records modified, "
            f"{sum(changes['inserted'].values()):,} inserted"
        )
        incremental = _run_sync(cfg, "incremental", names)
        _print_reports("3. incremental sync", incremental)
        expected = _admin(cfg, base_url, "status")["counts"]
        failed = any(isinstance(o, SyncError) for o in full + incremental)
    failed |= not _reconcile(cfg, expected)
    console.print(f"Warehouse: {Path(path).resolve()} (schema {cfg.warehouse.db_schema})")
    if failed:
        raise typer.Exit(1)


def _entities(names: list[str] | None) -> list[str]:
    chosen = names or list(CATALOG)
    for name in chosen:
        try:
            entity(name)
        except KeyError as exc:
            err_console.print(f"[red]{escape(str(exc.args[0]))}[/red]")
            raise typer.Exit(2) from None
    return chosen


def _run_sync(cfg: settings_module.Settings, mode: str, names: list[str]) -> list[EntityReport | SyncError]:
    """Sync the entities one after another, with a progress bar each."""
    from gruponos.pipeline import Context, sync_entity
    from gruponos.warehouse import connect
    from gruponos.wms import WmsClient

    outcomes: list[EntityReport | SyncError] = []
    columns = (
        TextColumn("{task.description:<11}"),
        BarColumn(),
        TextColumn("{task.completed:>10,} records"),
        TextColumn("{task.fields[rate]:>14}"),
        TimeElapsedColumn(),
    )
    warehouse = connect(cfg.warehouse)
    try:
        with WmsClient(cfg.wms) as wms, Progress(*columns, console=err_console, transient=True) as progress:
            now = wms.ping()
            for name in names:
                task = progress.add_task(name, total=None, rate="")
                started = time.perf_counter()

                def tick(_: str, rows: int, task: TaskID = task, started: float = started) -> None:
                    rate = rows / max(time.perf_counter() - started, 1e-9)
                    progress.update(task, completed=rows, rate=f"{rate:,.0f} rec/s")

                ctx = Context(settings=cfg, wms=wms, warehouse=warehouse, now=now, progress=tick)
                outcomes.append(_unwrap(sync_entity(entity(name), mode, ctx)))  # type: ignore[arg-type]
                progress.update(task, visible=False)
    finally:
        warehouse.close()
    return outcomes


def _unwrap(result: IOResult[EntityReport, SyncError]) -> EntityReport | SyncError:
    """The edge of the railway: the report, or the error as a value to print."""
    if isinstance(result, IOFailure):
        error: SyncError = unsafe_perform_io(result.failure())
        return error
    report: EntityReport = unsafe_perform_io(result.unwrap())
    return report


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


def main() -> None:
    try:
        app()
    except Error as exc:  # our own errors: a clear message, no traceback
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(1)


if __name__ == "__main__":
    main()
