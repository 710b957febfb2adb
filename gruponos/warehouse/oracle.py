"""Oracle Database / Autonomous Database through python-oracledb in thin mode.

Thin mode only (``oracledb.init_oracle_client`` is never called): no Oracle Client
libraries. TLS as Autonomous Database uses it works two ways: a full
``(description=(address=(protocol=tcps)…))`` DSN (one-way TLS, no wallet), or a TNS alias
read from ``wallet_dir`` (``config_dir`` = ``wallet_location`` = the unzipped wallet with
``tnsnames.ora`` and ``ewallet.pem``; ``wallet_password`` decrypts ``ewallet.pem``).
Secrets (password, DSN, wallet password) never reach a repr, a log line or an error
message: messages are scrubbed before they are raised.

Names. Oracle folds unquoted names to upper case, and a name beginning with ``_`` must be
quoted. Every identifier here is validated and quoted (``base.quote``) in **upper case**:
``"WMS_RAW"."ALLOCATION"."ORDER_DTL_ID"`` — so analysts and dbt-oracle can still write
``select order_dtl_id from wms_raw.allocation`` unquoted, while ``"_SEEN_RUN"``,
``"_SYNC_STATE"`` & co. are always quoted. ``rows()`` gives lower-case keys, like the other
adapters.

Types. ``int64`` (ids, ``*_id``, counts, status) → ``NUMBER(19)``; strings →
``VARCHAR2(n CHAR)`` with the catalog's ``max_length`` (``*_key``: 255), ``VARCHAR2(4000
CHAR)`` without one (evolved columns too); ``*_ts`` → ``TIMESTAMP(6) WITH TIME ZONE``;
``*_date`` → ``DATE``; ``*_flg`` → ``NUMBER(1)``; decimals → ``NUMBER(28,8)``. Every
timestamp is bound as a plain UTC ``TIMESTAMP`` and turned into a ``TIMESTAMP WITH TIME
ZONE`` in SQL with ``FROM_TZ(CAST(:b AS TIMESTAMP), '+00:00')`` and read back with
``SYS_EXTRACT_UTC``: neither the session time zone nor the driver's handling of
``tzinfo`` (it drops it) can shift a value.

Staging. One global temporary table per entity, ``"_STAGE_<ENTITY>"`` with ``ON COMMIT
DELETE ROWS``, created (and evolved) by ``prepare``. Its rows are private to the session
and vanish at commit or rollback, so ``load`` needs no DDL and no ``TRUNCATE`` — both of
which commit implicitly in Oracle and would break the one-transaction load — and two
sessions can never see each other's staged rows. A plain table truncated per batch would
commit the half-done load at every ``TRUNCATE``.

Load. The batch is array-inserted into the staging table with
``cursor.executemany(…, batcherrors=True)`` from Python tuples built column by column
(typed with ``setinputsizes``; flags and timestamps normalised in Arrow first). Rows the
database refuses (``cursor.getbatcherrors()``: a value too large for its column, …) become
``Rejection``s (rule ``oracle:ORA-nnnnn``) and go to the quarantine with the others. Then,
in the same transaction: counts, ONE ``MERGE`` from the staged rows de-duplicated by id
(latest ``mod_ts`` wins), quarantine insert, run-log counters and the full-sync checkpoint
— one commit. Oracle allows a single ``WHEN MATCHED`` clause, so "newer or equal wins"
is a ``CASE`` on ``mod_ts`` per column, and ``_seen_run`` (the full-sync generation)
moves on every matched row; ``finish`` marks rows another generation saw last as deleted.
python-oracledb can also ingest Arrow data frames in ``executemany``; it is not used
because booleans and zoned timestamps would reach ``NUMBER(1)``/``TIMESTAMP WITH TIME
ZONE`` columns through implicit conversions we cannot pin without a live database.

Lock. ``lock(entity)`` opens a dedicated connection (outside the pool, so locks never
starve the loads) and holds ``SELECT … FROM "_SYNC_LOCKS" WHERE "ENTITY" = :e FOR UPDATE
NOWAIT`` open for the whole run: a second run gets ORA-00054 → ``ConcurrentRunError``. No
grant beyond the schema's own tables is needed (``DBMS_LOCK`` would need ``EXECUTE``), no
lease can expire under a slow run, and a run that dies releases the lock with its session.
``load``/``start_run``/``finish`` ping that session first (which also keeps it from an
idle timeout): if it is gone, the lock may be someone else's, and they raise
``ConcurrentRunError`` instead of writing.

Every statement comes from a small pure function below, so the unit tests check the SQL
without a database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import oracledb
import orjson
import pyarrow as pa

from gruponos.entities import EntitySpec
from gruponos.errors import ConcurrentRunError, WarehouseError
from gruponos.quality import Rejection
from gruponos.settings import WarehouseSettings
from gruponos.warehouse.base import (
    META_COLUMNS,
    Checkpoint,
    LoadCounts,
    RunRecord,
    SyncState,
    crash_point,
    quote,
    table_columns,
)

__all__ = [
    "OracleWarehouse",
    "column_defs",
    "control_ddl",
    "counts_sql",
    "ident",
    "merge_sql",
    "oracle_type",
    "raw_ddl",
    "stage_ddl",
    "stage_insert_sql",
]

TEXT = "VARCHAR2(4000 CHAR)"
TSTZ = "TIMESTAMP(6) WITH TIME ZONE"
NAME = "VARCHAR2(255 CHAR)"
ORA_RESOURCE_BUSY = 54  # ORA-00054: resource busy and acquire with NOWAIT specified
ORA_NAME_IN_USE = 955  # ORA-00955: name is already used by an existing object
ORA_COLUMN_EXISTS = 1430  # ORA-01430: column being added already exists in table

SYNC_STATE, SYNC_RUNS, REJECTED, SYNC_LOCKS = "_sync_state", "_sync_runs", "_rejected", "_sync_locks"
_STATE_TIMESTAMPS = frozenset({"watermark", "full_started_at", "updated_at"})
_META = frozenset(name for name, _ in META_COLUMNS)


# --- pure SQL ------------------------------------------------------------------------


def ident(name: str) -> str:
    """A validated identifier, quoted in Oracle's upper case (``_seen_run`` → ``"_SEEN_RUN"``)."""
    return quote(name.upper())


