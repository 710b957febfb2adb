"""DuckDB's SQL: ``$b_x`` binds, its types, and the MERGE's effect as stamp / delete / insert.

The staging relation is the Arrow batch registered on the connection (no copy). DuckDB 2.0
updates wide rows slowly, so the load writes the MERGE's effect as three statements in one
transaction (:meth:`DuckDBDialect.replace_sql`), and a table that was empty when the run
started takes plain inserts (:meth:`DuckDBDialect.insert_sql`).
"""

from __future__ import annotations

from collections.abc import Sequence

from gruponos.entities import EntitySpec
from gruponos.warehouse.sql.common import Dialect

__all__ = ["DUCKDB", "RESERVED_SCHEMAS", "DuckDBDialect"]

RESERVED_SCHEMAS = frozenset({"information_schema", "pg_catalog"})  # DuckDB's system catalog


class DuckDBDialect(Dialect):
    name, label, marker = "duckdb", "DuckDB", "${}"
    # No primary key on the raw tables: an incremental load reads most of the key's index (ART)
    # into memory, which DuckDB cannot evict before a checkpoint — 44 MB of the default 112MB
    # for 5M allocations; a 2M-row table's load needed 56-72MB with it, under 40MB without
    # (test_warehouse_load.py). The ids stay unique without it: a run's batch is one row per id
    # (``latest_sql``), the extraction never repeats an id (disjoint partitions, ids at or below
    # the cursor dropped), a table that is not empty takes the MERGE's effect (anti join), and
    # dbt's ``unique`` tests on staging check it. Tables created by earlier releases keep theirs.
    raw_primary_key = False

    def fold(self, name: str) -> str:
        return name.lower()  # DuckDB compares identifiers case-insensitively, even quoted ones

    def latest_sql(self, spec: EntitySpec, stage: str) -> str:
        """The staged rows, one per id: the latest ``mod_ts`` wins."""
        return (
            f"(SELECT * FROM {stage} QUALIFY row_number() OVER (PARTITION BY "
            f"{self.ident(spec.primary_key)} ORDER BY {self.latest_first(spec)}) = 1)"
        )

    def insert_sql(self, schema: str, spec: EntitySpec, columns: Sequence[str], source: str) -> str:
        """Insert the staged rows; binds ``b_loaded_at``, ``b_run_id``, ``b_generation``."""
        data = [self.ident(c) for c in columns]
        meta = [self.ident("_loaded_at"), self.ident("_run_id"), self.ident("_seen_run")]
        return (
            f"INSERT INTO {self.table(schema, spec.name)} ({', '.join(data + meta)}) "
            f"SELECT {', '.join(f's.{c}' for c in data)}, $b_loaded_at, $b_run_id, $b_generation FROM {source} AS s"
        )

    def replace_sql(self, schema: str, spec: EntitySpec, columns: Sequence[str], source: str) -> tuple[str, str, str]:
        """The MERGE's effect as three statements (run in one transaction).

        Rows whose incoming ``mod_ts`` is older are only stamped seen (``b_generation``; a row
        marked deleted comes back with ``b_loaded_at``); rows it
        replaces (newer or equal) are deleted and inserted again (``b_loaded_at``,
        ``b_run_id``, ``b_generation``); new ids are inserted.
        """
        pk, wins = self.ident(spec.primary_key), self.wins(spec)
        target = self.table(schema, spec.name)
        seen, gone, loaded = self.ident("_seen_run"), self.ident("_deleted_at"), self.ident("_loaded_at")
        return (
            f"UPDATE {target} AS t SET {loaded} = {self.revived('t')}, {seen} = $b_generation, {gone} = NULL "
            f"FROM {source} AS s "
            f"WHERE t.{pk} = s.{pk} AND {self.loses(spec)}",
            f"DELETE FROM {target} AS t USING {source} AS s WHERE t.{pk} = s.{pk}" + (f" AND {wins}" if wins else ""),
            self.insert_sql(schema, spec, columns, source) + f" ANTI JOIN {target} AS t ON t.{pk} = s.{pk}",
        )


DUCKDB = DuckDBDialect()
