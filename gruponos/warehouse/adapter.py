"""A warehouse: the target the pipeline loads into, and the load sequence every target shares.

    Warehouse             run log, sync state, checkpoint, quarantine, deletes, the order of steps
    ├── DuckDBWarehouse   stage: the Arrow batch registered on the connection; stamp/delete/insert
    ├── PostgresWarehouse stage: COPY into a temporary table; MERGE
    └── OracleWarehouse   stage: array insert into a global temporary table; MERGE

One run of one entity, as the pipeline drives it::

    with wh.lock(entity):                      # held for the whole run; a second run fails at once
        wh.prepare(spec, extra)                # create / evolve the raw table
        state = wh.state(entity)               # watermark, full-sync checkpoint
        wh.start_run(run)                      # run log row: running (a dead run's: abandoned)
        for batch, rejections in …:
            wh.load(spec, batch, rejections, run, generation=…, checkpoint=…)   # ONE transaction each
        wh.finish(spec, run, watermark=…, generation=…)                   # ONE transaction

``load`` stages the batch, MERGEs it where the incoming ``mod_ts`` is newer or equal,
quarantines rejected rows, adds the counts to the run log and moves the full-sync
checkpoint — all committed together, so a crash at any point leaves either all of it or
none of it. ``finish`` marks rows a full sync did not see as deleted, sets the watermark
and closes the run log, again together.

A subclass supplies its :class:`~gruponos.warehouse.sql.common.Dialect` (SQL text and bind
style), ``_transaction`` (one connection, commit at the end; any driver error rolls back and
becomes a ``WarehouseError`` via :meth:`Warehouse._driver_error`, retryable as its
``_classify`` says), the staging of a batch, the merge and the lock. This class never
touches a driver: it calls ``execute``/``executemany``/``fetchone``/``fetchall`` on what
``_transaction`` yields, with named binds (``b_<name>``).

Every driver message reaches a ``WarehouseError`` through :func:`describe` (one line,
:func:`gruponos.redact.redact`), never chained (``from None``): a driver error may quote a
DSN or a password.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple

import pyarrow as pa

from gruponos.entities import EntitySpec
from gruponos.errors import ConcurrentRunError, WarehouseError
from gruponos.quality import Rejection
from gruponos.redact import redact
from gruponos.warehouse.base import Checkpoint, LoadCounts, RunRecord, SyncState, crash_point, quote
from gruponos.warehouse.sql.common import LATER_COLUMNS, Dialect

__all__ = ["Fault", "Staged", "Warehouse", "describe", "first_bad_text", "stored_text"]

SCHEMA_SETTING = "GRUPONOS_WAREHOUSE__SCHEMA"
_DESCRIBE_LIMIT = 600


class Fault(NamedTuple):
    """What a driver error means: can a retry help, and a few words a person acts on."""

    retryable: bool
    kind: str  # "lost connection", "data error", "identifier or DDL error", …


@dataclass(frozen=True, slots=True)
class Staged:
    """A batch staged inside the load's transaction."""

    source: str  # SQL naming the staged rows, one per id (a table or a parenthesised query)
    refused: list[Rejection]  # rows the database refused while staging (Oracle's batch errors)


