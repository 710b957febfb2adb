"""What a person reads: progress bars with totals, the run's table (80 columns), one line per error.

Reports and errors go to stdout/stderr through ``rich``; logs (retries, warnings) go to the log
file (``data/logs/gruponos.log``), and to the terminal too with ``--verbose``. Every message
passes through ``redact``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from gruponos.errors import SyncError
from gruponos.pipeline import EntityReport
from gruponos.redact import RedactingFilter, redact
from gruponos.runs import Progress as Event

__all__ = ["Bars", "console", "err", "fail", "log_to", "narrow_table", "number", "print_reports"]

# A terminal's own width (or COLUMNS when set); 100 columns when piped.
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 100, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)
Outcome = EntityReport | SyncError


def err(text: str) -> None:
    """A line on stderr (markup allowed), secrets masked."""
    err_console.print(redact(text))


def fail(message: str) -> None:
    """The one error line a person acts on (and in the log file, beside what led to it)."""
    logging.getLogger("gruponos.cli").error("%s", redact(message))
    err_console.print(f"[red]error:[/red] {escape(redact(message))}")


def log_to(path: Path, *, verbose: bool) -> Path:
    """Send log records to ``path`` (and to stderr with ``verbose``), redacted; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    if verbose:
        screen = logging.StreamHandler(sys.stderr)
        screen.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        screen.addFilter(RedactingFilter())
        root.addHandler(screen)
    return path


def number(value: object) -> str:
    """A count or a decimal as a person reads it: thousands separated, no trailing zeros."""
    if isinstance(value, Decimal):
        text = f"{value.normalize():,f}"
        return text
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class Bars:
    """One progress bar per entity, with its total when the WMS told it, and a real rate."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(bar_width=16),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>12}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self._bars: dict[str, tuple[TaskID, float]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Bars:
        self._progress.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.__exit__(kind, exc, tb)

    def update(self, event: Event) -> None:
        with self._lock:
            if event.entity not in self._bars:
                bar = self._progress.add_task(event.entity, total=event.total, rate="")
                self._bars[event.entity] = (bar, time.perf_counter())
                if event.resumed_after is not None:
                    err(f"{event.entity}: resuming the full sync after id {event.resumed_after:,}")
            bar, started = self._bars[event.entity]
        elapsed = time.perf_counter() - started
        rate = f"{event.rows / elapsed:,.0f} rec/s" if elapsed >= 0.5 and event.rows else ""
        if event.phase in ("done", "failed"):
            self._progress.update(bar, completed=event.rows, total=event.rows if event.phase == "done" else None,
                                  rate=rate, visible=False)  # fmt: skip
            return
        total = max(event.total, event.rows) if event.total is not None else None
        self._progress.update(bar, completed=event.rows, total=total, rate=rate)


def narrow_table(title: str) -> Table:
    """A table that spends two spaces between columns and none at its edges, so one row per
    entity (the longest default name has 21 characters) fits 80 columns without truncating it."""
    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)


def print_reports(title: str, outcomes: Sequence[Outcome], wall_s: float) -> None:
    """The run's table: one row per entity, a total whose seconds are the wall time."""
    table = narrow_table(title)
    for col in ("entity", "extracted", "rejected", "inserted", "updated", "deleted", "s"):
        table.add_column(col, justify="left" if col == "entity" else "right", no_wrap=True)
    rows = 0
    for o in outcomes:
        if isinstance(o, SyncError):  # what happened, in the width of the numbers it stands for
            if o.stopped:
                what = "not run" if o.step == "plan" else "stopped"
                table.add_row(f"[yellow]{o.entity}[/]", f"[yellow]{what}[/]", "", "", "", "", "")
            else:
                table.add_row(f"[red]{o.entity}[/red]", f"[red]✗ {o.step}[/red]", "", "", "", "", "")
            continue
        rows += o.extracted
        updated = f"{o.updated:,}" + (f"+{o.restored:,}r" if o.restored else "")
        table.add_row(
            o.entity,
            f"{o.extracted:,}",
            f"[{'yellow' if o.rejected else 'default'}]{o.rejected:,}[/]",
            f"{o.inserted:,}",
            updated,
            f"{o.deleted:,}",
            f"{o.seconds:.1f}",
        )
    table.add_section()
    table.add_row("total", f"{rows:,}", "", "", "", "", f"{wall_s:.1f}")
    console.print(table)
    if rows and wall_s > 0:
        console.print(f"{rows:,} records in {wall_s:.1f} s ({rows / wall_s:,.0f} records/s)")
    stopped = [o for o in outcomes if isinstance(o, SyncError) and o.stopped]
    if stopped:
        mid_way = sum(1 for o in stopped if o.step != "plan")
        err(f"[yellow]stopped by the user: {mid_way} {'entity' if mid_way == 1 else 'entities'} mid-way "
            f"(a rerun resumes), {len(stopped) - mid_way} not run[/]")  # fmt: skip
    for o in outcomes:
        if isinstance(o, SyncError):
            if not o.stopped:
                fail(str(o))
            continue
        if o.restored:
            err(f"[yellow]{o.entity}: {o.restored:,} rows deleted earlier are back (counted in 'updated' as +Nr)[/]")
        if o.new_fields:
            err(f"[yellow]{o.entity}: new WMS fields kept as text columns: {escape(', '.join(o.new_fields))}[/]")
        for field, column in o.renamed:
            err(f"[yellow]{o.entity}: field {escape(repr(field))} is stored in column {column}[/]")
