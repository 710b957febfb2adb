"""Oracle Database / Autonomous Database through python-oracledb in thin mode.

Thin mode only (``oracledb.init_oracle_client`` is never called): no Oracle Client
libraries. TLS as Autonomous Database uses it works two ways: a full
``(description=(address=(protocol=tcps)…))`` DSN (one-way TLS, no wallet), or a TNS alias
read from ``wallet_dir`` (``config_dir`` = ``wallet_location`` = the unzipped wallet with
``tnsnames.ora`` and ``ewallet.pem``; ``wallet_password`` decrypts ``ewallet.pem``).
Secrets (password, DSN, wallet password) are registered with ``redact`` and never reach a
repr, a log line or an error message.

The SQL is in ``sql.oracle`` (names, types, staging, MERGE), the value conversion in
``oracle_values``; the sequence of a load is ``adapter.Warehouse``'s. The schema is the
user's (the DBA creates it): the adapter creates its tables when the dictionary lacks them.

Lock. ``lock(entity)`` opens a dedicated connection (outside the pool, so locks never
starve the loads) and holds ``SELECT … FROM "_SYNC_LOCKS" WHERE "ENTITY" = :e FOR UPDATE
NOWAIT`` open for the whole run: a second run gets ORA-00054 → ``ConcurrentRunError``. No
grant beyond the schema's own tables is needed (``DBMS_LOCK`` would need ``EXECUTE``), no
lease can expire under a slow run, and a run that dies releases the lock with its session.
``start_run``/``load``/``finish`` ping that session first (which also keeps it from an
idle timeout): if it is gone, the lock may be someone else's, and they raise
``ConcurrentRunError`` instead of writing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import oracledb
import pyarrow as pa

from gruponos.entities import EntitySpec
from gruponos.errors import ConcurrentRunError, WarehouseError
from gruponos.quality import Rejection
from gruponos.redact import register
from gruponos.settings import WarehouseSettings
from gruponos.warehouse.adapter import Fault, Staged, Warehouse
from gruponos.warehouse.base import RunRecord
from gruponos.warehouse.oracle_values import (
    batch_rejections,
    fetch_decimals,
    naive,
    read_value,
    stage_binds,
    stage_rows,
)
from gruponos.warehouse.sql.oracle import ORACLE

__all__ = ["OracleWarehouse", "classify"]

ORA_RESOURCE_BUSY = 54  # ORA-00054: resource busy and acquire with NOWAIT specified
ORA_NAME_IN_USE = 955  # ORA-00955: name is already used by an existing object
ORA_COLUMN_EXISTS = 1430  # ORA-01430: column being added already exists in table

_RETRY_DRIVER = {
    "DPY-4005": "no pooled connection free in time",
    "DPY-4011": "lost connection",
    "DPY-4024": "call timeout",
    "DPY-6000": "listener refused the connection",
    "DPY-6005": "cannot connect",
}
_RETRY_CODES = {
    18: "too many sessions", 20: "too many processes", 51: "timeout waiting for a resource",
    54: "resource busy", 60: "deadlock", 1013: "statement cancelled by a timeout",
    1033: "database starting up or shutting down", 1034: "database not available", 1089: "database shutting down",
    1090: "database shutting down", 3113: "lost connection", 3114: "lost connection", 3135: "lost connection",
    4021: "timeout waiting for a lock", 8177: "serialization failure", 12170: "connect timeout",
    12516: "listener has no free handler", 12519: "listener has no free handler", 12520: "listener has no free handler",
    12528: "instance blocks new connections", 12537: "lost connection", 12541: "no listener",
    12543: "host unreachable", 12547: "lost connection", 30006: "lock wait timeout",
}  # fmt: skip
_FIXED_CODES = {
    1017: "authentication failed", 28000: "account locked", 1031: "permission denied",
    1950: "permission denied (no quota on the tablespace)", 904: "identifier or DDL error",
    942: "identifier or DDL error", 955: "identifier or DDL error", 12899: "data error", 1722: "data error",
    1400: "constraint violation", 1: "constraint violation",
}  # fmt: skip


def classify(exc: BaseException) -> Fault:
    """By error code: lost sessions, shutdowns, timeouts, deadlocks and busy resources may heal;
    bad data, names, grants and credentials will not."""
    err = exc.args[0] if exc.args else None
    code = getattr(err, "code", 0) or 0
    full_code = str(getattr(err, "full_code", "") or "")
    if "certificate" in str(exc).lower():  # TLS trust is configuration, not a passing fault
        return Fault(False, "TLS certificate refused")
    if full_code in _RETRY_DRIVER:
        return Fault(True, _RETRY_DRIVER[full_code])
    if code in _RETRY_CODES:
        return Fault(True, _RETRY_CODES[code])
    if getattr(err, "isrecoverable", False):
        return Fault(True, "recoverable session error")
    if code in _FIXED_CODES:
        return Fault(False, _FIXED_CODES[code])
    if isinstance(exc, oracledb.IntegrityError):
        return Fault(False, "constraint violation")
    if isinstance(exc, oracledb.DataError):
        return Fault(False, "data error")
    return Fault(False, f"database error {full_code}".strip())


def _code(exc: oracledb.Error) -> int | None:
    err = exc.args[0] if exc.args else None
    code = getattr(err, "code", None)
    return code if isinstance(code, int) else None


@dataclass(frozen=True)
class _Credentials:
    """What opens a session; never printed."""

    dsn: str = field(repr=False)
    user: str | None
    password: str | None = field(repr=False)
    wallet_dir: str | None
    wallet_password: str | None = field(repr=False)

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"user": self.user, "password": self.password, "dsn": self.dsn}
        if self.wallet_dir:
            kwargs |= {"config_dir": self.wallet_dir, "wallet_location": self.wallet_dir}
            if self.wallet_password:
                kwargs["wallet_password"] = self.wallet_password
        return kwargs


class OracleWarehouse(Warehouse):
    """Raw tables, run log and quarantine in one Oracle schema (thin mode, pooled)."""

    kind = "oracle"
    dialect = ORACLE
    _classify = staticmethod(classify)

    def __init__(
        self,
        *,
        dsn: str,
        user: str | None,
        password: str | None,
        schema: str = "wms_raw",
        pool_max: int = 4,
        wallet_dir: str | None = None,
        wallet_password: str | None = None,
        wait_timeout_ms: int = 60_000,
    ) -> None:
        super().__init__(schema=schema)
        self.user = user
        self.pool_max = pool_max
        register(dsn, password, wallet_password)
        self._credentials = _Credentials(dsn, user, password, wallet_dir, wallet_password)
        try:
            self._pool = oracledb.create_pool(
                min=1,
                max=pool_max,
                increment=1,
                getmode=oracledb.POOL_GETMODE_TIMEDWAIT,
                wait_timeout=wait_timeout_ms,
                **self._credentials.connect_kwargs(),
            )
        except oracledb.Error as exc:
            raise self._driver_error("warehouse", "open", exc, " in Oracle") from None
        try:
            self._open(self._credentials.dsn)
        except BaseException:
            self._pool.close(force=True)
            raise

    @classmethod
    def from_settings(cls, settings: WarehouseSettings) -> OracleWarehouse:
        wallet_password = settings.wallet_password.get_secret_value() if settings.wallet_password else None
        return cls(
            dsn=settings.secret_dsn(),
            user=settings.user,
            password=settings.password.get_secret_value() if settings.password else None,
            schema=settings.db_schema,
            pool_max=settings.pool_max,
            wallet_dir=settings.wallet_dir,
            wallet_password=wallet_password,
        )

    def __repr__(self) -> str:
        return f"OracleWarehouse(user={self.user!r}, schema={self.schema!r}, pool_max={self.pool_max})"

    # --- the lock: a row lock on a session of its own ---------------------------------

    @contextmanager
    def lock(self, entity: str) -> Iterator[None]:
        try:
            conn = oracledb.connect(**self._credentials.connect_kwargs())
        except oracledb.Error as exc:
            raise self._driver_error(entity, "lock", exc, ": cannot connect to Oracle") from None
        try:
            ensure, lock = ORACLE.lock_sql(self.schema)
            with conn.cursor() as cur:
                try:
                    cur.execute(ensure, {"b_entity": entity})
                    conn.commit()
                except oracledb.IntegrityError:
                    conn.rollback()  # another session created the row first
                try:
                    cur.execute(lock, {"b_entity": entity})
                except oracledb.DatabaseError as exc:
                    if _code(exc) == ORA_RESOURCE_BUSY:
                        raise ConcurrentRunError(
                            f"{entity}: another run of this entity is loading into Oracle schema {self.schema}"
                        ) from None
                    raise
        except oracledb.Error as exc:
            _close(conn)
            raise self._driver_error(entity, "lock", exc, f" in Oracle schema {self.schema}") from None
        except BaseException:
            _close(conn)
            raise
        self._hold(entity, conn)
        try:
            yield
        finally:
            self._release(entity)
            _close(conn)

    def _alive(self, handle: Any) -> bool:
        try:
            handle.ping()
        except oracledb.Error:
            return False
        return True

    # --- dialect hooks -------------------------------------------------------------

    def _bind(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: naive(v) for k, v in values.items()}

    def _reserved(self, cur: Any) -> bool:
        cur.execute(ORACLE.maintained_sql(), {"b_schema": ORACLE.stored(self.schema)})
        row = cur.fetchone()
        return bool(row and row[0] == "Y")

    def _create_schema(self, cur: Any) -> None:
        """The schema is a user: the DBA creates it."""

    def _create(self, cur: Any, ddl: str) -> None:
        try:
            cur.execute(ddl)
        except oracledb.DatabaseError as exc:
            if _code(exc) != ORA_NAME_IN_USE:  # another process created it meanwhile
                raise

    def _add_column(self, cur: Any, table: str, column: str, column_type: str, default: str = "") -> None:
        try:
            cur.execute(ORACLE.add_column_sql(self.schema, table, column, column_type, default))
        except oracledb.DatabaseError as exc:
            if _code(exc) != ORA_COLUMN_EXISTS:  # another process added it meanwhile
                raise

    def _prepared(self, cur: Any, spec: EntitySpec, extra: Sequence[str], added: list[str]) -> None:
        stage = ORACLE.stage(spec.name)
        self._ensure(
            cur, stage, ORACLE.stage_ddl(self.schema, spec, extra), ORACLE.column_defs(spec, extra, meta=False)
        )

    def _stage(self, cur: Any, spec: EntitySpec, batch: pa.RecordBatch) -> Staged:
        columns = batch.schema.names
        timestamps, types = stage_binds(batch.schema)
        with cur.connection.cursor() as stage:  # input sizes stay with the cursor: one of its own
            stage.setinputsizes(*types)
            sql = ORACLE.stage_insert_sql(self.schema, spec, columns, timestamps)
            stage.executemany(sql, stage_rows(batch), batcherrors=True)
            refused = batch_rejections(spec, batch, stage.getbatcherrors())
        return Staged(ORACLE.latest_sql(self.schema, spec, columns), refused)

    def _quarantine(self, cur: Any, spec: EntitySpec, run: RunRecord, rejections: Sequence[Rejection]) -> None:
        with cur.connection.cursor() as quarantine:
            quarantine.setinputsizes(b_record_id=oracledb.DB_TYPE_NUMBER, b_rejected_at=oracledb.DB_TYPE_TIMESTAMP)
            super()._quarantine(quarantine, spec, run, rejections)

    @contextmanager
    def _transaction(self, entity: str, step: str) -> Iterator[Any]:
        """A pooled connection; commit once at the end, roll back and raise ``WarehouseError`` on error."""
        try:
            conn = self._pool.acquire()
        except oracledb.Error as exc:
            raise self._driver_error(entity, step, exc, f": no Oracle connection for schema {self.schema}") from None
        try:
            with conn.cursor() as cur:
                cur.outputtypehandler = fetch_decimals
                yield cur
            conn.commit()
        except oracledb.Error as exc:
            _rollback(conn)
            raise self._driver_error(entity, step, exc, f" in Oracle schema {self.schema}") from None
        except BaseException:
            _rollback(conn)
            raise
        finally:
            with suppress(oracledb.Error):
                self._pool.release(conn)

    # --- reads ---------------------------------------------------------------------

    def rows(self, entity: str) -> Iterator[dict[str, Any]]:
        with self._transaction(entity, "rows") as cur:
            cur.execute(
                ORACLE.columns_sql(), {"b_schema": ORACLE.stored(self.schema), "b_table": ORACLE.stored(entity)}
            )
            meta = [tuple(r) for r in cur.fetchall()]
            if not meta:
                raise WarehouseError(f"{entity}: no raw table {self.schema}.{entity} in Oracle", retryable=False)
            cur.execute(ORACLE.typed_rows_sql(self.schema, entity, [(m[0], m[1]) for m in meta]))
            fetched = cur.fetchall()
        names = [m[0].lower() for m in meta]
        return ({n: read_value(v, m[1], m[2], m[3]) for n, v, m in zip(names, r, meta, strict=True)} for r in fetched)

    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (status, tests); ``:name`` binds from a mapping, or ``:1`` from a sequence."""
        with self._transaction("warehouse", "query") as cur:
            cur.execute(sql, params if isinstance(params, Mapping) else list(params))
            return [tuple(r) for r in cur.fetchall()]

    def close(self) -> None:
        with self._guard:
            held, self._held = list(self._held.values()), {}
        for conn in held:
            _close(conn)
        with suppress(oracledb.Error):
            self._pool.close(force=True)


def _rollback(conn: oracledb.Connection) -> None:
    with suppress(oracledb.Error):
        conn.rollback()


def _close(conn: oracledb.Connection) -> None:
    _rollback(conn)
    with suppress(oracledb.Error):
        conn.close()
