"""``gruponos``: the product's command line.

    uv run gruponos sync full|incremental|master [--entity NAME_OR_GLOB ...] [--dbt] [--prefect]
    uv run gruponos status
    uv run gruponos entities [NAME_OR_GLOB ...] [--markdown]
    uv run gruponos demo
    uv run gruponos service up
    uv run gruponos simulator serve

``sync`` runs the engine in this process when no Prefect API is configured, and through the
Prefect flows when ``PREFECT_API_URL`` is set or ``--prefect`` is given; its first line says
which. Ctrl-C stops it within seconds (a second Ctrl-C at once); the rerun resumes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from gruponos import settings as settings_module
from gruponos.cli.output import Bars, console, err, fail, log_to, narrow_table, print_reports
from gruponos.errors import Error, SyncError
from gruponos.redact import redact

app = typer.Typer(
    help="Keep an analytics warehouse in sync with Oracle WMS Cloud.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_KINDS = ("full", "incremental", "master")
_GRACE_S = 5.0  # after Ctrl-C, how long running steps get to stop cleanly
_ECHO_S = 0.5  # a second signal sooner than this is the first one delivered twice


class Interrupt:
    """Ctrl-C (or SIGTERM): the first asks the run to stop; a second, or the grace period, ends the process."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._first = 0.0

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            if time.monotonic() - self._first < _ECHO_S:
                return  # the same Ctrl-C, delivered twice (the terminal's, and `uv run` passing it on)
            err("[red]stopped at once[/red]")
            os._exit(130)
        self._first = time.monotonic()
        self.stop.set()
        err(f"[yellow]stopping… (the run log will say so; Ctrl-C again to quit at once, or in {_GRACE_S:.0f} s)[/]")
        timer = threading.Timer(_GRACE_S, self._expire)
        timer.daemon = True
        timer.start()

    def _expire(self) -> None:
        err("[red]stopped: the run did not end within the grace period[/red]")
        os._exit(130)


def _logs(cfg: settings_module.Settings) -> Path:
    return Path(cfg.flows.landing_path).resolve().parent / "logs" / "gruponos.log"


