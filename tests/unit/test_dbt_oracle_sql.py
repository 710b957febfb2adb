"""The dbt project compiled for the ``oracle`` target without a database: dbt-oracle runs
``dbt compile`` with ``--no-populate-cache --no-introspect`` and a database name in the
profile (otherwise it asks the server for it), and the DSN points at a closed port, so any
attempt to connect fails the compile. Every compiled model, snapshot and test must then
parse as Oracle SQL and avoid what Oracle rejects or reads differently.

Incremental models ask the adapter whether their table exists (``is_incremental()``) and,
when it does, for its columns. With no database, the adapter's two introspection calls are
answered here: "no table" compiles every model's full build; "a table with the documented
columns" compiles the incremental build of the incremental models, which is checked too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlglot
from dbt.adapters.base.relation import BaseRelation
from dbt.adapters.oracle.column import OracleColumn
from dbt.adapters.oracle.impl import OracleAdapter
from dbt.adapters.oracle.keyword_catalog import RESERVED_KEYWORDS
from sqlglot import exp

from gruponos import dbt_runner
from gruponos import settings as settings_module
from tests.specs import INCREMENTAL_MODELS

# dbt-oracle's list glues two words together ("ACCESS" "ELSE"): add them back
RESERVED = {w.upper() for w in RESERVED_KEYWORDS} | {"ACCESS", "ELSE", "LEVEL", "USER", "DATE", "SIZE", "UID"}
ORACLE_MAX_IDENTIFIER = 30  # 12.1 and older; 12.2+ allows 128


def oracle_settings() -> settings_module.Settings:
    """An Oracle warehouse on a closed port: any attempt to connect fails the compile."""
    return settings_module.load(
        env="local",
        warehouse={"kind": "oracle", "dsn": "127.0.0.1:9/nowhere", "user": "gruponos", "password": "unused"},
    )


def compile_for_oracle(work: Path, *, tables: dict[str, list[str]] | None) -> dict[str, Any]:
    """``dbt compile --target oracle``; ``tables``: the relations (and their columns) that exist."""
    cfg = oracle_settings()

    def get_relation(self: OracleAdapter, database: str, schema: str, identifier: str) -> BaseRelation | None:
        if tables is None or identifier.lower() not in tables:
            return None
        return self.Relation.create(database=database, schema=schema, identifier=identifier, type="table")

    def get_columns_in_relation(self: OracleAdapter, relation: BaseRelation) -> list[OracleColumn]:
        assert tables is not None
        return [OracleColumn(column=name.upper(), dtype="NUMBER") for name in tables[str(relation.identifier).lower()]]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRUPONOS_DBT__ORACLE_DATABASE", "GRUPONOS")
        mp.setattr(OracleAdapter, "get_relation", get_relation)
        mp.setattr(OracleAdapter, "get_columns_in_relation", get_columns_in_relation)
        result = dbt_runner.invoke(
            ["compile", "--no-populate-cache", "--no-introspect"],
            cfg,
            target_path=work / "target",
            log_path=work / "logs",
        )
    assert result.success, result.exception
    manifest: dict[str, Any] = orjson.loads((work / "target" / "manifest.json").read_bytes())
    return manifest


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt_oracle")


@pytest.fixture(scope="module")
def manifest(work: Path) -> dict[str, Any]:
    return compile_for_oracle(work, tables=None)


@pytest.fixture(scope="module")
def incremental_manifest(manifest: dict[str, Any], work: Path) -> dict[str, Any]:
    tables = {
        n["name"]: list(n["columns"])
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental"
    }
    return compile_for_oracle(work, tables=tables)  # same folder: dbt parses the project once


def compiled(manifest: dict[str, Any], *types: str) -> dict[str, str]:
    return {
        n["name"]: n["compiled_code"]
        for n in manifest["nodes"].values()
        if n["resource_type"] in types and n.get("compiled_code")
    }


def nodes_of(kind: str, manifest: dict[str, Any], incremental_manifest: dict[str, Any]) -> dict[str, str]:
    if kind != "incremental model":
        return compiled(manifest, kind)
    return {
        name: sql
        for name, sql in compiled(incremental_manifest, "model").items()
        if "incremental_marks" in sql  # the incremental branch reads its window
    }


def test_incremental_models_compile_their_incremental_build_for_oracle(incremental_manifest: dict[str, Any]) -> None:
    incremental = compiled(incremental_manifest, "model")
    expected = set(INCREMENTAL_MODELS)
    assert {name for name, sql in incremental.items() if "incremental_marks" in sql} == expected
    for name in expected:  # the tombstone branch names every documented column
        assert "1 as dbt_tombstone" in incremental[name], name


def test_every_model_snapshot_and_test_compiles_for_oracle(manifest: dict[str, Any]) -> None:
    assert manifest["metadata"]["adapter_type"] == "oracle"
    models = compiled(manifest, "model")
    assert {"fct_allocation_performance", "fct_order_fulfillment", "dim_items", "stg_wms__allocation"} <= set(models)
    assert len(compiled(manifest, "snapshot")) == 2
    assert len(compiled(manifest, "test")) > 100


@pytest.mark.parametrize("kind", ["model", "snapshot", "test", "incremental model"])
def test_compiled_sql_parses_as_oracle(
    manifest: dict[str, Any], incremental_manifest: dict[str, Any], kind: str
) -> None:
    failures = {}
    for name, sql in nodes_of(kind, manifest, incremental_manifest).items():
        try:
            sqlglot.parse(sql, read="oracle")
        except sqlglot.errors.ParseError as exc:
            failures[name] = str(exc)[:300]
    assert not failures, failures


@pytest.mark.parametrize("kind", ["model", "snapshot", "test", "incremental model"])
def test_compiled_sql_avoids_what_oracle_rejects(
    manifest: dict[str, Any], incremental_manifest: dict[str, Any], kind: str
) -> None:
    problems: list[str] = []
    for name, sql in nodes_of(kind, manifest, incremental_manifest).items():
        text = re.sub(r"--[^\n]*", "", sql)
        if re.search(r"\b(from|join)\s+[\w.\"]+\s+as\s+\w+", text, re.IGNORECASE):
            problems.append(f"{name}: AS before a table alias")
        if "::" in text:
            problems.append(f"{name}: :: cast")
        for statement in sqlglot.parse(sql, read="oracle"):
            if statement is None:
                continue
            if any(lit.is_string and lit.this == "" for lit in statement.find_all(exp.Literal)):
                problems.append(f"{name}: '' (NULL on Oracle)")
            if any(True for _ in statement.find_all(exp.Boolean)):
                problems.append(f"{name}: boolean literal")
            if any(True for _ in statement.find_all(exp.Limit)):
                problems.append(f"{name}: LIMIT")
            if any(True for _ in statement.find_all(exp.Filter)):
                problems.append(f"{name}: aggregate FILTER clause")
            for group in statement.find_all(exp.Group):
                if any(isinstance(e, exp.Literal) for e in group.expressions):
                    problems.append(f"{name}: GROUP BY position")
    assert not problems, problems


def test_model_and_column_names_suit_oracle(manifest: dict[str, Any]) -> None:
    problems = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "snapshot", "seed"):
            continue
        names = [node["name"], *node["columns"]]
        assert len(node["columns"]) > 1, f"{node['name']} documents no columns"
        for name in names:
            if len(name) > ORACLE_MAX_IDENTIFIER:
                problems.append(f"{name}: longer than {ORACLE_MAX_IDENTIFIER}")
            if name.upper() in RESERVED:
                problems.append(f"{node['name']}.{name}: Oracle reserved word")
    assert not problems, problems


def test_raw_columns_oracle_cannot_read_unquoted_are_quoted_upper_case(manifest: dict[str, Any]) -> None:
    staging = compiled(manifest, "model")
    for name, sql in staging.items():
        if not name.startswith("stg_wms__"):
            continue
        assert 'sys_extract_utc("_DELETED_AT") as deleted_at' in sql, name
        assert 'sys_extract_utc("_LOADED_AT") as loaded_at' in sql, name
        assert '"_RUN_ID" as sync_run_id' in sql, name
        assert not re.search(r"(?<![\"\w])_(loaded|deleted)_at\b|(?<![\"\w])_run_id\b", sql), name
    assert '"LEVEL" as location_level' in staging["stg_wms__location"]
    source = manifest["sources"]["source.gruponos.wms.allocation"]
    assert source["loaded_at_field"] == 'sys_extract_utc("_LOADED_AT")'


def test_the_project_dir_is_the_one_compiled() -> None:
    assert (dbt_runner.PROJECT_DIR / "dbt_project.yml").exists()
    assert Path(dbt_runner.PROJECT_DIR / "profiles.yml").exists()


def test_the_windows_opened_at_run_start_are_one_oracle_statement_each_naming_every_windowed_node(
    manifest: dict[str, Any], work: Path
) -> None:
    cfg = oracle_settings()
    windowed = {
        *INCREMENTAL_MODELS,
        *(n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "snapshot"),
    }
    for hook in ("clear_pending_windows", "open_windows"):  # on-run-start: Oracle runs one statement a hook
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GRUPONOS_DBT__ORACLE_DATABASE", "GRUPONOS")
            mp.setenv("GRUPONOS_DBT__TEST_SCOPE", "window")
            result = dbt_runner.invoke(
                ["compile", "--no-populate-cache", "--no-introspect", "--inline", f"{{{{ gruponos.{hook}() }}}}"],
                cfg,
                target_path=work / "target",
                log_path=work / "logs",
            )
        assert result.success, result.exception
        sql = result.result.results[0].node.compiled_code
        statements = sqlglot.parse(sql, read="oracle")
        assert len(statements) == 1, sql
        named = {literal.this for literal in statements[0].find_all(exp.Literal) if literal.is_string}
        assert windowed | {"__tests__"} <= named, sql
