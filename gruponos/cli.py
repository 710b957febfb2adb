"""``gruponos``: the product's command line.

uv run gruponos demo                      # simulator + extract every entity
uv run gruponos simulator serve --port 8765 --seed 42 --scale 100000
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gruponos import settings as settings_module
from gruponos.entities import CATALOG, entity
from gruponos.errors import Error

app = typer.Typer(help="Keep an analytics warehouse in sync with Oracle WMS Cloud.", no_args_is_help=True)
simulator_app = typer.Typer(help="The bundled Oracle WMS simulator.", no_args_is_help=True)
app.add_typer(simulator_app, name="simulator")

console = Console()
err_console = Console(stderr=True)


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
        err_console.print(f"[red]--faults: {exc}[/red]")
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


@dataclass(slots=True)
class _Extracted:
    entity: str
    rows: int
    expected: int | None
    result_count: int | None
    pages: int
    retries: int
    seconds: float


@app.command()
def demo(
    scale: Annotated[int, typer.Option(min=1, help="Allocations in the simulated tenant.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated tenant.")] = 42,
    entities: Annotated[list[str] | None, typer.Option("--entity", help="Only these entities (repeatable).")] = None,
) -> None:
    """Start the bundled simulator and extract every entity, with counts and rates."""
    from gruponos.simulator.process import spawn

    names = entities or list(CATALOG)
    for name in names:
        try:
            entity(name)
        except KeyError as exc:
            err_console.print(f"[red]{exc.args[0]}[/red]")
            raise typer.Exit(2) from None
    err_console.print(f"Starting the WMS simulator ({scale:,} allocations, seed {seed})…")
    with spawn(scale=scale, seed=seed) as base_url:
        cfg = settings_module.load(env="local", wms={"base_url": base_url})
        expected = _simulator_counts(cfg, base_url)
        results = _extract_all(cfg, names, expected)
    _print_results(results)
    if any(r.expected is not None and r.rows != r.expected for r in results):
        err_console.print("[red]some entities did not arrive complete[/red]")
        raise typer.Exit(1)


def _simulator_counts(cfg: settings_module.Settings, base_url: str) -> dict[str, int]:
    """The simulator's own row counts (its admin status), to reconcile against."""
    root = base_url.split("/wms/lgfapi/")[0].rsplit("/", 1)[0]
    password = cfg.wms.password.get_secret_value() if cfg.wms.password else ""
    body: dict[str, Any] = httpx.get(f"{root}/_sim/status", auth=(cfg.wms.username or "", password)).json()
    return {str(k): int(v) for k, v in body["counts"].items()}


def _extract_all(cfg: settings_module.Settings, names: list[str], expected: dict[str, int]) -> list[_Extracted]:
    from gruponos.wms import WmsClient, extract

    results = []
    columns = (
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>12}"),
        TimeElapsedColumn(),
    )
    with WmsClient(cfg.wms) as client, Progress(*columns, console=err_console) as progress:
        client.ping()  # a wrong URL or password fails here, not as "no rows"
        for name in names:
            task = progress.add_task(name, total=expected.get(name), rate="")
            started = time.perf_counter()
            run = extract(entity(name), client)
            rows = 0
            for batch in run:
                rows += batch.num_rows
                elapsed = max(time.perf_counter() - started, 1e-9)
                progress.update(task, completed=rows, rate=f"{rows / elapsed:,.0f} rec/s")
            seconds = time.perf_counter() - started
            results.append(
                _Extracted(
                    name, rows, expected.get(name), run.stats.result_count, run.stats.pages, run.stats.retries, seconds
                )
            )
    return results


def _print_results(results: list[_Extracted]) -> None:
    table = Table(title="Extracted from the WMS simulator")
    for col in ("entity", "rows", "in WMS", "pages", "retries", "seconds", "records/s"):
        table.add_column(col, justify="left" if col == "entity" else "right")
    for r in results:
        ok = r.expected is None or r.rows == r.expected
        table.add_row(
            r.entity,
            f"{r.rows:,}",
            f"[{'green' if ok else 'red'}]{r.expected if r.expected is not None else '?':,}[/]",
            str(r.pages),
            str(r.retries),
            f"{r.seconds:.2f}",
            f"{r.rows / max(r.seconds, 1e-9):,.0f}",
        )
    total_rows = sum(r.rows for r in results)
    total_s = sum(r.seconds for r in results)
    table.add_section()
    table.add_row("total", f"{total_rows:,}", "", "", "", f"{total_s:.2f}", f"{total_rows / max(total_s, 1e-9):,.0f}")
    console.print(table)


def main() -> None:
    try:
        app()
    except Error as exc:  # our own errors: a clear message, no traceback
        err_console.print(f"[red]error:[/red] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
