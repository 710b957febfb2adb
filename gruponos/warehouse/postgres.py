"""PostgreSQL (psycopg 3): COPY into a temporary staging table, then MERGE (PostgreSQL ≥ 15).

A run holds a session-level advisory lock on a connection of its own, for as long as the
run lasts (minutes): the loads use another connection, so the lock never blocks them, a
second run of the same entity fails at once, and a lock held by a process that died is
freed by the server with its session. Before each write the run checks that its lock's
session is still alive.

Each raw table carries two indexes for the incremental dbt builds, which find the rows a
sync changed by the run that wrote them (``_run_id``) and by when a full sync found them gone
(``_deleted_at``, read in UTC as the staging views read it): created with the table, or
added to an existing one by its next load.

The DSN is checked when the adapter is built: one libpq cannot parse gives a
``WarehouseError`` that quotes nothing of it (libpq's own message quotes the part it
choked on, which may be the password).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg.conninfo import conninfo_to_dict

from gruponos.entities import EntitySpec
from gruponos.errors import ConcurrentRunError, WarehouseError
from gruponos.redact import register
from gruponos.warehouse.adapter import Fault, Staged, Warehouse, describe
from gruponos.warehouse.sql.postgres import POSTGRES, reserved_schema

__all__ = ["PostgresWarehouse", "classify"]

_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")

# The raw tables' indexes: name suffix → indexed expression (the UTC form is the one the
# staging views compute, transform/macros/cross_database.sql utc_timestamp, so the planner
# matches it).
_INDEXES = {
    "run_id": '("_run_id")',
    "deleted_at": """((cast(("_deleted_at") at time zone 'UTC' as timestamp)))""",
}

# SQLSTATE classes and codes that can heal: the connection, a conflict, resources, the server
_RETRY_CLASSES = {
    "08": "lost connection",
    "40": "serialization failure or deadlock",
    "53": "insufficient resources (too many connections?)",
    "57": "server shutting down, or statement cancelled by a timeout",
}
_RETRY_STATES = {"55P03": "lock timeout"}
_FIXED_CLASSES = {
    "22": "data error",
    "23": "constraint violation",
    "28": "authentication failed",
    "3D": "no such database",
    "3F": "no such schema",
    "42": "identifier or DDL error",
}
# libpq refuses a connection for reasons a retry cannot change (no SQLSTATE at connect time)
_REFUSALS = ("password authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied",
             "certificate")  # fmt: skip


def classify(exc: BaseException) -> Fault:
    """By SQLSTATE: connection (08), conflicts (40), resources (53), shutdown/timeouts (57),
    lock timeout (55P03) may heal; data (22), constraints (23), names and grants (42) will not."""
    state = exc.sqlstate if isinstance(exc, psycopg.Error) else None
    if state:
        if state in _RETRY_STATES:
            return Fault(True, _RETRY_STATES[state])
        if state[:2] in _RETRY_CLASSES:
            return Fault(True, _RETRY_CLASSES[state[:2]])
        if state == "42501":
            return Fault(False, "permission denied")
        return Fault(False, _FIXED_CLASSES.get(state[:2], f"database error {state}"))
    if isinstance(exc, psycopg.OperationalError):
        text = str(exc).lower()
        if any(refusal in text for refusal in _REFUSALS):
            return Fault(False, "connection refused by the server's rules")
        return Fault(True, "connection failed or lost")
    return Fault(False, "database error")


def _checked(dsn: str) -> str:
    """The DSN, if libpq reads it as written; its secrets registered with ``redact``."""
    try:
        parts = conninfo_to_dict(dsn)
    except (psycopg.Error, ValueError):  # ValueError: a '%' escape that is not UTF-8
        parts = None
    if parts is None or _misread(dsn):
        raise WarehouseError(
            "GRUPONOS_WAREHOUSE__DSN is not a connection string PostgreSQL's libpq can read as written (a space "
            "in a URI, '%' not followed by two hex digits, an unclosed '[' of an IPv6 host, an '@' or '/' in the "
            "password…): percent-encode the special characters of the password (@ %40, / %2F, space %20, % %25)",
            retryable=False,
        ) from None
    password = parts.get("password")
    register(dsn, password if isinstance(password, str) else None)
    return dsn


def _misread(dsn: str) -> bool:
    """A URI whose user information libpq would end early: an '@' or '/' left in the password makes
    libpq read the rest of it as the host, port or database — and quote it in its errors."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        return False
    rest = rest.split("?", 1)[0]
    ats = rest.count("@")
    return ats > 1 or (ats == 1 and "@" not in rest.split("/", 1)[0])