def table(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


def stage_table(entity: str) -> str:
    """The name of an entity's staging table (a global temporary table)."""
    return f"_stage_{entity}"


def ts(bind: str) -> str:
    """A bound naive-UTC timestamp as ``TIMESTAMP WITH TIME ZONE`` (UTC), whatever the session zone."""
    return f"FROM_TZ(CAST({bind} AS TIMESTAMP), '+00:00')"


def oracle_type(t: pa.DataType, max_length: int | None = None) -> str:
    """The column type for an Arrow type of the catalog."""
    if pa.types.is_decimal(t):
        return f"NUMBER({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return f"VARCHAR2({max_length} CHAR)" if max_length else TEXT
    if pa.types.is_boolean(t):
        return "NUMBER(1)"
    if pa.types.is_integer(t):
        return "NUMBER(19)"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return TSTZ
    raise TypeError(f"no Oracle type for {t}")


def column_defs(spec: EntitySpec, extra: Sequence[str] = (), *, meta: bool = True) -> list[tuple[str, str]]:
    """(name, Oracle type) of the raw table (``meta=False``: of the staging table)."""
    lengths = {c.name: c.max_length for c in spec.columns}
    out = []
    for name, t in table_columns(spec, extra):
        if name in _META and not meta:
            continue
        bookkeeping_text = name in _META and pa.types.is_string(t)
        out.append((name, NAME if bookkeeping_text else oracle_type(t, lengths.get(name))))
    return out


def raw_ddl(schema: str, spec: EntitySpec, extra: Sequence[str] = ()) -> str:
    cols = [f"{ident(n)} {t}" + (" NOT NULL" if n == spec.primary_key else "") for n, t in column_defs(spec, extra)]
    cols.append(f"PRIMARY KEY ({ident(spec.primary_key)})")
    return f"CREATE TABLE {table(schema, spec.name)} (\n  " + ",\n  ".join(cols) + "\n)"


def stage_ddl(schema: str, spec: EntitySpec, extra: Sequence[str] = ()) -> str:
    cols = [f"{ident(n)} {t}" for n, t in column_defs(spec, extra, meta=False)]
    return (
        f"CREATE GLOBAL TEMPORARY TABLE {table(schema, stage_table(spec.name))} (\n  "
        + ",\n  ".join(cols)
        + "\n) ON COMMIT DELETE ROWS"
    )


def add_column_ddl(schema: str, name: str, column: str, column_type: str) -> str:
    return f"ALTER TABLE {table(schema, name)} ADD ({ident(column)} {column_type})"


def control_ddl(schema: str) -> dict[str, str]:
    """Control table name → its CREATE TABLE (same columns as ``sql.control_ddl``, plus the lock table)."""
    big = "NUMBER(19)"
    return {
        SYNC_STATE: f"CREATE TABLE {table(schema, SYNC_STATE)} ({ident('entity')} {NAME} PRIMARY KEY, "
        f"{ident('watermark')} {TSTZ}, {ident('full_started_at')} {TSTZ}, {ident('checkpoint_id')} {big}, "
        f"{ident('full_run_id')} {NAME}, {ident('last_run_id')} {NAME}, {ident('updated_at')} {TSTZ})",
        SYNC_RUNS: f"CREATE TABLE {table(schema, SYNC_RUNS)} ({ident('run_id')} {NAME} NOT NULL, "
        f"{ident('entity')} {NAME} NOT NULL, {ident('mode')} {NAME} NOT NULL, {ident('window_start')} {TSTZ}, "
        f"{ident('window_end')} {TSTZ}, {ident('started_at')} {TSTZ} NOT NULL, {ident('finished_at')} {TSTZ}, "
        f"{ident('status')} {NAME} NOT NULL, {ident('extracted')} {big} NOT NULL, {ident('rejected')} {big} NOT NULL, "
        f"{ident('inserted')} {big} NOT NULL, {ident('updated')} {big} NOT NULL, {ident('deleted')} {big} NOT NULL, "
        f"{ident('result_count')} {big}, {ident('error')} CLOB, PRIMARY KEY ({ident('run_id')}, {ident('entity')}))",
        REJECTED: f"CREATE TABLE {table(schema, REJECTED)} ({ident('run_id')} {NAME} NOT NULL, "
        f"{ident('entity')} {NAME} NOT NULL, {ident('record_id')} {big}, {ident('rule')} {TEXT} NOT NULL, "
        f"{ident('message')} CLOB NOT NULL, {ident('raw_json')} CLOB, {ident('rejected_at')} {TSTZ} NOT NULL)",
        SYNC_LOCKS: f"CREATE TABLE {table(schema, SYNC_LOCKS)} ({ident('entity')} {NAME} PRIMARY KEY)",
    }


def columns_sql() -> str:
    """A table's columns (empty: no such table), from the data dictionary."""
    return (
        "SELECT column_name, data_type, data_precision, data_scale FROM all_tab_columns "
        "WHERE owner = :b_owner AND table_name = :b_table ORDER BY column_id"
    )


def stage_insert_sql(schema: str, spec: EntitySpec, columns: Sequence[str], timestamps: Sequence[str] = ()) -> str:
    """Array insert into the staging table; binds ``:c0…`` by position, timestamps as naive UTC."""
    binds = [ts(f":c{i}") if c in timestamps else f":c{i}" for i, c in enumerate(columns)]
    return (
        f"INSERT INTO {table(schema, stage_table(spec.name))} ({', '.join(ident(c) for c in columns)}) "
        f"VALUES ({', '.join(binds)})"
    )


def latest_staged(schema: str, spec: EntitySpec, columns: Sequence[str]) -> str:
    """The staged rows, one per id: the one with the latest ``mod_ts``."""
    pk, rk = ident(spec.primary_key), ident(spec.replication_key)
    return (
        f"SELECT {', '.join(ident(c) for c in columns)} FROM (SELECT x.*, ROW_NUMBER() OVER "
        f'(PARTITION BY x.{pk} ORDER BY x.{rk} DESC) AS "_RN" FROM {table(schema, stage_table(spec.name))} x) '
        'WHERE "_RN" = 1'
    )


def counts_sql(schema: str, spec: EntitySpec, columns: Sequence[str]) -> str:
    """How many staged ids are new, and how many carry a strictly newer ``mod_ts``."""
    pk, rk = ident(spec.primary_key), ident(spec.replication_key)
    return (
        f"SELECT COUNT(CASE WHEN t.{pk} IS NULL THEN 1 END), COUNT(CASE WHEN s.{rk} > t.{rk} THEN 1 END) "
        f"FROM ({latest_staged(schema, spec, columns)}) s LEFT JOIN {table(schema, spec.name)} t ON t.{pk} = s.{pk}"
    )


def merge_sql(schema: str, spec: EntitySpec, columns: Sequence[str]) -> str:
    """MERGE the staged rows: newer-or-equal ``mod_ts`` updates, any match is seen, new ids insert.

    Binds by name: ``b_loaded_at`` (naive UTC timestamp), ``b_run_id``, ``b_seen`` (the generation).
    """
    pk, rk = ident(spec.primary_key), ident(spec.replication_key)
    newer = f"s.{rk} >= t.{rk}"
    sets = [
        f"t.{ident(c)} = CASE WHEN {newer} THEN s.{ident(c)} ELSE t.{ident(c)} END"
        for c in columns
        if c != spec.primary_key
    ]
    sets += [
        f"""t."_LOADED_AT" = CASE WHEN {newer} THEN {ts(":b_loaded_at")} ELSE t."_LOADED_AT" END""",
        f't."_RUN_ID" = CASE WHEN {newer} THEN :b_run_id ELSE t."_RUN_ID" END',
        't."_SEEN_RUN" = :b_seen',
        't."_DELETED_AT" = NULL',
    ]
    data = [ident(c) for c in columns]
    return (
        f"MERGE INTO {table(schema, spec.name)} t\n"
        f"USING ({latest_staged(schema, spec, columns)}) s\n"
        f"ON (t.{pk} = s.{pk})\n"
        f"WHEN MATCHED THEN UPDATE SET {', '.join(sets)}\n"
        f'WHEN NOT MATCHED THEN INSERT ({", ".join(data)}, "_LOADED_AT", "_RUN_ID", "_SEEN_RUN") '
        f"VALUES ({', '.join(f's.{c}' for c in data)}, {ts(':b_loaded_at')}, :b_run_id, :b_seen)"
    )


def rejected_insert_sql(schema: str) -> str:
    """One quarantined record; binds ``:c0…:c6`` by position."""
    cols = ("run_id", "entity", "record_id", "rule", "message", "raw_json", "rejected_at")
    return (
        f"INSERT INTO {table(schema, REJECTED)} ({', '.join(ident(c) for c in cols)}) "
        f"VALUES (:c0, :c1, :c2, :c3, :c4, :c5, {ts(':c6')})"
    )


def abandon_runs_sql(schema: str) -> str:
    return (
        f"UPDATE {table(schema, SYNC_RUNS)} SET {ident('status')} = :b_abandoned, "
        f"{ident('finished_at')} = {ts(':b_now')}, {ident('error')} = :b_error "
        f"WHERE {ident('entity')} = :b_entity AND {ident('status')} = :b_running"
    )


def insert_run_sql(schema: str) -> str:
    cols = ("run_id", "entity", "mode", "window_start", "window_end", "started_at", "status", "extracted",
            "rejected", "inserted", "updated", "deleted", "result_count")  # fmt: skip
    values = (":b_run_id", ":b_entity", ":b_mode", ts(":b_window_start"), ts(":b_window_end"), ts(":b_started_at"),
              ":b_status", "0", "0", "0", "0", "0", ":b_result_count")  # fmt: skip
    return f"INSERT INTO {table(schema, SYNC_RUNS)} ({', '.join(ident(c) for c in cols)}) VALUES ({', '.join(values)})"


def _run_key() -> str:
    return f"WHERE {ident('run_id')} = :b_run_id AND {ident('entity')} = :b_entity"


def add_run_counts_sql(schema: str) -> str:
    adds = ", ".join(f"{ident(c)} = {ident(c)} + :b_{c}" for c in ("extracted", "rejected", "inserted", "updated"))
    return f"UPDATE {table(schema, SYNC_RUNS)} SET {adds} {_run_key()}"


def close_run_sql(schema: str) -> str:
    """Close the run log as ok (``finish``)."""
    return (
        f"UPDATE {table(schema, SYNC_RUNS)} SET {ident('status')} = :b_status, "
        f"{ident('finished_at')} = {ts(':b_now')}, {ident('deleted')} = :b_deleted, "
        f"{ident('result_count')} = :b_result_count {_run_key()}"
    )


def fail_run_sql(schema: str) -> str:
    return (
        f"UPDATE {table(schema, SYNC_RUNS)} SET {ident('status')} = :b_status, "
        f"{ident('finished_at')} = {ts(':b_now')}, {ident('error')} = :b_error, "
        f"{ident('result_count')} = :b_result_count {_run_key()}"
    )


def state_merge_sql(schema: str, columns: Sequence[str]) -> str:
    """Upsert an entity's state row: ``last_run_id``, ``updated_at`` and ``columns``, bound as ``:b_<column>``."""
    names = ["last_run_id", "updated_at", *columns]

    def value(c: str) -> str:
        return ts(f":b_{c}") if c in _STATE_TIMESTAMPS else f":b_{c}"

    return (
        f"MERGE INTO {table(schema, SYNC_STATE)} t USING (SELECT :b_entity AS {ident('entity')} FROM dual) s "
        f"ON (t.{ident('entity')} = s.{ident('entity')})\n"
        f"WHEN MATCHED THEN UPDATE SET {', '.join(f't.{ident(c)} = {value(c)}' for c in names)}\n"
        f"WHEN NOT MATCHED THEN INSERT ({ident('entity')}, {', '.join(ident(c) for c in names)}) "
        f"VALUES (s.{ident('entity')}, {', '.join(value(c) for c in names)})"
    )


def state_sql(schema: str) -> str:
    return (
        f"SELECT SYS_EXTRACT_UTC({ident('watermark')}), SYS_EXTRACT_UTC({ident('full_started_at')}), "
        f"{ident('checkpoint_id')}, {ident('full_run_id')} FROM {table(schema, SYNC_STATE)} "
        f"WHERE {ident('entity')} = :b_entity"
    )


def mark_deleted_sql(schema: str, spec: EntitySpec) -> str:
    """Rows the full-sync generation ``:b_unseen_by`` did not see become deleted (NULL-safe ``<>``)."""
    return (
        f'UPDATE {table(schema, spec.name)} SET "_DELETED_AT" = {ts(":b_now")} '
        """WHERE ("_SEEN_RUN" IS NULL OR "_SEEN_RUN" <> :b_unseen_by) AND "_DELETED_AT" IS NULL"""
    )


def lock_row_sql(schema: str) -> str:
    """Make sure the entity has a lock row (inserts only; never touches a held row)."""
    t = table(schema, SYNC_LOCKS)
    e = ident("entity")
    return (
        f"MERGE INTO {t} t USING (SELECT :b_entity AS {e} FROM dual) s ON (t.{e} = s.{e}) "
        f"WHEN NOT MATCHED THEN INSERT ({e}) VALUES (s.{e})"
    )


def lock_sql(schema: str) -> str:
    e = ident("entity")
    return f"SELECT {e} FROM {table(schema, SYNC_LOCKS)} WHERE {e} = :b_entity FOR UPDATE NOWAIT"


def rows_sql(schema: str, entity: str, columns: Sequence[tuple[str, str]], primary_key: str = "id") -> str:
    """Every row of a raw table; (column, data_type) from the dictionary, zoned timestamps as UTC."""
    select = [f"SYS_EXTRACT_UTC({quote(c)}) AS {quote(c)}" if "TIME ZONE" in t else quote(c) for c, t in columns]
    return f"SELECT {', '.join(select)} FROM {table(schema, entity)} ORDER BY {ident(primary_key)}"


# --- values --------------------------------------------------------------------------


def stage_binds(schema: pa.Schema) -> tuple[list[str], list[Any]]:
    """The timestamp columns, and the input type of every column, for the staging insert."""
    timestamps, types = [], []
    for f in schema:
        if pa.types.is_timestamp(f.type):
            timestamps.append(f.name)
            types.append(oracledb.DB_TYPE_TIMESTAMP)
        elif pa.types.is_date(f.type):
            types.append(oracledb.DB_TYPE_DATE)
        elif pa.types.is_integer(f.type) or pa.types.is_boolean(f.type) or pa.types.is_decimal(f.type):
            types.append(oracledb.DB_TYPE_NUMBER)
        else:
            types.append(None)  # strings: sized from the data
    return timestamps, types


def stage_rows(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    """The batch as bind tuples, built column-wise: flags as 0/1, timestamps as naive UTC."""
    columns = []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_boolean(f.type):
            col = col.cast(pa.int8())
        elif pa.types.is_timestamp(f.type):
            col = col.cast(pa.timestamp("us"))  # drops the zone, keeps the UTC wall clock
        columns.append(col.to_pylist())
    return list(zip(*columns, strict=True))


def _naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


def batch_rejections(spec: EntitySpec, batch: pa.RecordBatch, errors: Sequence[Any]) -> list[Rejection]:
    """Rows the database refused in the array insert (``cursor.getbatcherrors()``)."""
    out = []
    ids = batch.column(spec.primary_key)
    for err in errors:
        row = batch.slice(err.offset, 1).to_pylist()[0]
        record_id = ids[err.offset].as_py()
        code = err.full_code or f"ORA-{err.code:05d}"
        out.append(
            Rejection(
                record_id=record_id,
                rule=f"oracle:{code}",
                message=f"{spec.name} id {record_id}: Oracle refused the row: {err.message}",
                raw=orjson.dumps(row, default=_json_default),
            )
        )
    return out


def _ora_code(exc: oracledb.Error) -> int | None:
    err = exc.args[0] if exc.args else None
    code = getattr(err, "code", None)
    return code if isinstance(code, int) else None


def _fetch_decimals(cursor: oracledb.Cursor, metadata: oracledb.FetchInfo) -> oracledb.Var | None:
    """NUMBER(p,s) with a scale comes back as Decimal, not float."""
    if metadata.type_code is oracledb.DB_TYPE_NUMBER and (metadata.scale or 0) > 0:
        return cursor.var(Decimal, arraysize=cursor.arraysize)
    return None


def _convert(value: object, data_type: str, precision: int | None, scale: int | None) -> object:
    if value is None:
        return None
    if "TIME ZONE" in data_type and isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    if data_type == "DATE" and isinstance(value, datetime):
        return value.date()
    if data_type == "NUMBER" and precision == 1 and not scale and isinstance(value, int | Decimal):
        return bool(value)
    return value


# --- the adapter ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Secrets:
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

    def scrub(self, text: str) -> str:
        for secret in (self.password, self.wallet_password, self.dsn):
            if secret and len(secret) >= 4:  # shorter strings would garble the message, not hide a secret
                text = text.replace(secret, "***")
        return text


class OracleWarehouse:
    """Raw tables, run log and quarantine in one Oracle schema (thin mode, pooled)."""

    kind = "oracle"

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
        self.schema = schema
        self.user = user
        self.pool_max = pool_max
        self._secrets = _Secrets(dsn, user, password, wallet_dir, wallet_password)
        self._locks: dict[str, oracledb.Connection] = {}
        self._guard = threading.Lock()
        try:
            self._pool = oracledb.create_pool(
                min=1,
                max=pool_max,
                increment=1,
                getmode=oracledb.POOL_GETMODE_TIMEDWAIT,
                wait_timeout=wait_timeout_ms,
                **self._secrets.connect_kwargs(),
            )
        except oracledb.Error as exc:
            raise WarehouseError(self._secrets.scrub(f"cannot open the Oracle warehouse: {exc}")) from None
        try:
            with self._transaction("warehouse", "create control tables") as conn, conn.cursor() as cur:
                for name, ddl in control_ddl(schema).items():
                    if not self._columns(cur, name):
                        self._create(cur, ddl)
        except BaseException:
            self._pool.close(force=True)
            raise

    @classmethod
    def from_settings(cls, settings: WarehouseSettings) -> OracleWarehouse:
        if settings.dsn is None:
            raise WarehouseError("GRUPONOS_WAREHOUSE__DSN must be set for the Oracle warehouse")
        # ``wallet_password`` is read when WarehouseSettings has it (an encrypted ADB wallet needs it).
        wallet_password = getattr(settings, "wallet_password", None)
        if wallet_password is not None and hasattr(wallet_password, "get_secret_value"):
            wallet_password = wallet_password.get_secret_value()
        return cls(
            dsn=settings.dsn.get_secret_value(),
            user=settings.user,
            password=settings.password.get_secret_value() if settings.password else None,
            schema=settings.db_schema,
            pool_max=settings.pool_max,
            wallet_dir=settings.wallet_dir,
            wallet_password=wallet_password if isinstance(wallet_password, str) else None,
        )

    def __repr__(self) -> str:
        return f"OracleWarehouse(user={self.user!r}, schema={self.schema!r}, pool_max={self.pool_max})"

    # --- the protocol ---------------------------------------------------------------

    @contextmanager
    def lock(self, entity: str) -> Iterator[None]:
        try:
            conn = oracledb.connect(**self._secrets.connect_kwargs())
        except oracledb.Error as exc:
            raise WarehouseError(
                self._secrets.scrub(f"{entity}: lock failed: cannot connect to Oracle: {exc}")
            ) from None
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(lock_row_sql(self.schema), {"b_entity": entity})
                    conn.commit()
                except oracledb.IntegrityError:
                    conn.rollback()  # another session created the row first
                try:
                    cur.execute(lock_sql(self.schema), {"b_entity": entity})
                except oracledb.DatabaseError as exc:
                    if _ora_code(exc) == ORA_RESOURCE_BUSY:
                        raise ConcurrentRunError(
                            f"{entity}: another run of this entity is loading into Oracle schema {self.schema}"
                        ) from None
                    raise
        except oracledb.Error as exc:
            _close(conn)
            raise WarehouseError(self._secrets.scrub(f"{entity}: lock failed in Oracle: {exc}")) from None
        except BaseException:
            _close(conn)
            raise
        with self._guard:
            self._locks[entity] = conn
        try:
            yield
        finally:
            with self._guard:
                self._locks.pop(entity, None)
            _close(conn)

    def prepare(self, spec: EntitySpec, extra: Sequence[str] = ()) -> list[str]:
        # DDL commits by itself in Oracle; the transaction wrapper gives the same error handling
        with self._transaction(spec.name, "prepare") as conn, conn.cursor() as cur:
            added = self._ensure(cur, spec.name, raw_ddl(self.schema, spec, extra), column_defs(spec, extra))
            self._ensure(
                cur,
                stage_table(spec.name),
                stage_ddl(self.schema, spec, extra),
                column_defs(spec, extra, meta=False),
            )
        return added

    def state(self, entity: str) -> SyncState:
        with self._transaction(entity, "state") as conn, conn.cursor() as cur:
            cur.execute(state_sql(self.schema), {"b_entity": entity})
            row = cur.fetchone()
        if not row:
            return SyncState()
        watermark, started, checkpoint, generation = row
        return SyncState(
            watermark=_utc(watermark),
            full_started_at=_utc(started),
            checkpoint_id=None if checkpoint is None else int(checkpoint),
            full_run_id=generation,
        )

    def start_run(self, run: RunRecord) -> None:
        self._check_lock(run.entity)
        with self._transaction(run.entity, "start") as conn, conn.cursor() as cur:
            cur.execute(
                abandon_runs_sql(self.schema),
                {"b_abandoned": "abandoned", "b_now": _now(), "b_error": "left running by a run that died",
                 "b_entity": run.entity, "b_running": "running"},
            )  # fmt: skip
            cur.execute(
                insert_run_sql(self.schema),
                {
                    "b_run_id": run.run_id,
                    "b_entity": run.entity,
                    "b_mode": run.mode,
                    "b_window_start": _naive(run.window_start),
                    "b_window_end": _naive(run.window_end),
                    "b_started_at": _naive(run.started_at),
                    "b_status": "running",
                    "b_result_count": run.result_count,
                },
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
        counts = LoadCounts()
        quarantine = list(rejections)
        self._check_lock(spec.name)
        with self._transaction(spec.name, "load") as conn:
            if batch.num_rows:
                columns = batch.schema.names
                timestamps, types = stage_binds(batch.schema)
                with conn.cursor() as cur:
                    cur.setinputsizes(*types)
                    cur.executemany(
                        stage_insert_sql(self.schema, spec, columns, timestamps), stage_rows(batch), batcherrors=True
                    )
                    refused = batch_rejections(spec, batch, cur.getbatcherrors())
                quarantine += refused
                crash_point("before_merge")
                with conn.cursor() as cur:
                    cur.execute(counts_sql(self.schema, spec, columns))
                    new, newer = cur.fetchone() or (0, 0)
                    cur.execute(
                        merge_sql(self.schema, spec, columns),
                        {"b_loaded_at": _naive(_now()), "b_run_id": run.run_id, "b_seen": seen},
                    )
                counts.inserted, counts.updated = int(new), int(newer)
                counts.unchanged = batch.num_rows - len(refused) - counts.inserted - counts.updated
                crash_point("during_merge")
            counts.rejected = len(quarantine)
            with conn.cursor() as cur:
                if quarantine:
                    cur.setinputsizes(None, None, oracledb.DB_TYPE_NUMBER, None, None, None, oracledb.DB_TYPE_TIMESTAMP)
                    now = _naive(_now())
                    cur.executemany(
                        rejected_insert_sql(self.schema),
                        [
                            (run.run_id, spec.name, r.record_id, r.rule, r.message, r.raw.decode(), now)
                            for r in quarantine
                        ],
                    )
                cur.execute(
                    add_run_counts_sql(self.schema),
                    {
                        "b_extracted": batch.num_rows + len(rejections),
                        "b_rejected": len(quarantine),
                        "b_inserted": counts.inserted,
                        "b_updated": counts.updated,
                        "b_run_id": run.run_id,
                        "b_entity": spec.name,
                    },
                )
                if checkpoint is not None:
                    self._upsert_state(cur, spec.name, run.run_id, full_started_at=checkpoint.full_started_at,
                                       checkpoint_id=checkpoint.last_id, full_run_id=checkpoint.generation)  # fmt: skip
        crash_point("after_merge")
        return counts

    def finish(self, spec: EntitySpec, run: RunRecord, *, watermark: datetime | None, unseen_by: str | None) -> int:
        deleted = 0
        self._check_lock(spec.name)
        with self._transaction(spec.name, "finish") as conn, conn.cursor() as cur:
            if unseen_by is not None:
                cur.execute(mark_deleted_sql(self.schema, spec), {"b_now": _naive(_now()), "b_unseen_by": unseen_by})
                deleted = cur.rowcount
            if watermark is not None:
                done = {"full_started_at": None, "checkpoint_id": None, "full_run_id": None} if unseen_by else {}
                self._upsert_state(cur, spec.name, run.run_id, watermark=watermark, **done)
            cur.execute(
                close_run_sql(self.schema),
                {"b_status": "ok", "b_now": _naive(_now()), "b_deleted": deleted, "b_result_count": run.result_count,
                 "b_run_id": run.run_id, "b_entity": spec.name},
            )  # fmt: skip
        return deleted

    def fail(self, run: RunRecord, error: str) -> None:
        with self._transaction(run.entity, "fail") as conn, conn.cursor() as cur:
            cur.execute(
                fail_run_sql(self.schema),
                {"b_status": "failed", "b_now": _naive(_now()), "b_error": error[:4000],
                 "b_result_count": run.result_count, "b_run_id": run.run_id, "b_entity": run.entity},
            )  # fmt: skip

    def ident(self, name: str) -> str:
        return ident(name)

    def table(self, name: str) -> str:
        return table(self.schema, name)

    def probe(self) -> None:
        with self._transaction("warehouse", "write probe") as conn, conn.cursor() as cur:
            cur.execute(
                f"UPDATE {table(self.schema, SYNC_STATE)} SET {ident('updated_at')} = {ident('updated_at')} WHERE 1 = 0"
            )

    def rows(self, entity: str) -> Iterator[dict[str, Any]]:
        with self._transaction(entity, "rows") as conn, conn.cursor() as cur:
            meta = self._columns(cur, entity)
            if not meta:
                raise WarehouseError(f"{entity}: no raw table {self.schema}.{entity} in Oracle")
            cur.outputtypehandler = _fetch_decimals
            cur.execute(rows_sql(self.schema, entity, [(m[0], m[1]) for m in meta]))
            fetched = cur.fetchall()
        names = [m[0].lower() for m in meta]
        return ({n: _convert(v, m[1], m[2], m[3]) for n, v, m in zip(names, r, meta, strict=True)} for r in fetched)

    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (status, tests)."""
        with self._transaction("warehouse", "query") as conn, conn.cursor() as cur:
            cur.outputtypehandler = _fetch_decimals
            cur.execute(sql, params if isinstance(params, Mapping) else list(params))
            return list(cur.fetchall())

    def close(self) -> None:
        with self._guard:
            held, self._locks = list(self._locks.values()), {}
        for conn in held:
            _close(conn)
        with suppress(oracledb.Error):
            self._pool.close(force=True)

    # --- internals ------------------------------------------------------------------

    def _check_lock(self, entity: str) -> None:
        """A run holding the entity's lock must still hold it (its session is alive)."""
        with self._guard:
            conn = self._locks.get(entity)
        if conn is None:
            return
        try:
            conn.ping()
        except oracledb.Error:
            raise ConcurrentRunError(
                f"{entity}: this run lost its lock (its Oracle session ended); another run may own the entity now"
            ) from None

    def _upsert_state(self, cur: oracledb.Cursor, entity: str, run_id: str, **values: Any) -> None:
        binds = {f"b_{k}": _naive(v) if isinstance(v, datetime) else v for k, v in values.items()}
        cur.execute(
            state_merge_sql(self.schema, list(values)),
            {"b_entity": entity, "b_last_run_id": run_id, "b_updated_at": _naive(_now()), **binds},
        )

    def _columns(self, cur: oracledb.Cursor, name: str) -> list[tuple[str, str, int | None, int | None]]:
        cur.execute(columns_sql(), {"b_owner": self.schema.upper(), "b_table": name.upper()})
        return [tuple(r) for r in cur.fetchall()]

    def _create(self, cur: oracledb.Cursor, ddl: str) -> None:
        try:
            cur.execute(ddl)
        except oracledb.DatabaseError as exc:
            if _ora_code(exc) != ORA_NAME_IN_USE:  # another process created it meanwhile
                raise

    def _ensure(self, cur: oracledb.Cursor, name: str, ddl: str, columns: Sequence[tuple[str, str]]) -> list[str]:
        """Create the table, or add the columns it lacks; returns the columns added."""
        have = {m[0] for m in self._columns(cur, name)}
        if not have:
            self._create(cur, ddl)
            return []
        added = []
        for column, column_type in columns:
            if column.upper() in have:
                continue
            try:
                cur.execute(add_column_ddl(self.schema, name, column, column_type))
            except oracledb.DatabaseError as exc:
                if _ora_code(exc) != ORA_COLUMN_EXISTS:
                    raise
            added.append(column)
        return added

    @contextmanager
    def _transaction(self, entity: str, step: str) -> Iterator[oracledb.Connection]:
        """A pooled connection; commit once at the end, roll back and raise ``WarehouseError`` on error."""
        try:
            conn = self._pool.acquire()
        except oracledb.Error as exc:
            raise WarehouseError(
                self._secrets.scrub(f"{entity}: {step} failed: no Oracle connection for schema {self.schema}: {exc}")
            ) from None
        try:
            yield conn
            conn.commit()
        except oracledb.Error as exc:
            _rollback(conn)
            raise WarehouseError(
                self._secrets.scrub(f"{entity}: {step} failed in Oracle schema {self.schema}: {exc}")
            ) from None
        except BaseException:
            _rollback(conn)
            raise
        finally:
            with suppress(oracledb.Error):
                self._pool.release(conn)


def _rollback(conn: oracledb.Connection) -> None:
    with suppress(oracledb.Error):
        conn.rollback()


def _close(conn: oracledb.Connection) -> None:
    _rollback(conn)
    with suppress(oracledb.Error):
        conn.close()


def _utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def _now() -> datetime:
    return datetime.now(UTC)