@app.command()
def sync(
    kind: Annotated[str, typer.Argument(help="full | incremental | master")],
    entities: Annotated[
        list[str] | None, typer.Option("--entity", "-e", help="Entity name or glob (repeatable).")
    ] = None,
    dbt: Annotated[bool, typer.Option(help="Run dbt build after loading.")] = False,
    prefect: Annotated[
        bool, typer.Option(help="Run through the Prefect flows (default when PREFECT_API_URL is set).")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Logs and tracebacks on the terminal.")] = False,
) -> None:
    """One sync of the configured environment (GRUPONOS_* variables)."""
    if kind not in _KINDS:
        fail(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
        raise typer.Exit(2)
    cfg = settings_module.load()
    log = log_to(_logs(cfg), verbose=verbose)
    interrupt = Interrupt()
    interrupt.install()
    through_prefect = prefect or bool(os.environ.get("PREFECT_API_URL"))
    if through_prefect:
        where = os.environ.get("PREFECT_API_URL") or "a temporary Prefect server"
        err(f"gruponos sync {kind} ({cfg.env.value}) through the Prefect flows at {where}; log: {log}")
    else:
        err(f"gruponos sync {kind} ({cfg.env.value}) in this process (no PREFECT_API_URL); log: {log}")
    started = time.perf_counter()
    try:
        if through_prefect:
            from gruponos.cli.flows import run_flow

            outcomes, error = run_flow(cfg, kind, entities, run_dbt=dbt, stop=interrupt.stop, verbose=verbose)
        else:
            outcomes, error = _run_engine(cfg, kind, entities, stop=interrupt.stop), None
    except Error as exc:
        fail(str(exc))
        raise typer.Exit(1) from None
    print_reports(f"{kind} sync ({cfg.env.value})", outcomes, time.perf_counter() - started)
    synced = not interrupt.stop.is_set() and not any(isinstance(o, SyncError) for o in outcomes)
    if dbt and not through_prefect and synced and not error:
        error = _dbt_build(cfg)
    if error:
        fail(error)
    if error or any(isinstance(o, SyncError) for o in outcomes):
        raise typer.Exit(130 if interrupt.stop.is_set() else 1)


def _run_engine(
    cfg: settings_module.Settings, kind: str, entities: list[str] | None, *, stop: threading.Event
) -> list[Any]:
    """The engine in this process, with a progress bar per entity."""
    from gruponos.runs import sync_many

    with Bars() as bars:
        return sync_many(cfg, kind, entities, progress=bars.update, stop=stop)


def _dbt_build(cfg: settings_module.Settings) -> str | None:
    """The production dbt build after the engine's sync, timed apart from it; why it failed, if it did."""
    from gruponos import dbt_runner

    err("dbt build…")
    started = time.perf_counter()
    result = dbt_runner.production_build(cfg, log_level="warn")  # its full log: data/dbt/logs
    err(f"dbt build: {dbt_runner.summary(result)} in {time.perf_counter() - started:.1f} s")
    if not result.success:
        return f"every entity synced, but dbt build failed: {dbt_runner.failures(result)}"
    return None


@app.command()
def status() -> None:
    """Per entity: watermark, last run and its state, rows, quarantined rows."""
    from gruponos.warehouse import connect
    from gruponos.warehouse.status import entity_status

    cfg = settings_module.load()
    if cfg.warehouse.kind == "duckdb" and not Path(cfg.warehouse.path).exists():
        err(f"[yellow]no warehouse at {cfg.warehouse.path} yet: run `gruponos demo` or `gruponos sync full` first[/]")
        raise typer.Exit(1)
    warehouse = connect(cfg.warehouse)
    try:
        rows = entity_status(warehouse, cfg.warehouse.db_schema)
    finally:
        warehouse.close()
    # One line per entity in 80 columns: one space between columns, the year only when it is
    # not this one, the last run's end as its age; names and numbers are never cut.
    table = narrow_table(f"gruponos status ({cfg.env.value}, {cfg.warehouse.kind}, {Path(cfg.warehouse.path).name})")
    table.padding = (0, 0)
    for col in ("entity", "watermark", "last run", "ended"):
        table.add_column(col, no_wrap=True)
    for col in ("rows", "deleted", "rejected"):
        table.add_column(col, justify="right", no_wrap=True)
    colours = {"ok": "green", "failed": "red", "abandoned": "yellow", "running": "cyan"}
    modes = {"incremental": "incr", "full": "full"}
    now = datetime.now(UTC)
    for r in rows:
        state = r.last_status or "never run"
        mode = f" {modes.get(r.last_mode, r.last_mode)}" if r.last_mode else ""
        table.add_row(
            r.entity,
            _when(r.watermark, now),
            f"[{colours.get(state, 'default')}]{state}[/]{mode}",
            _age(r.last_finished_at, now),
            "—" if r.rows is None else f"{r.rows:,}",
            "—" if r.deleted is None else f"{r.deleted:,}",
            f"[{'yellow' if r.rejected else 'default'}]{r.rejected:,}[/]",
        )
    console.print(table)
    for r in rows:
        if r.last_status == "failed" and r.last_error:
            err(f"[red]{r.entity}:[/red] {redact(r.last_error)}")


def _when(moment: Any, now: datetime) -> str:
    if not moment:
        return "—"
    return str(moment.strftime("%m-%d %H:%M" if moment.year == now.year else "%Y-%m-%d %H:%M"))


def _age(moment: Any, now: datetime) -> str:
    """How long ago: ``45s ago``, ``12m ago``, ``5h ago``, ``3d ago``."""
    if not moment:
        return "—"
    seconds = max(0, int((now - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@app.command()
def entities(
    pattern: Annotated[
        list[str] | None, typer.Argument(help="Names or globs (default: the configured selection).")
    ] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="A Markdown table on stdout (the README's is made with '*').")
    ] = False,
) -> None:
    """The entities the WMS serves, and how each selected one is synced (sync class, keys, columns)."""
    from gruponos.catalog import discover, select
    from gruponos.wms import WmsClient

    cfg = settings_module.load()
    with WmsClient(cfg.wms) as wms:
        catalog = discover(wms, cfg.sync, pattern)
    configured = set(select(catalog.names, cfg.sync.entities, cfg.sync.exclude, strict=False))
    how = "default" if tuple(cfg.sync.entities) == settings_module.DEFAULT_ENTITIES else "configured"
    header = ("entity", "sync class", "key", "replication", "selected")
    rows: list[tuple[str, ...]] = []
    for name in catalog.selected:
        spec = catalog.spec(name)
        selected = (how if name in configured else "named") + (" + filters" if spec.required_filters else "")
        rows.append((name, spec.sync_class.value, spec.primary_key, spec.replication_key or "—", selected))
    if markdown:
        sys.stdout.write(_markdown(header, rows))
        return
    table = narrow_table(f"{len(catalog.selected)} of the {len(catalog.names)} entities the WMS serves")
    for col in (*header, "columns"):
        table.add_column(col, no_wrap=col == "entity")
    for row in rows:
        table.add_row(*row, str(len(catalog.spec(row[0]).columns)))
    console.print(table)


def _markdown(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table with aligned columns (plain text: no terminal width applies)."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |\n"

    return line(header) + line(tuple("-" * w for w in widths)) + "".join(line(r) for r in rows)


def _register() -> None:
    """The commands that live in their own modules."""
    from gruponos.cli import demo, service, simulator

    app.command()(demo.demo)
    app.add_typer(service.app, name="service")
    app.add_typer(simulator.app, name="simulator")


_register()


def main() -> None:
    """The console script: an error as one clear line; its traceback in the log (and with --verbose)."""
    verbose = "--verbose" in sys.argv or "-v" in sys.argv
    try:
        app()
    except Error as exc:
        if verbose:
            raise
        fail(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        err("[yellow]stopped[/yellow]")
        sys.exit(130)
    except Exception as exc:  # a bug: one line here, the traceback in the log file
        if verbose:
            raise
        logging.getLogger("gruponos").exception("unexpected error")
        fail(f"unexpected {type(exc).__name__}: {exc} (the traceback is in the log; --verbose shows it here)")
        sys.exit(1)
