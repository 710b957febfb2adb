"""PostgreSQL (psycopg 3): COPY into a temporary staging table, then MERGE (PostgreSQL ≥ 15).

A run holds a session-level advisory lock on a connection of its own, so a second run of
the same entity fails at once, and a lock held by a process that died is freed by the
server with its session.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg.rows import dict_row

from gruponos.entities import EntitySpec
from gruponos.errors import ConcurrentRunError, WarehouseError
from gruponos.quality import Rejection
from gruponos.warehouse.base import Checkpoint, LoadCounts, RunRecord, SyncState, crash_point, quote
from gruponos.warehouse.sql import POSTGRES, control_ddl, counts_sql, merge_sql, raw_ddl

__all__ = ["PostgresWarehouse"]

_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


class PostgresWarehouse:
    """Raw tables, run log and quarantine in a PostgreSQL schema."""

    kind = "postgres"

    def __init__(self, *, dsn: str, schema: str = "wms_raw") -> None:
        self._dsn = dsn
        self.schema = schema
        self._mutex = threading.RLock()
        self._db: psycopg.Connection[Any] | None = None
        with self._mutex, self._transaction("*", "prepare") as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            for ddl in control_ddl(POSTGRES, schema):
                cur.execute(ddl)

    def __repr__(self) -> str:
        return f"PostgresWarehouse(schema={self.schema!r})"  # never the DSN: it may hold a password

    def _t(self, name: str) -> str:
        return f"{quote(self.schema)}.{quote(name)}"

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self._dsn, autocommit=False, application_name="gruponos")
        except psycopg.Error as exc:
            raise WarehouseError(f"cannot connect to PostgreSQL: {_first_line(exc)}") from None
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        return conn

    def _conn(self) -> psycopg.Connection[Any]:
        """The working connection, reopened if the server closed it."""
        if self._db is None or self._db.closed or self._db.broken:
            self._db = self._connect()
        return self._db

    @contextmanager
    def lock(self, entity: str) -> Iterator[None]:
        conn = self._connect()
        conn.autocommit = True
        try:
            key = f"gruponos:{self.schema}:{entity}"
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()
            if not row or not row[0]:
                raise ConcurrentRunError(f"{entity}: another run of this entity holds its lock in schema {self.schema}")
            yield
        finally:
            conn.close()  # closing the session frees the advisory lock

    def prepare(self, spec: EntitySpec, extra: Sequence[str] = ()) -> list[str]:
        with self._mutex, self._transaction(spec.name, "prepare") as cur:
            cur.execute(raw_ddl(POSTGRES, self.schema, spec))
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                [self.schema, spec.name],
            )
            have = {r[0] for r in cur.fetchall()}
            added = [name for name in extra if name not in have]
            for name in added:
                cur.execute(f"ALTER TABLE {self._t(spec.name)} ADD COLUMN {quote(name)} TEXT")
            return added

    def state(self, entity: str) -> SyncState:
        with self._mutex, self._transaction(entity, "state") as cur:
            cur.execute(
                "SELECT watermark, full_started_at, checkpoint_id, full_run_id "
                f"FROM {self._t('_sync_state')} WHERE entity = %s",
                [entity],
            )
            row = cur.fetchone()
        return SyncState(*row) if row else SyncState()

    def start_run(self, run: RunRecord) -> None:
        with self._mutex, self._transaction(run.entity, "start") as cur:
            cur.execute(
                f"UPDATE {self._t('_sync_runs')} SET status = 'abandoned', finished_at = %s, "
                "error = 'left running by a run that died' WHERE entity = %s AND status = 'running'",
                [_now(), run.entity],
            )
            cur.execute(
                f"INSERT INTO {self._t('_sync_runs')} VALUES "
                "(%s, %s, %s, %s, %s, %s, NULL, 'running', 0, 0, 0, 0, 0, %s, NULL)",
                [run.run_id, run.entity, run.mode, run.window_start, run.window_end, run.started_at, run.result_count],
            )

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
        counts = LoadCounts(rejected=len(rejections))
        stage = quote(f"_stage_{spec.name}")
        with self._mutex, self._transaction(spec.name, "load") as cur:
            if batch.num_rows:
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {self._t(spec.name)}) ON COMMIT DELETE ROWS"
                )
                cols = ", ".join(quote(n) for n in batch.schema.names)
                buffer = io.BytesIO()
                pa_csv.write_csv(batch, buffer, _CSV)
                with cur.copy(f"COPY {stage} ({cols}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(buffer.getbuffer())
                dedup = (
                    f"(SELECT DISTINCT ON ({quote(spec.primary_key)}) {cols} FROM {stage} "
                    f"ORDER BY {quote(spec.primary_key)}, {quote(spec.replication_key)} DESC)"
                )
                crash_point("before_merge")
                cur.execute(counts_sql(self.schema, spec, dedup))
                new, newer = cur.fetchone() or (0, 0)
                now = _now()
                cur.execute(
                    merge_sql(POSTGRES, self.schema, spec, batch.schema.names, dedup),
                    [now, run.run_id, seen, seen, now, run.run_id, seen],
                )
                counts.inserted, counts.updated = int(new), int(newer)
                counts.unchanged = batch.num_rows - counts.inserted - counts.updated
                crash_point("during_merge")
            if rejections:
                cur.executemany(
                    f"INSERT INTO {self._t('_rejected')} VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        [run.run_id, spec.name, r.record_id, r.rule, r.message, r.raw.decode(), _now()]
                        for r in rejections
                    ],
                )
            cur.execute(
                f"UPDATE {self._t('_sync_runs')} SET extracted = extracted + %s, rejected = rejected + %s, "
                "inserted = inserted + %s, updated = updated + %s WHERE run_id = %s AND entity = %s",
                [
                    batch.num_rows + len(rejections),
                    len(rejections),
                    counts.inserted,
                    counts.updated,
                    run.run_id,
                    spec.name,
                ],
            )
            if checkpoint is not None:
                self._upsert_state(
                    cur,
                    spec.name,
                    run.run_id,
                    full_started_at=checkpoint.full_started_at,
                    checkpoint_id=checkpoint.last_id,
                    full_run_id=checkpoint.generation,
                )
        crash_point("after_merge")
        return counts

    def finish(self, spec: EntitySpec, run: RunRecord, *, watermark: datetime | None, unseen_by: str | None) -> int:
        deleted = 0
        with self._mutex, self._transaction(spec.name, "finish") as cur:
            if unseen_by is not None:
                cur.execute(
                    f"UPDATE {self._t(spec.name)} SET _deleted_at = %s "
                    "WHERE _seen_run IS DISTINCT FROM %s AND _deleted_at IS NULL",
                    [_now(), unseen_by],
                )
                deleted = cur.rowcount
            if watermark is not None:
                done = {"full_started_at": None, "checkpoint_id": None, "full_run_id": None} if unseen_by else {}
                self._upsert_state(cur, spec.name, run.run_id, watermark=watermark, **done)
            cur.execute(
                f"UPDATE {self._t('_sync_runs')} SET status = 'ok', finished_at = %s, deleted = %s, result_count = %s "
                "WHERE run_id = %s AND entity = %s",
                [_now(), deleted, run.result_count, run.run_id, spec.name],
            )
        return deleted

    def fail(self, run: RunRecord, error: str) -> None:
        with self._mutex, self._transaction(run.entity, "fail") as cur:
            cur.execute(
                f"UPDATE {self._t('_sync_runs')} SET status = 'failed', finished_at = %s, error = %s, "
                "result_count = %s WHERE run_id = %s AND entity = %s",
                [_now(), error[:4000], run.result_count, run.run_id, run.entity],
            )

    def ident(self, name: str) -> str:
        return quote(name)

    def table(self, name: str) -> str:
        return self._t(name)

    def probe(self) -> None:
        with self._mutex, self._transaction("warehouse", "write probe") as cur:
            cur.execute(f"UPDATE {self._t('_sync_state')} SET updated_at = updated_at WHERE 1 = 0")

    def rows(self, entity: str) -> Iterator[dict[str, Any]]:
        with self._mutex, self._conn().cursor(row_factory=dict_row) as cur:
            cur.execute(f"SELECT * FROM {self._t(entity)} ORDER BY id")
            rows = cur.fetchall()
            self._conn().commit()
        return iter(rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query with ``%s`` binds (status, tests)."""
        with self._mutex, self._transaction("*", "query") as cur:
            cur.execute(sql, list(params))
            return list(cur.fetchall())

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    # --- internals ------------------------------------------------------------------

    def _upsert_state(self, cur: psycopg.Cursor[Any], entity: str, run_id: str, **values: Any) -> None:
        cols = ", ".join(values)
        binds = ", ".join("%s" for _ in values)
        sets = ", ".join(f"{k} = excluded.{k}" for k in values)
        cur.execute(
            f"INSERT INTO {self._t('_sync_state')} (entity, last_run_id, updated_at, {cols}) "
            f"VALUES (%s, %s, %s, {binds}) ON CONFLICT (entity) DO UPDATE SET last_run_id = excluded.last_run_id, "
            f"updated_at = excluded.updated_at, {sets}",
            [entity, run_id, _now(), *values.values()],
        )

    @contextmanager
    def _transaction(self, entity: str, step: str) -> Iterator[psycopg.Cursor[Any]]:
        conn = self._conn()
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise WarehouseError(f"{entity}: {step} failed in PostgreSQL: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _now() -> datetime:
    return datetime.now(UTC)
