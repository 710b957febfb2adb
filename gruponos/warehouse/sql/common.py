"""The SQL every warehouse shares, written once: control tables, run log, state, quarantine,
the counts before a merge and the deletes of a full sync.

A :class:`Dialect` says how its database spells names, types, binds and bound timestamps;
the dialect modules beside this one (``duckdb``, ``postgres``, ``oracle``) add what only
they do (staging, the merge) and override what they spell differently.

Binds are named ``b_<name>`` in every dialect and rendered in its driver's style: ``$b_x``
(DuckDB), ``%(b_x)s`` (psycopg), ``:b_x`` (python-oracledb). Values are always bound;
identifiers always pass :func:`gruponos.warehouse.base.quote`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import pyarrow as pa

from gruponos.entities import EntitySpec
from gruponos.warehouse.base import META_COLUMNS, quote, table_columns

__all__ = [
    "LATER_COLUMNS",
    "REJECTED",
    "RUN_COUNTS",
    "SYNC_RUNS",
    "SYNC_STATE",
    "Dialect",
]

SYNC_STATE, SYNC_RUNS, REJECTED = "_sync_state", "_sync_runs", "_rejected"
RUN_COUNTS = ("extracted", "rejected", "inserted", "updated", "restored")  # added to by every load
_META = frozenset(name for name, _ in META_COLUMNS)

# Control-table columns added after the tables were first released: (table, column, type key,
# default). Opening a warehouse adds the ones an older table lacks.
LATER_COLUMNS: tuple[tuple[str, str, str, str], ...] = ((SYNC_RUNS, "restored", "int", "0"),)


class Dialect:
    """How one database spells names, types and binds, and the statements all of them share.

    ``types`` keys: ``int bool date timestamp decimal`` (``{p}``/``{s}``), ``string``
    (``{n}``: a catalog length), ``text`` (unbounded text column), ``name`` (short text of
    the bookkeeping: ids, entity, status) and ``clob`` (long text: errors, raw JSON).
    """

    name = ""
    label = ""  # as messages name the database
    marker = ""  # a named bind in the driver's style, ``{}`` for the name
    create_table = "CREATE TABLE IF NOT EXISTS"
    raw_primary_key = True  # the raw tables declare ``PRIMARY KEY (id)``
    types: ClassVar[Mapping[str, str]] = {  # standard names DuckDB and PostgreSQL both take
        "int": "BIGINT", "bool": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMPTZ", "decimal": "DECIMAL({p},{s})",
        "string": "TEXT", "text": "TEXT", "name": "TEXT", "clob": "TEXT",
    }  # fmt: skip

    # --- spelling ------------------------------------------------------------------

    def bind(self, name: str) -> str:
        """A named bind marker (``name`` is ``b_…``)."""
        return self.marker.format(name)

    def ts(self, name: str) -> str:
        """A bound UTC timestamp, as the column stores it."""
        return self.bind(name)

    def ts_read(self, column: str) -> str:
        """A stored timestamp column, read back as UTC."""
        return column

    def ident(self, name: str) -> str:
        """A validated, quoted identifier as this database stores it."""
        return quote(name)

    def stored(self, name: str) -> str:
        """A name as the data dictionary holds it (for lookups by value)."""
        return name

    def fold(self, name: str) -> str:
        """A name as the database compares names (two names that fold alike are one column)."""
        return name

    def table(self, schema: str, name: str) -> str:
        return f"{self.ident(schema)}.{self.ident(name)}"

    def type(self, t: pa.DataType, max_length: int | None = None) -> str:
        """The column type for an Arrow type of the catalog."""
        if pa.types.is_decimal(t):
            return self.types["decimal"].format(p=t.precision, s=t.scale)
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return self.types["string"].format(n=max_length) if max_length else self.types["text"]
        for test, key in (
            (pa.types.is_boolean, "bool"),
            (pa.types.is_integer, "int"),
            (pa.types.is_date, "date"),
            (pa.types.is_timestamp, "timestamp"),
        ):
            if test(t):
                return self.types[key]
        raise TypeError(f"no {self.label} type for {t}")

    # --- DDL -----------------------------------------------------------------------

    def create_schema_sql(self, schema: str) -> str:
        return f"CREATE SCHEMA IF NOT EXISTS {self.ident(schema)}"

    def column_defs(self, spec: EntitySpec, extra: Sequence[str] = (), *, meta: bool = True) -> list[tuple[str, str]]:
        """(name, type) of the raw table (``meta=False``: without the bookkeeping columns)."""
        lengths = {c.name: c.max_length for c in spec.columns}
        out = []
        for name, t in table_columns(spec, extra):
            if name in _META:
                if meta:
                    out.append((name, self.types["name"] if pa.types.is_string(t) else self.type(t)))
                continue
            out.append((name, self.type(t, lengths.get(name))))
        return out

    def raw_ddl(self, schema: str, spec: EntitySpec, extra: Sequence[str] = ()) -> str:
        """The entity's raw table: catalog columns, evolved text columns, bookkeeping; key ``id``
        (declared where ``raw_primary_key``)."""
        cols = [
            f"{self.ident(n)} {t}" + (" NOT NULL" if n == spec.primary_key else "")
            for n, t in self.column_defs(spec, extra)
        ]
        if self.raw_primary_key:
            cols.append(f"PRIMARY KEY ({self.ident(spec.primary_key)})")
        return f"{self.create_table} {self.table(schema, spec.name)} (\n  " + ",\n  ".join(cols) + "\n)"

    def control_ddl(self, schema: str) -> dict[str, str]:
        """Control table name → its CREATE TABLE: sync state, run log, quarantine."""
        i = self.ident
        big, ts, name, text, clob = (self.types[k] for k in ("int", "timestamp", "name", "text", "clob"))

        def create(table: str, columns: list[str], key: str = "") -> str:
            return f"{self.create_table} {self.table(schema, table)} ({', '.join(columns + ([key] if key else []))})"

        later = {(t, c): f"{i(c)} {self.types[k]} DEFAULT {d}" for t, c, k, d in LATER_COLUMNS}
        return {
            SYNC_STATE: create(
                SYNC_STATE,
                [
                    f"{i('entity')} {name} PRIMARY KEY",
                    f"{i('watermark')} {ts}",
                    f"{i('full_started_at')} {ts}",
                    f"{i('checkpoint_id')} {big}",
                    f"{i('full_run_id')} {name}",
                    f"{i('last_run_id')} {name}",
                    f"{i('updated_at')} {ts}",
                ],
            ),
            SYNC_RUNS: create(
                SYNC_RUNS,
                [
                    f"{i('run_id')} {name} NOT NULL",
                    f"{i('entity')} {name} NOT NULL",
                    f"{i('mode')} {name} NOT NULL",
                    f"{i('window_start')} {ts}",
                    f"{i('window_end')} {ts}",
                    f"{i('started_at')} {ts} NOT NULL",
                    f"{i('finished_at')} {ts}",
                    f"{i('status')} {name} NOT NULL",
                    *(f"{i(c)} {big} NOT NULL" for c in ("extracted", "rejected", "inserted", "updated", "deleted")),
                    f"{i('result_count')} {big}",
                    f"{i('error')} {clob}",
                    *(sql for (t, _), sql in later.items() if t == SYNC_RUNS),
                ],
                f"PRIMARY KEY ({i('run_id')}, {i('entity')})",
            ),
            REJECTED: create(
                REJECTED,
                [
                    f"{i('run_id')} {name} NOT NULL",
                    f"{i('entity')} {name} NOT NULL",
                    f"{i('record_id')} {big}",
                    f"{i('rule')} {text} NOT NULL",
                    f"{i('message')} {clob} NOT NULL",
                    f"{i('raw_json')} {clob}",
                    f"{i('rejected_at')} {ts} NOT NULL",
                ],
            ),
        }

    def add_column_sql(self, schema: str, table: str, column: str, column_type: str, default: str = "") -> str:
        """Add a column; adding one that exists is a no-op."""
        default_sql = f" DEFAULT {default}" if default else ""
        return (
            f"ALTER TABLE {self.table(schema, table)} ADD COLUMN IF NOT EXISTS {self.ident(column)} "
            f"{column_type}{default_sql}"
        )

    def columns_sql(self) -> str:
        """A table's column names (none: no such table); binds ``b_schema``, ``b_table`` (stored spelling)."""
        return (
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = {self.bind('b_schema')} AND table_name = {self.bind('b_table')}"
        )

    # --- run log -------------------------------------------------------------------

    def _update_runs(self, schema: str, sets: Mapping[str, str], where: str) -> str:
        assigned = ", ".join(f"{self.ident(c)} = {value}" for c, value in sets.items())
        return f"UPDATE {self.table(schema, SYNC_RUNS)} SET {assigned} WHERE {where}"

    def _run_key(self) -> str:
        i, b = self.ident, self.bind
        return f"{i('run_id')} = {b('b_run_id')} AND {i('entity')} = {b('b_entity')}"

    def _closing(self, column: str) -> dict[str, str]:
        """What closing a run sets: status, end time, ``column`` (deleted or error), result count."""
        b = self.bind
        return {"status": b("b_status"), "finished_at": self.ts("b_now"), column: b(f"b_{column}"),
                "result_count": b("b_result_count")}  # fmt: skip

    def abandon_runs_sql(self, schema: str) -> str:
        """Runs of the entity left running by a process that died become abandoned."""
        i, b = self.ident, self.bind
        return self._update_runs(
            schema,
            {"status": b("b_abandoned"), "finished_at": self.ts("b_now"), "error": b("b_error")},
            f"{i('entity')} = {b('b_entity')} AND {i('status')} = {b('b_running')}",
        )

    def insert_run_sql(self, schema: str) -> str:
        """The run log row of a run that starts (counters at zero)."""
        i, b = self.ident, self.bind
        columns = {
            "run_id": b("b_run_id"),
            "entity": b("b_entity"),
            "mode": b("b_mode"),
            "window_start": self.ts("b_window_start"),
            "window_end": self.ts("b_window_end"),
            "started_at": self.ts("b_started_at"),
            "status": b("b_status"),
            **{c: "0" for c in (*RUN_COUNTS, "deleted")},
            "result_count": b("b_result_count"),
        }
        return (
            f"INSERT INTO {self.table(schema, SYNC_RUNS)} ({', '.join(i(c) for c in columns)}) "
            f"VALUES ({', '.join(columns.values())})"
        )

    def add_run_counts_sql(self, schema: str) -> str:
        """Add one load's counts (``b_extracted``, ``b_rejected``, …) to the run log row."""
        adds = {c: f"{self.ident(c)} + {self.bind(f'b_{c}')}" for c in RUN_COUNTS}
        return self._update_runs(schema, adds, self._run_key())

    def close_run_sql(self, schema: str) -> str:
        """Close the run log row as ok (``finish``)."""
        return self._update_runs(schema, self._closing("deleted"), self._run_key())

    def fail_run_sql(self, schema: str) -> str:
        """Close the run log row as failed, with the error."""
        return self._update_runs(schema, self._closing("error"), self._run_key())

    # --- state ---------------------------------------------------------------------

    def state_sql(self, schema: str) -> str:
        """An entity's watermark, full-sync start, checkpoint id and generation."""
        i = self.ident
        return (
            f"SELECT {self.ts_read(i('watermark'))}, {self.ts_read(i('full_started_at'))}, {i('checkpoint_id')}, "
            f"{i('full_run_id')} FROM {self.table(schema, SYNC_STATE)} WHERE {i('entity')} = {self.bind('b_entity')}"
        )

    def state_value(self, column: str) -> str:
        """The bound value of a state column (timestamps converted as the column stores them)."""
        timestamp = column in {"watermark", "full_started_at", "updated_at"}
        return self.ts(f"b_{column}") if timestamp else self.bind(f"b_{column}")

    def upsert_state_sql(self, schema: str, columns: Sequence[str]) -> str:
        """Upsert an entity's state row: ``last_run_id``, ``updated_at`` and ``columns``, bound as ``b_<column>``."""
        i = self.ident
        names = ["last_run_id", "updated_at", *columns]
        return (
            f"INSERT INTO {self.table(schema, SYNC_STATE)} ({i('entity')}, {', '.join(i(c) for c in names)}) "
            f"VALUES ({self.bind('b_entity')}, {', '.join(self.state_value(c) for c in names)}) "
            f"ON CONFLICT ({i('entity')}) DO UPDATE SET {', '.join(f'{i(c)} = excluded.{i(c)}' for c in names)}"
        )

    # --- rows ----------------------------------------------------------------------

    # --- which row wins ------------------------------------------------------------

    def wins(self, spec: EntitySpec) -> str | None:
        """The condition under which a staged row ``s`` replaces the stored ``t``: a newer-or-equal
        replication key; None (always) for an entity without one (a lookup read in full)."""
        if spec.replication_key is None:
            return None
        rk = self.ident(spec.replication_key)
        return f"s.{rk} >= t.{rk}"

    def loses(self, spec: EntitySpec) -> str:
        """The condition under which a staged row ``s`` is older than the stored ``t`` (only stamped
        seen); never for an entity without a replication key."""
        if spec.replication_key is None:
            return "1 = 0"
        rk = self.ident(spec.replication_key)
        return f"s.{rk} < t.{rk}"

    def changed(self, spec: EntitySpec) -> str:
        """Whether the staged row ``s`` updates the stored ``t``: a strictly newer replication key, or
        (without one) any column of the entity that differs."""
        if spec.replication_key is not None:
            rk = self.ident(spec.replication_key)
            return f"s.{rk} > t.{rk}"
        parts = [
            f"NOT (s.{c} = t.{c} OR (s.{c} IS NULL AND t.{c} IS NULL))"
            for c in (self.ident(col.name) for col in spec.columns)
            if c != self.ident(spec.primary_key)
        ]
        return "(" + " OR ".join(parts or ["1 = 0"]) + ")"

    def latest_first(self, spec: EntitySpec, alias: str = "") -> str:
        """How duplicates of one id in a batch are ordered, the one to keep first."""
        prefix = f"{alias}." if alias else ""
        if spec.replication_key is None:
            return f"{prefix}{self.ident(spec.primary_key)}"
        return f"{prefix}{self.ident(spec.replication_key)} DESC"

    def revived(self, alias: str = "") -> str:
        """``_loaded_at`` of a row only seen again (an older or equal copy): the load's time when the
        row was marked deleted (it comes back, and whoever reads new loads must see it), else as it was."""
        prefix = f"{alias}." if alias else ""
        loaded, gone = self.ident("_loaded_at"), self.ident("_deleted_at")
        return f"CASE WHEN {prefix}{gone} IS NOT NULL THEN {self.ts('b_loaded_at')} ELSE {prefix}{loaded} END"

    def counts_sql(self, schema: str, spec: EntitySpec, source: str) -> str:
        """Of the staged rows (``source``, one per id): how many are new, how many update the stored
        row (``changed``), how many bring back a row marked deleted."""
        pk, gone = self.ident(spec.primary_key), self.ident("_deleted_at")
        return (
            f"SELECT COUNT(CASE WHEN t.{pk} IS NULL THEN 1 END), "
            f"COUNT(CASE WHEN {self.changed(spec)} THEN 1 END), "
            f"COUNT(CASE WHEN t.{gone} IS NOT NULL THEN 1 END) "
            f"FROM {source} s LEFT JOIN {self.table(schema, spec.name)} t ON t.{pk} = s.{pk}"
        )

    def merge_sql(self, schema: str, spec: EntitySpec, columns: Sequence[str], source: str) -> str:
        """MERGE the staged rows (``source``, one per id): newer-or-equal ``mod_ts`` updates, every
        match is seen and alive, new ids insert. Binds ``b_loaded_at``, ``b_run_id``, ``b_generation``."""
        raise NotImplementedError

    def mark_deleted_sql(self, schema: str, spec: EntitySpec) -> str:
        """Rows the full-sync generation ``b_generation`` did not see become deleted (NULL-safe)."""
        seen, gone = self.ident("_seen_run"), self.ident("_deleted_at")
        return (
            f"UPDATE {self.table(schema, spec.name)} SET {gone} = {self.ts('b_now')} "
            f"WHERE ({seen} IS NULL OR {seen} <> {self.bind('b_generation')}) AND {gone} IS NULL"
        )

    def rejected_insert_sql(self, schema: str) -> str:
        """One quarantined record."""
        cols = ("run_id", "entity", "record_id", "rule", "message", "raw_json")
        values = [self.bind(f"b_{c}") for c in cols] + [self.ts("b_rejected_at")]
        return (
            f"INSERT INTO {self.table(schema, REJECTED)} ({', '.join(self.ident(c) for c in (*cols, 'rejected_at'))}) "
            f"VALUES ({', '.join(values)})"
        )

    def probe_sql(self, schema: str) -> str:
        """A write that changes nothing: proves the grants and that the database takes writes."""
        at = self.ident("updated_at")
        return f"UPDATE {self.table(schema, SYNC_STATE)} SET {at} = {at} WHERE 1 = 0"

    def rows_sql(self, schema: str, entity: str, primary_key: str = "id") -> str:
        """Every row of a raw table, by id."""
        return f"SELECT * FROM {self.table(schema, entity)} ORDER BY {self.ident(primary_key)}"