class PostgresWarehouse(Warehouse):
    """Raw tables, run log and quarantine in a PostgreSQL schema."""

    kind = "postgres"
    dialect = POSTGRES
    _classify = staticmethod(classify)

    def __init__(self, *, dsn: str, schema: str = "wms_raw") -> None:
        super().__init__(schema=schema)
        self._dsn = _checked(dsn)
        self._mutex = threading.RLock()
        self._db: psycopg.Connection[Any] | None = None
        try:
            self._open(self._dsn)
        except BaseException:
            self.close()
            raise

    def _connect(self, entity: str, step: str) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = None
        try:
            conn = psycopg.connect(self._dsn, autocommit=False, application_name="gruponos")
            conn.execute("SET TIME ZONE 'UTC'")
            conn.commit()
        except psycopg.Error as exc:
            if conn is not None:
                conn.close()
            raise self._driver_error(entity, step, exc, ": cannot connect to PostgreSQL") from None
        return conn

    def _conn(self, entity: str, step: str) -> psycopg.Connection[Any]:
        """The working connection, reopened if the server closed it."""
        if self._db is None or self._db.closed or self._db.broken:
            self._db = self._connect(entity, step)
        return self._db

    # --- the lock: a session advisory lock on a connection of its own -------------------

    @contextmanager
    def lock(self, entity: str) -> Iterator[None]:
        conn = self._connect(entity, "lock")
        try:
            conn.autocommit = True
            try:
                row = conn.execute(POSTGRES.try_lock_sql(), {"b_key": f"gruponos:{self.schema}:{entity}"}).fetchone()
            except psycopg.Error as exc:
                raise self._driver_error(entity, "lock", exc, " in PostgreSQL") from None
            if not row or not row[0]:
                raise ConcurrentRunError(f"{entity}: another run of this entity holds its lock in schema {self.schema}")
            self._hold(entity, conn)
            try:
                yield
            finally:
                self._release(entity)
        finally:
            conn.close()  # closing the session frees the advisory lock

    def _alive(self, handle: Any) -> bool:
        try:
            handle.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    # --- dialect hooks -------------------------------------------------------------

    def _reserved(self, cur: Any) -> bool:
        return reserved_schema(self.schema)

    def _serialise_ddl(self, cur: Any) -> None:
        cur.execute(POSTGRES.ddl_lock_sql(), {"b_key": f"gruponos:ddl:{self.schema}"})

    def _prepared(self, cur: Any, spec: EntitySpec, extra: Any, added: list[str]) -> None:
        # the session's staging table may have an older shape (this or another process evolved
        # the raw table since): the next load recreates it from the table as it is now
        cur.execute(POSTGRES.drop_stage_sql(spec))
        for suffix, expression in _INDEXES.items():
            name = POSTGRES.ident(f"{spec.name}__{suffix}")
            cur.execute("SELECT to_regclass(%s)", [f"{POSTGRES.ident(self.schema)}.{name}"])
            row = cur.fetchone()
            if row is None or row[0] is None:  # checked first: CREATE INDEX IF NOT EXISTS locks the table
                cur.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {self.table(spec.name)} {expression}")

    def _stage(self, cur: Any, spec: EntitySpec, batch: pa.RecordBatch) -> Staged:
        cur.execute(POSTGRES.stage_ddl(self.schema, spec))
        buffer = io.BytesIO()
        try:
            pa_csv.write_csv(batch, buffer, _CSV)
        except pa.ArrowException as exc:
            raise WarehouseError(
                f"{spec.name}: load failed in PostgreSQL (data error): {describe(exc)}", retryable=False
            ) from None
        with cur.copy(POSTGRES.copy_sql(spec, batch.schema.names)) as copy:
            copy.write(buffer.getbuffer())
        return Staged(POSTGRES.latest_sql(spec, batch.schema.names), [])

    @contextmanager
    def _transaction(self, entity: str, step: str) -> Iterator[Any]:
        with self._mutex:
            conn = self._conn(entity, step)
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                raise self._driver_error(entity, step, exc, f" in PostgreSQL schema {self.schema}") from None

    def close(self) -> None:
        if self._db is not None:
            with suppress(psycopg.Error):
                self._db.close()
