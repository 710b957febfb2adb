"""The embedded default: a DuckDB file (``GRUPONOS_WAREHOUSE__PATH``).

The batch, registered as an Arrow relation, is the staging table (no copy); it is
registered before and unregistered after the load's transaction, so a failed statement's
error is the one raised (unregistering inside an aborted transaction would fail and hide
it). The MERGE's effect is written as stamp-seen / delete-replaced / insert
(``sql.duckdb``) in the same transaction, because DuckDB's MERGE/UPDATE of wide rows is
much slower; a table that was empty when the run started takes plain inserts.

Committed rows wait in the WAL (and in memory) until a checkpoint writes them to the file.
DuckDB's own trigger (WAL size) fires mid row group, and every checkpoint rewrites the
partial last group; here a checkpoint runs whenever a whole row group of rows has been
appended, so each group is compressed once, and when a run ends (which also lets go of the
primary key's index pages the load read). The WAL trigger stays as a backstop.

One process opens the file for writing; the entity lock is a lock of this process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import count
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from gruponos.entities import EntitySpec
from gruponos.errors import ConcurrentRunError, WarehouseError
from gruponos.redact import redact
from gruponos.warehouse.adapter import Fault, Staged, Warehouse, _now, describe
from gruponos.warehouse.base import LoadCounts, RunRecord
from gruponos.warehouse.sql.duckdb import DUCKDB, RESERVED_SCHEMAS

__all__ = ["DuckDBWarehouse", "classify"]

_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_DDL: dict[str, threading.Lock] = {}  # per file: DDL from two connections of one process conflicts
# per file: DuckDB keeps one database instance per file and process, dropped when its last
# connection closes; a connect racing that close fails ("Unique file handle conflict")
_OPEN: dict[str, threading.Lock] = {}
_STAGES = count(1)
_ROW_GROUP = 122_880  # DuckDB's row group size: checkpoint after each whole group appended
log = logging.getLogger(__name__)

_RETRYABLE: tuple[tuple[type[duckdb.Error], str], ...] = (
    (duckdb.IOException, "file or disk error"),
    (duckdb.ConnectionException, "lost connection"),
    (duckdb.TransactionException, "conflict with another transaction"),
)
_NOT_RETRYABLE: tuple[tuple[type[duckdb.Error], str], ...] = (
    (duckdb.ConversionException, "data error"),
    (duckdb.ConstraintException, "constraint violation"),
    (duckdb.OutOfRangeException, "data error"),
    (duckdb.InvalidInputException, "data error"),
    (duckdb.TypeMismatchException, "data error"),
    (duckdb.CatalogException, "identifier or DDL error"),
    (duckdb.BinderException, "identifier or DDL error"),
    (duckdb.ParserException, "identifier or DDL error"),
    (duckdb.PermissionException, "permission denied"),
    (duckdb.OutOfMemoryException, "out of memory (raise GRUPONOS_WAREHOUSE__DUCKDB_MEMORY_LIMIT)"),
)


def classify(exc: BaseException) -> Fault:
    """A lost file or a conflicting transaction may heal; bad data, names or grants will not."""
    for cls, kind in _NOT_RETRYABLE:
        if isinstance(exc, cls):
            return Fault(False, kind)
    for cls, kind in _RETRYABLE:
        if isinstance(exc, cls):
            return Fault(True, kind)
    return Fault(False, "database error")


def _ddl_lock(path: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _DDL.setdefault(path, threading.Lock())


def _open_lock(path: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _OPEN.setdefault(path, threading.Lock())


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    """A connection to the file, opened while no connection of this process closes it; a file
    whose previous instance is still being torn down (DuckDB's "Unique file handle conflict",
    seen once in a demo's 26 concurrent entities) is tried again for up to a second."""
    for attempt in range(20):
        try:
            with _open_lock(path):
                return duckdb.connect(path)
        except duckdb.Error as exc:
            if "unique file handle conflict" not in str(exc).lower() or attempt == 19:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


class DuckDBWarehouse(Warehouse):
    """Raw tables, run log and quarantine in one DuckDB file."""

    kind = "duckdb"
    dialect = DUCKDB
    _classify = staticmethod(classify)

    def __init__(self, *, path: str, schema: str = "wms_raw", memory_limit: str = "112MB") -> None:
        super().__init__(schema=schema)
        self.path = str(Path(path).resolve())
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"cannot create the folder of the DuckDB warehouse {self.path} (GRUPONOS_WAREHOUSE__PATH): {exc}"
            ) from None
        try:
            self._db = _connect(self.path)
        except duckdb.Error as exc:
            if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
                raise ConcurrentRunError(
                    f"the DuckDB warehouse {self.path} is open in another process (a sync is running?): {describe(exc)}"
                ) from None
            raise WarehouseError(f"cannot open the DuckDB warehouse {self.path}: {describe(exc)}") from None
        self._mutex = threading.RLock()  # one statement sequence at a time on this connection
        self._fresh: dict[str, bool] = {}
        self._appended = 0  # rows appended since the last checkpoint
        self._registered: list[str] = []  # Arrow relations to unregister once the transaction ended
        try:
            self._configure(memory_limit)
            with _ddl_lock(self.path):
                self._open(self._identity())
        except BaseException:
            self._close()
            raise

    def __repr__(self) -> str:
        return f"DuckDBWarehouse(path={self.path!r}, schema={self.schema!r})"

    def _identity(self) -> str:
        """The file (its inode: a file deleted and created again is another database)."""
        return f"{self.path}:{Path(self.path).stat().st_ino}"

    def _configure(self, memory_limit: str) -> None:
        # checkpoint per row group appended (``_loaded``), not after every batch's commit (the
        # WAL keeps them durable); the WAL trigger is the backstop for other write patterns.
        # DuckDB's buffer pool is capped so a sync's memory does not grow with the table; one
        # thread: a batch of 10k rows is too small to gain from two, and decoding needs the core
        try:
            self._db.execute("SET memory_limit = ?", [memory_limit])
        except duckdb.Error as exc:
            raise WarehouseError(
                f"GRUPONOS_WAREHOUSE__DUCKDB_MEMORY_LIMIT={memory_limit!r} is not a memory size DuckDB takes: "
                f"{describe(exc)}"
            ) from None
        with self._transaction("warehouse", "configure"):  # any other refusal as a WarehouseError
            for setting in ("TimeZone = 'UTC'", "enable_progress_bar = false", "checkpoint_threshold = '256MB'",
                            "threads = 1"):  # fmt: skip
                self._db.execute(f"SET {setting}")

    # --- the lock: one run per entity in this process ----------------------------------

    @contextmanager
    def lock(self, entity: str) -> Iterator[None]:
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault((self.path, entity), threading.Lock())
        if not lock.acquire(blocking=False):
            raise ConcurrentRunError(f"{entity}: another run of this entity is loading into {self.path}")
        try:
            yield
        finally:
            lock.release()

    # --- dialect hooks -------------------------------------------------------------

    def prepare(self, spec: EntitySpec, extra: Sequence[str] = ()) -> list[str]:
        with _ddl_lock(self.path):
            return super().prepare(spec, extra)

    def _reserved(self, cur: Any) -> bool:
        return self.schema.lower() in RESERVED_SCHEMAS

    def _changed(self, cur: Any) -> int:
        row = cur.fetchone()  # DuckDB answers an UPDATE with the count of rows it changed
        return int(row[0]) if row else 0

    def _started(self, cur: Any, run: RunRecord) -> None:
        row = cur.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {self.table(run.entity)})").fetchone()
        # An empty table (the first sync) takes plain inserts: a run's ids are unique (the
        # extraction guarantees it; staging's dbt `unique` tests check it), so nothing needs joining.
        self._fresh[run.run_id] = bool(row and row[0])

    def _ended(self, run: RunRecord) -> None:
        """Write the run's rows to the file (CHECKPOINT): until then they wait in memory, and so do
        the index pages the load read of a table an earlier release created with a primary key —
        each entity of an incremental sync added its own, and at 5M allocations the next
        entity's load ran out of the default memory limit."""
        self._fresh.pop(run.run_id, None)
        with self._mutex:
            self._appended = 0
            self._checkpoint()

    def _stage(self, cur: Any, spec: EntitySpec, batch: pa.RecordBatch) -> Staged:
        stage = f"_stage_{next(_STAGES)}"
        self._db.register(stage, pa.Table.from_batches([batch]))
        self._registered.append(stage)
        if pc.count_distinct(batch.column(spec.primary_key)).as_py() < batch.num_rows:
            return Staged(DUCKDB.latest_sql(spec, stage), [])
        return Staged(stage, [])

    def _merge(
        self, cur: Any, spec: EntitySpec, batch: pa.RecordBatch, source: str, run: RunRecord, generation: str
    ) -> tuple[int, int, int]:
        binds = {"b_loaded_at": _now(), "b_run_id": run.run_id, "b_generation": generation}
        columns = batch.schema.names
        if self._fresh.get(run.run_id):
            new = pc.count_distinct(batch.column(spec.primary_key)).as_py()
            cur.execute(DUCKDB.insert_sql(self.schema, spec, columns, source), binds)
            return new, 0, 0
        counts = self._counts(cur, spec, source)
        stamp, drop, insert = DUCKDB.replace_sql(self.schema, spec, columns, source)
        cur.execute(stamp, {"b_generation": generation, "b_loaded_at": binds["b_loaded_at"]})
        cur.execute(drop)
        cur.execute(insert, binds)
        return counts

    def _loaded(self, counts: LoadCounts) -> None:
        """Once a row group's worth of rows is appended, write them to the file (CHECKPOINT)."""
        with self._mutex:
            self._appended += counts.inserted + counts.updated
            if self._appended < _ROW_GROUP:
                return
            self._appended = 0
            self._checkpoint()

    def _checkpoint(self) -> None:
        try:
            self._db.execute("CHECKPOINT")
        except duckdb.Error as exc:  # another connection's transaction: the next one will do
            log.debug("checkpoint of %s skipped: %s", self.path, redact(exc))

    @contextmanager
    def _transaction(self, entity: str, step: str) -> Iterator[Any]:
        with self._mutex:
            try:
                self._db.execute("BEGIN TRANSACTION")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    with suppress(duckdb.Error):  # the error in flight is the one to raise
                        self._db.execute("ROLLBACK")
                    raise
            except duckdb.Error as exc:
                raise self._driver_error(entity, step, exc, f" in DuckDB {self.path}") from None
            finally:
                self._unregister()  # after COMMIT or ROLLBACK: it cannot fail in an aborted transaction

    def _unregister(self) -> None:
        while self._registered:
            with suppress(duckdb.Error):
                self._db.unregister(self._registered.pop())

    def close(self) -> None:
        with suppress(duckdb.Error):
            self._close()

    def _close(self) -> None:
        with _open_lock(self.path):
            self._db.close()