def describe(exc: BaseException) -> str:
    """A driver's message on one line, without secrets, of bounded length."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > _DESCRIBE_LIMIT:
        text = text[: _DESCRIBE_LIMIT - 1] + "…"
    return redact(text)


def stored_text(text: str) -> str:
    """Text every target can store: a NUL (PostgreSQL's text cannot hold one) spelled ``\\u0000``."""
    return text.replace("\x00", "\\u0000")


def _raw_text(raw: bytes) -> str:
    """A quarantined record's raw bytes as text: invalid UTF-8 kept visible as ``\\xNN``."""
    return stored_text(raw.decode("utf-8", "backslashreplace"))


def first_bad_text(spec: EntitySpec, batch: pa.RecordBatch) -> str | None:
    """The first value of a text column no warehouse should store (invalid UTF-8, NUL), named.

    Used only after a load failed on a data error, to say which record: the quality layer
    quarantines such values before the load, so this is the defence behind it.
    """
    ids = batch.column(spec.primary_key) if spec.primary_key in batch.schema.names else None
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        for index, value in enumerate(column.cast(pa.large_binary()).to_pylist()):
            if value is None:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                problem = "invalid UTF-8"
            else:
                if b"\x00" not in value:
                    continue
                problem = "a NUL character"
            record = ids[index].as_py() if ids is not None else None
            return f"record id {record}, field {name}: {problem} (rule encoding:{name})"
    return None


# (dialect, database, schema) whose control tables this process has made sure of
_OPENED: set[tuple[str, str, str]] = set()
_OPENED_GUARD = threading.Lock()


class Warehouse:
    """A target the pipeline loads into (DuckDB, PostgreSQL, Oracle): the protocol the pipeline
    calls, with the run log, state, checkpoint, quarantine and deletes written once."""

    kind: str
    dialect: ClassVar[Dialect]

    def __init__(self, *, schema: str) -> None:
        try:
            quote(schema)
        except WarehouseError:
            raise WarehouseError(
                f"{SCHEMA_SETTING}={schema!r} is not a plain SQL name (letters, digits and _)", retryable=False
            ) from None
        self.schema = schema
        self._held: dict[str, Any] = {}  # entity → the handle of the lock this process holds
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(schema={self.schema!r})"  # never a DSN: it may hold a password

    # --- what each dialect supplies ------------------------------------------------

    def lock(self, entity: str) -> AbstractContextManager[None]:
        """Hold the entity for this run (minutes, without blocking the run's own loads); raise
        ``ConcurrentRunError`` at once if another run has it."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @staticmethod
    def _classify(exc: BaseException) -> Fault:
        """What a driver error means (each adapter knows its driver's errors)."""
        raise NotImplementedError

    def _driver_error(self, entity: str, step: str, exc: BaseException, where: str) -> WarehouseError:
        """A driver error as the one ``WarehouseError`` to raise (``from None``)."""
        fault = self._classify(exc)
        return WarehouseError(
            f"{entity}: {step} failed{where} ({fault.kind}): {describe(exc)}", retryable=fault.retryable
        )

    def _transaction(self, entity: str, step: str) -> AbstractContextManager[Any]:
        """A cursor in one transaction: commit at the end; driver errors → ``WarehouseError``."""
        raise NotImplementedError

    def _stage(self, cur: Any, spec: EntitySpec, batch: pa.RecordBatch) -> Staged:
        """Put the batch where the merge reads it."""
        raise NotImplementedError

    def _merge(
        self, cur: Any, spec: EntitySpec, batch: pa.RecordBatch, source: str, run: RunRecord, generation: str
    ) -> tuple[int, int, int]:
        """Merge the staged rows; returns (new, newer, restored) counted before the merge."""
        counts = self._counts(cur, spec, source)
        cur.execute(
            self.dialect.merge_sql(self.schema, spec, batch.schema.names, source),
            self._bind({"b_loaded_at": _now(), "b_run_id": run.run_id, "b_generation": generation}),
        )
        return counts

    def _reserved(self, cur: Any) -> bool:
        """Whether the schema is one the database keeps for itself."""
        return False

    def _alive(self, handle: Any) -> bool:
        """Whether a held lock's session is still there (the lock is still ours)."""
        return True

    def _changed(self, cur: Any) -> int:
        """Rows the last UPDATE changed."""
        return int(cur.rowcount)

    def _bind(self, values: dict[str, Any]) -> dict[str, Any]:
        """Bind values as the driver wants them."""
        return values

    def _serialise_ddl(self, cur: Any) -> None:
        """Make concurrent DDL on the schema take turns (where the database needs it)."""

    def _create_schema(self, cur: Any) -> None:
        cur.execute(self.dialect.create_schema_sql(self.schema))

    def _create(self, cur: Any, ddl: str) -> None:
        cur.execute(ddl)

    def _add_column(self, cur: Any, table: str, column: str, column_type: str, default: str = "") -> None:
        cur.execute(self.dialect.add_column_sql(self.schema, table, column, column_type, default))

    def _prepared(self, cur: Any, spec: EntitySpec, extra: Sequence[str], added: list[str]) -> None:
        """After the raw table is ready (Oracle evolves its staging table here)."""

    def _started(self, cur: Any, run: RunRecord) -> None:
        """After the run is logged, in the same transaction."""

    def _loaded(self, counts: LoadCounts) -> None:
        """After a load committed."""

    def _ended(self, run: RunRecord) -> None:
        """After a run finished or failed."""

    # --- opening -------------------------------------------------------------------

    def _open(self, where: str) -> None:
        """Create the schema and the control tables; add the columns later releases added.

        Once per process for a database (``where``) and schema: a run opens a connection per
        entity, and the dictionary lookups cost more than the rest of a small entity's load.
        """
        key = (self.dialect.name, hashlib.sha256(where.encode()).hexdigest(), self.schema)
        with _OPENED_GUARD:
            if key in _OPENED:
                return
        self._open_schema()
        with _OPENED_GUARD:
            _OPENED.add(key)

    def _open_schema(self) -> None:
        d = self.dialect
        with self._transaction("warehouse", "connect") as cur:
            reserved = self._reserved(cur)
        if reserved:
            raise WarehouseError(
                f"{SCHEMA_SETTING}={self.schema} names a schema {d.label} keeps for itself; choose another "
                "(the default is wms_raw)",
                retryable=False,
            )
        try:
            with self._transaction("warehouse", f"create the control tables in schema {self.schema}") as cur:
                self._serialise_ddl(cur)
                self._create_schema(cur)
                for name, ddl in d.control_ddl(self.schema).items():
                    self._ensure(cur, name, ddl, [])
                for table, column, key, default in LATER_COLUMNS:
                    self._ensure(cur, table, "", [(column, d.types[key])], default)
        except WarehouseError as exc:
            if exc.retryable:
                raise
            raise WarehouseError(f"{exc} (check {SCHEMA_SETTING}={self.schema})", retryable=False) from None

    def _columns(self, cur: Any, table: str) -> set[str]:
        """The table's column names, folded (empty: no such table)."""
        d = self.dialect
        cur.execute(d.columns_sql(), self._bind({"b_schema": d.stored(self.schema), "b_table": d.stored(table)}))
        return {d.fold(str(r[0])) for r in cur.fetchall()}

    def _ensure(
        self, cur: Any, table: str, ddl: str, columns: Sequence[tuple[str, str]], default: str = ""
    ) -> list[str]:
        """Create the table if the dictionary lacks it, then add the columns it lacks; returns those added.

        Another process may create or evolve the table meanwhile: creating skips a table that
        exists and adding skips a column that exists, so both end with one table.
        """
        have = self._columns(cur, table)
        if not have and ddl:
            self._create(cur, ddl)
            have = self._columns(cur, table)
        added = []
        for column, column_type in columns:
            if self.dialect.fold(column) not in have:
                self._add_column(cur, table, column, column_type, default)
                added.append(column)
        return added

    # --- the protocol --------------------------------------------------------------

    def ident(self, name: str) -> str:
        """A column name quoted as this warehouse stores it."""
        return self.dialect.ident(name)

    def table(self, name: str) -> str:
        """A table of the warehouse's schema, qualified and quoted as this warehouse stores it."""
        return self.dialect.table(self.schema, name)

    def prepare(self, spec: EntitySpec, extra: Sequence[str] = ()) -> list[str]:
        """Create the raw table or add the columns it lacks (``extra``: evolved text columns);
        returns the columns added to an existing table."""
        d = self.dialect
        ddl = d.raw_ddl(self.schema, spec, extra)  # every name checked before anything runs
        with self._transaction(spec.name, "prepare") as cur:
            self._serialise_ddl(cur)
            added = self._ensure(cur, spec.name, ddl, d.column_defs(spec, extra))
            self._prepared(cur, spec, extra, added)
        return added

    def state(self, entity: str) -> SyncState:
        """What the warehouse remembers of the entity (empty: never synced)."""
        with self._transaction(entity, "state") as cur:
            cur.execute(self.dialect.state_sql(self.schema), self._bind({"b_entity": entity}))
            row = cur.fetchone()
        if not row:
            return SyncState()
        watermark, started, checkpoint, generation = row
        return SyncState(
            watermark=_utc(watermark),
            generation_started_at=_utc(started),
            resume_after=None if checkpoint is None else int(checkpoint),
            generation=generation,
        )

    def start_run(self, run: RunRecord) -> None:
        """Log the run as running (and any run of the entity left running by a crash as abandoned)."""
        self._check_lock(run.entity)
        d, s = self.dialect, self.schema
        with self._transaction(run.entity, "start") as cur:
            cur.execute(
                d.abandon_runs_sql(s),
                self._bind({"b_abandoned": "abandoned", "b_now": _now(), "b_error": "left running by a run that died",
                            "b_entity": run.entity, "b_running": "running"}),
            )  # fmt: skip
            cur.execute(
                d.insert_run_sql(s),
                self._bind({"b_run_id": run.run_id, "b_entity": run.entity, "b_mode": run.mode,
                            "b_window_start": run.window_start, "b_window_end": run.window_end,
                            "b_started_at": run.started_at, "b_status": "running", "b_result_count": run.result_count}),
            )  # fmt: skip
            self._started(cur, run)

    def load(
        self,
        spec: EntitySpec,
        batch: pa.RecordBatch,
        rejections: Sequence[Rejection],
        run: RunRecord,
        *,
        generation: str,
        checkpoint: Checkpoint | None,
    ) -> LoadCounts:
        """Stage + MERGE + quarantine + run-log counts + checkpoint, in one transaction."""
        self._check_lock(spec.name)
        counts = LoadCounts()
        quarantine = list(rejections)
        try:
            with self._transaction(spec.name, "load") as cur:
                if batch.num_rows:
                    staged = self._stage(cur, spec, batch)
                    quarantine += staged.refused
                    crash_point("before_merge")
                    new, newer, restored = self._merge(cur, spec, batch, staged.source, run, generation)
                    counts.inserted, counts.updated, counts.restored = int(new), int(newer), int(restored)
                    counts.unchanged = batch.num_rows - len(staged.refused) - counts.inserted - counts.updated
                    crash_point("during_merge")
                counts.rejected = len(quarantine)
                if quarantine:
                    self._quarantine(cur, spec, run, quarantine)
                cur.execute(
                    self.dialect.add_run_counts_sql(self.schema),
                    self._bind({"b_extracted": batch.num_rows + len(rejections), "b_rejected": counts.rejected,
                                "b_inserted": counts.inserted, "b_updated": counts.updated,
                                "b_restored": counts.restored, "b_run_id": run.run_id, "b_entity": spec.name}),
                )  # fmt: skip
                if checkpoint is not None:
                    self._upsert_state(
                        cur,
                        spec.name,
                        run.run_id,
                        full_started_at=checkpoint.generation_started_at,  # the columns keep their names
                        checkpoint_id=checkpoint.resume_after,
                        full_run_id=checkpoint.generation,
                    )
        except WarehouseError as exc:
            culprit = None if exc.retryable or not batch.num_rows else first_bad_text(spec, batch)
            if culprit is None:
                raise
            raise WarehouseError(f"{exc} [{culprit}]", retryable=False) from None
        crash_point("after_merge")
        self._loaded(counts)
        return counts

    def _counts(self, cur: Any, spec: EntitySpec, source: str) -> tuple[int, int, int]:
        cur.execute(self.dialect.counts_sql(self.schema, spec, source))
        new, newer, restored = cur.fetchone() or (0, 0, 0)
        return int(new), int(newer), int(restored)

    def _quarantine(self, cur: Any, spec: EntitySpec, run: RunRecord, rejections: Sequence[Rejection]) -> None:
        now = _now()
        cur.executemany(
            self.dialect.rejected_insert_sql(self.schema),
            [
                self._bind({"b_run_id": run.run_id, "b_entity": spec.name, "b_record_id": r.record_id,
                            "b_rule": stored_text(r.rule), "b_message": stored_text(r.message),
                            "b_raw_json": _raw_text(r.raw), "b_rejected_at": now})
                for r in rejections
            ],
        )  # fmt: skip

    def finish(self, spec: EntitySpec, run: RunRecord, *, watermark: datetime | None, generation: str | None) -> int:
        """Mark rows the full sync ``generation`` did not see as deleted (None: an incremental run), set the watermark,
        close the run log: one transaction. Returns the rows marked deleted."""
        self._check_lock(spec.name)
        d, s = self.dialect, self.schema
        deleted = 0
        with self._transaction(spec.name, "finish") as cur:
            if generation is not None:
                cur.execute(d.mark_deleted_sql(s, spec), self._bind({"b_now": _now(), "b_generation": generation}))
                deleted = self._changed(cur)
            if watermark is not None:
                done = {"full_started_at": None, "checkpoint_id": None, "full_run_id": None} if generation else {}
                self._upsert_state(cur, spec.name, run.run_id, watermark=watermark, **done)
            cur.execute(
                d.close_run_sql(s),
                self._bind({"b_status": "ok", "b_now": _now(), "b_deleted": deleted,
                            "b_result_count": run.result_count, "b_run_id": run.run_id, "b_entity": spec.name}),
            )  # fmt: skip
        self._ended(run)
        return deleted

    def fail(self, run: RunRecord, error: str) -> None:
        """Close the run log as failed (its own transaction; the watermark does not move)."""
        self._ended(run)
        with self._transaction(run.entity, "fail") as cur:
            cur.execute(
                self.dialect.fail_run_sql(self.schema),
                self._bind({"b_status": "failed", "b_now": _now(), "b_error": stored_text(redact(error))[:4000],
                            "b_result_count": run.result_count, "b_run_id": run.run_id, "b_entity": run.entity}),
            )  # fmt: skip

    def probe(self) -> None:
        """Prove the warehouse takes writes (a write that changes nothing); raise ``WarehouseError``."""
        with self._transaction("warehouse", "write probe") as cur:
            cur.execute(self.dialect.probe_sql(self.schema))

    def rows(self, entity: str) -> Iterator[dict[str, Any]]:
        """The raw table's rows by id (for tests and reconciliation)."""
        with self._transaction(entity, "rows") as cur:
            cur.execute(self.dialect.rows_sql(self.schema, entity))
            names = [c[0] for c in cur.description]
            fetched = cur.fetchall()
        return (dict(zip(names, r, strict=True)) for r in fetched)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (status, health, tests): binds by position, or by name (``b_…``) in a dict."""
        with self._transaction("warehouse", "query") as cur:
            cur.execute(sql, self._bind(params) if isinstance(params, dict) else list(params))
            return [tuple(r) for r in cur.fetchall()]

    # --- internals -----------------------------------------------------------------

    def _upsert_state(self, cur: Any, entity: str, run_id: str, **values: Any) -> None:
        cur.execute(
            self.dialect.upsert_state_sql(self.schema, list(values)),
            self._bind({"b_entity": entity, "b_last_run_id": run_id, "b_updated_at": _now(),
                        **{f"b_{k}": v for k, v in values.items()}}),
        )  # fmt: skip

    def _hold(self, entity: str, handle: Any) -> None:
        with self._guard:
            self._held[entity] = handle

    def _release(self, entity: str) -> None:
        with self._guard:
            self._held.pop(entity, None)

    def _check_lock(self, entity: str) -> None:
        """A run holding the entity's lock in this process must still hold it before it writes."""
        with self._guard:
            handle = self._held.get(entity)
        if handle is not None and not self._alive(handle):
            raise ConcurrentRunError(
                f"{entity}: this run lost its lock (its {self.dialect.label} session ended); "
                "another run may own the entity now"
            )


def _utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def _now() -> datetime:
    return datetime.now(UTC)
