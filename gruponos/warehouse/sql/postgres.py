"""PostgreSQL's SQL: ``%(b_x)s`` binds (psycopg), its types, COPY staging, the standard MERGE
(PostgreSQL ≥ 15) and the advisory locks."""

from __future__ import annotations

from collections.abc import Sequence

from gruponos.entities import EntitySpec
from gruponos.warehouse.sql.common import Dialect

__all__ = ["POSTGRES", "PostgresDialect", "reserved_schema"]


def reserved_schema(schema: str) -> bool:
    """PostgreSQL keeps ``information_schema`` and every ``pg_*`` schema for itself."""
    return schema.lower() == "information_schema" or schema.lower().startswith("pg_")


class PostgresDialect(Dialect):
    name, label, marker = "postgres", "PostgreSQL", "%({})s"

    def stage(self, entity: str) -> str:
        """The session's staging table of an entity (temporary: private to the session)."""
        return self.ident(f"_stage_{entity}")

    def stage_ddl(self, schema: str, spec: EntitySpec) -> str:
        """The staging table, shaped like the raw table, emptied at every commit."""
        return (
            f"CREATE TEMP TABLE IF NOT EXISTS {self.stage(spec.name)} (LIKE {self.table(schema, spec.name)}) "
            "ON COMMIT DELETE ROWS"
        )

    def drop_stage_sql(self, spec: EntitySpec) -> str:
        """Forget the session's staging table (the next load recreates it from the raw table)."""
        return f"DROP TABLE IF EXISTS pg_temp.{self.stage(spec.name)}"

    def copy_sql(self, spec: EntitySpec, columns: Sequence[str]) -> str:
        return f"COPY {self.stage(spec.name)} ({', '.join(self.ident(c) for c in columns)}) FROM STDIN (FORMAT csv)"

    def latest_sql(self, spec: EntitySpec, columns: Sequence[str]) -> str:
        """The staged rows, one per id: the latest ``mod_ts`` wins."""
        pk = self.ident(spec.primary_key)
        return (
            f"(SELECT DISTINCT ON ({pk}) {', '.join(self.ident(c) for c in columns)} FROM {self.stage(spec.name)} "
            f"ORDER BY {pk}, {self.latest_first(spec)})"
        )

    def merge_sql(self, schema: str, spec: EntitySpec, columns: Sequence[str], source: str) -> str:
        """MERGE the staged rows: update where incoming ``mod_ts`` >= stored, stamp every match
        seen and alive, insert new ids. Binds ``b_loaded_at``, ``b_run_id``, ``b_generation``."""
        i = self.ident
        pk, wins = i(spec.primary_key), self.wins(spec)
        data = [i(c) for c in columns]
        loaded, run, seen, gone = i("_loaded_at"), i("_run_id"), i("_seen_run"), i("_deleted_at")
        sets = ", ".join(f"{c} = s.{c}" for c in data if c != pk)
        older = (
            f"WHEN MATCHED THEN UPDATE SET {loaded} = {self.revived('t')}, {seen} = %(b_generation)s, {gone} = NULL\n"
            if wins
            else ""
        )
        return (
            f"MERGE INTO {self.table(schema, spec.name)} AS t USING {source} AS s ON t.{pk} = s.{pk}\n"
            f"WHEN MATCHED{f' AND {wins}' if wins else ''} THEN UPDATE SET {sets}, "
            f"{loaded} = %(b_loaded_at)s, {run} = %(b_run_id)s, {seen} = %(b_generation)s, {gone} = NULL\n"
            f"{older}"
            f"WHEN NOT MATCHED THEN INSERT ({', '.join([*data, loaded, run, seen])}) "
            f"VALUES ({', '.join(f's.{c}' for c in data)}, %(b_loaded_at)s, %(b_run_id)s, %(b_generation)s)"
        )

    def try_lock_sql(self) -> str:
        """Take the session advisory lock named ``b_key`` if free (true), never wait."""
        return "SELECT pg_try_advisory_lock(hashtext(%(b_key)s))"

    def ddl_lock_sql(self) -> str:
        """Serialise DDL on the schema until the transaction ends (two processes creating or
        evolving one table take turns instead of failing on the catalog's unique keys)."""
        return "SELECT pg_advisory_xact_lock(hashtext(%(b_key)s))"


POSTGRES = PostgresDialect()
