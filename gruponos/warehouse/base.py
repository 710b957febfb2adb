"""The values that cross the line between the pipeline and a warehouse, and the name rule.

``SyncState`` (what the warehouse remembers of an entity), ``RunRecord`` (a run as the run
log holds it), ``Checkpoint`` (a full sync's progress), ``LoadCounts`` (what one load did).
The warehouse itself is ``adapter.Warehouse``.

Identifiers. Every table and column name is checked by :func:`quote` before it reaches SQL:
letters, digits and ``_``, not starting with a digit, at most 63 characters. Field names
that are not like that are the catalog's to make safe before they get here; ``quote``
refuses them with a non-retryable ``WarehouseError`` (no statement runs).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from gruponos.entities import EntitySpec
from gruponos.errors import WarehouseError

__all__ = [
    "META_COLUMNS",
    "Checkpoint",
    "LoadCounts",
    "RunRecord",
    "SyncState",
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
    """What the warehouse remembers of an entity between runs.

    The names, once: a full sync is a *generation* (its id is stamped on every row it sees, in
    ``_seen_run``; rows it did not see are marked deleted when it finishes), started at
    ``generation_started_at``; ``resume_after`` is the id up to which an unfinished one committed.
    In ``_sync_state`` they are the columns ``full_run_id``, ``full_started_at`` and
    ``checkpoint_id``.
    """

    watermark: datetime | None = None  # every change before it is loaded (incremental)
    generation_started_at: datetime | None = None  # an unfinished full sync: its start,
    resume_after: int | None = None  # the id up to which it committed,
    generation: str | None = None  # and its id


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

    generation: str
    generation_started_at: datetime
    resume_after: int | None


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
