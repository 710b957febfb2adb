"""Oracle's SQL: ``:b_x`` binds, upper-case quoted names, zoned timestamps bound as UTC, the
staging global temporary table, a MERGE with one ``WHEN MATCHED`` clause, the lock table.

Names. Oracle folds unquoted names to upper case, and a name beginning with ``_`` must be
quoted. Every identifier here is validated and quoted in **upper case**
(``"WMS_RAW"."ALLOCATION"."ORDER_DTL_ID"``), so analysts and dbt-oracle can still write
``select order_dtl_id from wms_raw.allocation`` unquoted, while ``"_SEEN_RUN"``,
``"_SYNC_STATE"`` & co. are always quoted.

Types. integers → ``NUMBER(19)``; strings → ``VARCHAR2(n CHAR)`` with the catalog's
``max_length``, ``VARCHAR2(4000 CHAR)`` without one (evolved columns too), bookkeeping names
``VARCHAR2(255 CHAR)``; timestamps → ``TIMESTAMP(6) WITH TIME ZONE``; dates → ``DATE``;
flags → ``NUMBER(1)``; decimals → ``NUMBER(p,s)``; errors and raw JSON → ``CLOB``. Every
timestamp is bound as a plain UTC ``TIMESTAMP`` and turned into a ``TIMESTAMP WITH TIME
ZONE`` with ``FROM_TZ(CAST(:b AS TIMESTAMP), '+00:00')``, and read back with
``SYS_EXTRACT_UTC``: neither the session time zone nor the driver's handling of ``tzinfo``
(it drops it) can shift a value.

Staging. One global temporary table per entity, ``"_STAGE_<ENTITY>"`` with ``ON COMMIT
DELETE ROWS``: its rows are private to the session and vanish at commit or rollback, so a
load needs no DDL and no ``TRUNCATE`` (both commit implicitly in Oracle).

Merge. Oracle allows a single ``WHEN MATCHED`` clause, so "newer or equal wins" is a
``CASE`` on ``mod_ts`` per column, and ``_seen_run`` moves on every matched row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from gruponos.entities import EntitySpec
from gruponos.warehouse.base import quote
from gruponos.warehouse.sql.common import SYNC_STATE, Dialect

__all__ = ["ORACLE", "SYNC_LOCKS", "OracleDialect"]

SYNC_LOCKS = "_sync_locks"


class OracleDialect(Dialect):
    name, label, marker = "oracle", "Oracle", ":{}"
    create_table = "CREATE TABLE"  # no IF NOT EXISTS before 23ai: tables are created when the dictionary lacks them
    types: ClassVar[Mapping[str, str]] = {
        "int": "NUMBER(19)", "bool": "NUMBER(1)", "date": "DATE", "timestamp": "TIMESTAMP(6) WITH TIME ZONE",
        "decimal": "NUMBER({p},{s})", "string": "VARCHAR2({n} CHAR)", "text": "VARCHAR2(4000 CHAR)",
        "name": "VARCHAR2(255 CHAR)", "clob": "CLOB",
    }  # fmt: skip

    def ts(self, name: str) -> str:
        return f"FROM_TZ(CAST(:{name} AS TIMESTAMP), '+00:00')"

    def ts_read(self, column: str) -> str:
        return f"SYS_EXTRACT_UTC({column})"

    def ident(self, name: str) -> str:
        return quote(name.upper())

    def stored(self, name: str) -> str:
        return name.upper()

    def fold(self, name: str) -> str:
        return name.upper()

    # --- DDL -----------------------------------------------------------------------

    def create_schema_sql(self, schema: str) -> str:
        raise NotImplementedError("an Oracle schema is a user: the DBA creates it")

    def control_ddl(self, schema: str) -> dict[str, str]:
        """The shared control tables, plus the lock table (one row per entity)."""
        entity = f"{self.ident('entity')} {self.types['name']} PRIMARY KEY"
        lock = f"{self.create_table} {self.table(schema, SYNC_LOCKS)} ({entity})"
        return {**super().control_ddl(schema), SYNC_LOCKS: lock}

    def add_column_sql(self, schema: str, table: str, column: str, column_type: str, default: str = "") -> str:
        """Add a column (ORA-01430 when it exists: the adapter takes that as done)."""
        default_sql = f" DEFAULT {default}" if default else ""
        return f"ALTER TABLE {self.table(schema, table)} ADD ({self.ident(column)} {column_type}{default_sql})"

    def columns_sql(self) -> str:
        """A table's columns (none: no such table) with their types, from the data dictionary."""
        return (
            "SELECT column_name, data_type, data_precision, data_scale FROM all_tab_columns "
            "WHERE owner = :b_schema AND table_name = :b_table ORDER BY column_id"
        )

    def maintained_sql(self) -> str:
        """Whether a schema (user) belongs to Oracle itself (``SYS``, ``SYSTEM``, ``XDB``…): 'Y'."""
        return "SELECT oracle_maintained FROM all_users WHERE username = :b_schema"

    def stage(self, entity: str) -> str:
        """The name of an entity's staging table (a global temporary table)."""
        return f"_stage_{entity}"

    def stage_ddl(self, schema: str, spec: EntitySpec, extra: Sequence[str] = ()) -> str:
        cols = [f"{self.ident(n)} {t}" for n, t in self.column_defs(spec, extra, meta=False)]
        return (
            f"CREATE GLOBAL TEMPORARY TABLE {self.table(schema, self.stage(spec.name))} (\n  "
            + ",\n  ".join(cols)
            + "\n) ON COMMIT DELETE ROWS"
        )

    # --- load ----------------------------------------------------------------------

    def stage_insert_sql(
        self, schema: str, spec: EntitySpec, columns: Sequence[str], timestamps: Sequence[str] = ()
    ) -> str:
        """Array insert into the staging table; binds ``:c0…`` by position, timestamps as naive UTC."""
        binds = [self.ts(f"c{i}") if c in timestamps else f":c{i}" for i, c in enumerate(columns)]
        return (
            f"INSERT INTO {self.table(schema, self.stage(spec.name))} ({', '.join(self.ident(c) for c in columns)}) "
            f"VALUES ({', '.join(binds)})"
        )

    def latest_sql(self, schema: str, spec: EntitySpec, columns: Sequence[str]) -> str:
        """The staged rows, one per id: the one with the latest ``mod_ts``."""
        pk = self.ident(spec.primary_key)
        return (
            f"(SELECT {', '.join(self.ident(c) for c in columns)} FROM (SELECT x.*, ROW_NUMBER() OVER "
            f'(PARTITION BY x.{pk} ORDER BY {self.latest_first(spec, "x")}) AS "_RN" '
            f"FROM {self.table(schema, self.stage(spec.name))} x) "
            'WHERE "_RN" = 1)'
        )

    def merge_sql(self, schema: str, spec: EntitySpec, columns: Sequence[str], source: str) -> str:
        """MERGE the staged rows: newer-or-equal ``mod_ts`` updates, any match is seen and alive,
        new ids insert. Binds ``b_loaded_at`` (naive UTC), ``b_run_id``, ``b_generation``."""
        i = self.ident
        pk = i(spec.primary_key)
        newer = self.wins(spec) or "1 = 1"
        loaded, run, seen, gone = i("_loaded_at"), i("_run_id"), i("_seen_run"), i("_deleted_at")
        sets = [
            f"t.{i(c)} = CASE WHEN {newer} THEN s.{i(c)} ELSE t.{i(c)} END" for c in columns if c != spec.primary_key
        ]
        sets += [
            f"t.{loaded} = CASE WHEN {newer} OR t.{gone} IS NOT NULL THEN {self.ts('b_loaded_at')} ELSE t.{loaded} END",
            f"t.{run} = CASE WHEN {newer} THEN :b_run_id ELSE t.{run} END",
            f"t.{seen} = :b_generation",
            f"t.{gone} = NULL",
        ]
        data = [i(c) for c in columns]
        return (
            f"MERGE INTO {self.table(schema, spec.name)} t\n"
            f"USING {source} s\n"
            f"ON (t.{pk} = s.{pk})\n"
            f"WHEN MATCHED THEN UPDATE SET {', '.join(sets)}\n"
            f"WHEN NOT MATCHED THEN INSERT ({', '.join([*data, loaded, run, seen])}) "
            f"VALUES ({', '.join(f's.{c}' for c in data)}, {self.ts('b_loaded_at')}, :b_run_id, :b_generation)"
        )

    def upsert_state_sql(self, schema: str, columns: Sequence[str]) -> str:
        """Upsert an entity's state row (a MERGE from ``dual``: Oracle has no ON CONFLICT)."""
        i = self.ident
        names = ["last_run_id", "updated_at", *columns]
        e = i("entity")
        return (
            f"MERGE INTO {self.table(schema, SYNC_STATE)} t USING (SELECT :b_entity AS {e} FROM dual) s "
            f"ON (t.{e} = s.{e})\n"
            f"WHEN MATCHED THEN UPDATE SET {', '.join(f't.{i(c)} = {self.state_value(c)}' for c in names)}\n"
            f"WHEN NOT MATCHED THEN INSERT ({e}, {', '.join(i(c) for c in names)}) "
            f"VALUES (s.{e}, {', '.join(self.state_value(c) for c in names)})"
        )

    # --- lock and reads ------------------------------------------------------------

    def lock_sql(self, schema: str) -> tuple[str, str]:
        """Make sure the entity has a lock row (inserts only: never touches a held row), then lock
        it for the session or fail at once (ORA-00054). Both bind ``b_entity``."""
        e, locks = self.ident("entity"), self.table(schema, SYNC_LOCKS)
        ensure = (
            f"MERGE INTO {locks} t USING (SELECT :b_entity AS {e} FROM dual) s "
            f"ON (t.{e} = s.{e}) WHEN NOT MATCHED THEN INSERT ({e}) VALUES (s.{e})"
        )
        return ensure, f"SELECT {e} FROM {locks} WHERE {e} = :b_entity FOR UPDATE NOWAIT"

    def typed_rows_sql(
        self, schema: str, entity: str, columns: Sequence[tuple[str, str]], primary_key: str = "id"
    ) -> str:
        """Every row of a raw table; (column, data_type) from the dictionary, zoned timestamps as UTC."""
        select = [f"SYS_EXTRACT_UTC({quote(c)}) AS {quote(c)}" if "TIME ZONE" in t else quote(c) for c, t in columns]
        return f"SELECT {', '.join(select)} FROM {self.table(schema, entity)} ORDER BY {self.ident(primary_key)}"


ORACLE = OracleDialect()
