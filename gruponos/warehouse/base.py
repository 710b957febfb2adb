"""What every warehouse adapter offers, and the values that cross that line.

One run of one entity, as the pipeline drives it::

    with wh.lock(entity):                      # a second run of the entity fails clearly
        wh.prepare(spec, extra)                # create / evolve the raw table
        state = wh.state(entity)               # watermark, full-sync checkpoint
        wh.start_run(run)                      # run log row: running
        for batch, rejections in …:
            wh.load(spec, batch, rejections, run, checkpoint)   # ONE transaction each
        wh.finish(spec, run, watermark=…, unseen_by=…)          # ONE transaction

``load`` stages the batch, MERGEs it where the incoming ``mod_ts`` is newer or equal,
quarantines rejected rows, adds the counts to the run log and moves the full-sync
checkpoint — all committed together, so a crash at any point leaves either all of it or
none of it. ``finish`` marks rows a full sync did not see as deleted, sets the watermark
and closes the run log, again together. ``adapter.SqlWarehouse`` implements that sequence
once for every target.

Identifiers. Every table and column name is checked by :func:`quote` before it reaches SQL:
letters, digits and ``_``, not starting with a digit, at most 63 characters. Field names
that are not like that are the catalog's to make safe before they get here; ``quote``
refuses them with a non-retryable ``WarehouseError`` (no statement runs).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from gruponos.entities import EntitySpec
from gruponos.errors import WarehouseError
from gruponos.quality import Rejection

__all__ = [
    "META_COLUMNS",
    "Checkpoint",
    "LoadCounts",
    "RunRecord",
    "SyncState",
    "Warehouse",
    "crash_point",
    "quote",
    "table_columns",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# Bookkeeping columns every raw table has beside the entity's own.
META_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("_loaded_at", pa.timestamp("us", tz="UTC")),
    ("_run_id", pa.string()),
    ("_seen_run", pa.string()),  # the full-sync generation (or run) that last saw the row
    ("_deleted_at", pa.timestamp("us", tz="UTC")),
)


def quote(name: str) -> str:
    """A validated, double-quoted SQL identifier (never formatted from data).

    Raises a non-retryable ``WarehouseError`` for anything but a plain name.
    """
    if not _IDENT.match(name):
        raise WarehouseError(
            f"{name!r} is not a usable SQL identifier (letters, digits and _, not starting with a digit, "
            "at most 63 characters); nothing was run",
            retryable=False,
        )
    return f'"{name}"'


def table_columns(spec: EntitySpec, extra: Sequence[str] = ()) -> list[tuple[str, pa.DataType]]:
    """The raw table's columns: the catalog's (flattened), evolved text columns, bookkeeping."""
    cols = [(c.name, c.type) for c in spec.columns]
    cols += [(name, pa.string()) for name in extra]
    return cols + list(META_COLUMNS)


@dataclass(frozen=True, slots=True)
class SyncState:
    """What the warehouse remembers of an entity between runs."""

    watermark: datetime | None = None  # every change before it is loaded (incremental)
    full_started_at: datetime | None = None  # an unfinished full sync: its start,
    checkpoint_id: int | None = None  # the id up to which it committed,
    full_run_id: str | None = None  # and its generation id (stamped on every row it saw)


@dataclass(slots=True)
class RunRecord:
    """One run of one entity, as the run log (``_sync_runs``) holds it."""

    run_id: str
    entity: str
    mode: str  # full | incremental
    started_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    extracted: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    restored: int = 0  # rows marked deleted that the run brought back (also counted in updated/unchanged)
    result_count: int | None = None
    status: str = "running"
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Moves with each committed batch of a full sync (None for incremental runs)."""

    full_started_at: datetime
    last_id: int | None
    generation: str


@dataclass(slots=True)
class LoadCounts:
    """What one ``load`` did: ``inserted + updated + unchanged`` rows were staged.

    ``restored`` counts staged ids whose stored row was marked deleted and is live again (a
    false delete repaired, an undelete in the WMS); each of them is also counted as updated
    (newer ``mod_ts``) or unchanged.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    rejected: int = 0
    columns_added: list[str] = field(default_factory=list)


class Warehouse(Protocol):
    """A target the pipeline loads into (DuckDB, PostgreSQL, Oracle)."""

    kind: str

    def lock(self, entity: str) -> AbstractContextManager[None]:
        """Hold the entity for this run; raise ``ConcurrentRunError`` if another run has it."""
        ...

    def prepare(self, spec: EntitySpec, extra: Sequence[str] = ()) -> list[str]:
        """Create the raw and control tables, add missing columns; returns columns added."""
        ...

    def state(self, entity: str) -> SyncState: ...

    def start_run(self, run: RunRecord) -> None:
        """Log the run as running (and any run left running by a crash as abandoned)."""
        ...

    def load(
        self,
        spec: EntitySpec,
        batch: pa.RecordBatch,
        rejections: Sequence[Rejection],
        run: RunRecord,
        *,
        seen: str,
        checkpoint: Checkpoint | None,
    ) -> LoadCounts:
        """Stage + MERGE + quarantine + run-log counts + checkpoint, in one transaction."""
        ...

    def finish(self, spec: EntitySpec, run: RunRecord, *, watermark: datetime | None, unseen_by: str | None) -> int:
        """Mark rows generation ``unseen_by`` did not see as deleted (full), set the watermark,
        close the run log: one transaction."""
        ...

    def fail(self, run: RunRecord, error: str) -> None:
        """Close the run log as failed (its own transaction; the watermark does not move)."""
        ...

    def rows(self, entity: str) -> Iterator[dict[str, object]]:
        """The raw table's rows (for tests and reconciliation)."""
        ...

    def probe(self) -> None:
        """Prove the warehouse takes writes (a write that changes nothing); raise ``WarehouseError``."""
        ...

    def ident(self, name: str) -> str:
        """A column name quoted as this warehouse stores it."""
        ...

    def table(self, name: str) -> str:
        """A table of the warehouse's schema, qualified and quoted as this warehouse stores it."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (status, health, tests); binds in the adapter's style."""
        ...

    def close(self) -> None: ...


_CRASH_COUNTS: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Die here, like a killed process, when ``GRUPONOS_TEST_CRASH_AT`` names this point.

    ``GRUPONOS_TEST_CRASH_AT=during_merge:3`` kills the process the third time the load
    reaches ``during_merge``. Tests use it to crash a real sync run at an exact place;
    unset (always, in production) it does nothing.
    """
    wanted = os.environ.get("GRUPONOS_TEST_CRASH_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _CRASH_COUNTS[name] = _CRASH_COUNTS.get(name, 0) + 1
    if _CRASH_COUNTS[name] >= int(nth or 1):
        os._exit(86)
