"""The Oracle adapter's SQL, without a database: every statement parses as Oracle SQL,
names are validated and quoted, types follow the catalog, and values are only ever bound."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import oracledb
import orjson
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from gruponos.entities import CATALOG, entity
from gruponos.warehouse import oracle as o

SCHEMA = "wms_raw"
STATE_COLUMNS = ["watermark", "full_started_at", "checkpoint_id", "full_run_id"]


def statements(name: str) -> dict[str, str]:
    """Every statement the adapter can issue for one entity (with one evolved column)."""
    spec = entity(name)
    columns = [*spec.schema.names, "new_field"]
    timestamps = [c for c in columns if c.endswith("_ts")]
    return {
        "raw_ddl": o.raw_ddl(SCHEMA, spec, ["new_field"]),
        "stage_ddl": o.stage_ddl(SCHEMA, spec, ["new_field"]),
        "add_column": o.add_column_ddl(SCHEMA, name, "new_field", o.TEXT),
        "add_stage_column": o.add_column_ddl(SCHEMA, o.stage_table(name), "new_field", o.TEXT),
        "stage_insert": o.stage_insert_sql(SCHEMA, spec, columns, timestamps),
        "counts": o.counts_sql(SCHEMA, spec, columns),
        "merge": o.merge_sql(SCHEMA, spec, columns),
        "mark_deleted": o.mark_deleted_sql(SCHEMA, spec),
        "rows": o.rows_sql(SCHEMA, name, [("ID", "NUMBER"), ("MOD_TS", "TIMESTAMP(6) WITH TIME ZONE")]),
    }


def control_statements() -> dict[str, str]:
    return {
        **{f"ddl{name}": ddl for name, ddl in o.control_ddl(SCHEMA).items()},
        "columns": o.columns_sql(),
        "rejected_insert": o.rejected_insert_sql(SCHEMA),
        "abandon_runs": o.abandon_runs_sql(SCHEMA),
        "insert_run": o.insert_run_sql(SCHEMA),
        "add_run_counts": o.add_run_counts_sql(SCHEMA),
        "close_run": o.close_run_sql(SCHEMA),
        "fail_run": o.fail_run_sql(SCHEMA),
        "checkpoint": o.state_merge_sql(SCHEMA, ["full_started_at", "checkpoint_id", "full_run_id"]),
        "watermark": o.state_merge_sql(SCHEMA, ["watermark"]),
        "watermark_full": o.state_merge_sql(SCHEMA, STATE_COLUMNS),
        "state": o.state_sql(SCHEMA),
        "lock_row": o.lock_row_sql(SCHEMA),
        "lock": o.lock_sql(SCHEMA),
    }


def all_statements() -> list[tuple[str, str]]:
    out = [(f"{name}:{kind}", sql) for name in CATALOG for kind, sql in statements(name).items()]
    return out + list(control_statements().items())


def column_types(ddl: str) -> dict[str, str]:
    """Column → type, read back from a parsed CREATE TABLE."""
    tree = sqlglot.parse_one(ddl, read="oracle")
    return {
        col.this.name: col.args["kind"].sql("oracle")
        for col in tree.find_all(exp.ColumnDef)
        if col.args.get("kind") is not None
    }


@pytest.mark.parametrize(("label", "sql"), all_statements(), ids=[label for label, _ in all_statements()])
def test_every_statement_parses_as_oracle_sql(label: str, sql: str) -> None:
    tree = sqlglot.parse_one(sql, read="oracle")
    assert tree is not None, label


@pytest.mark.parametrize(("label", "sql"), all_statements(), ids=[label for label, _ in all_statements()])
def test_no_value_is_formatted_into_sql(label: str, sql: str) -> None:
    """The only literals are type sizes, the UTC offset and constant counters; values are binds."""
    tree = sqlglot.parse_one(sql, read="oracle")
    literals = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
    assert literals <= {"+00:00"}, label
    for ident in tree.find_all(exp.Identifier):
        if ident.quoted:
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", ident.name), (label, ident.name)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_raw_table_has_every_catalog_column_quoted_in_upper_case(name: str) -> None:
    spec = entity(name)
    ddl = o.raw_ddl(SCHEMA, spec)
    types = column_types(ddl)
    assert set(types) == {c.upper() for c in spec.schema.names} | {"_LOADED_AT", "_RUN_ID", "_SEEN_RUN", "_DELETED_AT"}
    assert ddl.startswith(f'CREATE TABLE "WMS_RAW"."{name.upper()}" (')
    assert 'PRIMARY KEY ("ID")' in ddl and '"ID" NUMBER(19) NOT NULL' in ddl
    for column in spec.columns:
        assert f'"{column.name.upper()}" ' in ddl


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_types_follow_the_catalog(name: str) -> None:
    spec = entity(name)
    types = column_types(o.raw_ddl(SCHEMA, spec, ["evolved_key"]))
    for column in spec.columns:
        got = types[column.name.upper()]
        if column.name.endswith("_id") or column.name.endswith("_count"):
            assert got == "NUMBER(19)", column.name
        elif column.name.endswith("_key"):
            assert got == "VARCHAR2(255 CHAR)", column.name
        elif column.name.endswith("_ts"):
            assert got == "TIMESTAMP(6) WITH TIME ZONE", column.name
        elif column.name.endswith("_flg"):
            assert got == "NUMBER(1)", column.name
        elif pa.types.is_date(column.type):
            assert got == "DATE", column.name
        elif pa.types.is_decimal(column.type):
            assert got == "NUMBER(28, 8)", column.name
        elif pa.types.is_string(column.type):
            assert got == f"VARCHAR2({column.max_length or 4000} CHAR)", column.name
    assert types["EVOLVED_KEY"] == "VARCHAR2(4000 CHAR)"  # evolved columns are text, whatever their name
    assert types["_LOADED_AT"] == types["_DELETED_AT"] == "TIMESTAMP(6) WITH TIME ZONE"


def test_allocation_types() -> None:
    types = column_types(o.raw_ddl(SCHEMA, entity("allocation")))
    assert types["ORDER_DTL_ID"] == "NUMBER(19)"
    assert types["ORDER_DTL_KEY"] == "VARCHAR2(255 CHAR)"
    assert types["MOD_TS"] == "TIMESTAMP(6) WITH TIME ZONE"
    assert types["IS_PICKING_FLG"] == "NUMBER(1)"
    assert types["ALLOC_QTY"] == "NUMBER(28, 8)"
    assert types["PICK_LOCN_STR"] == "VARCHAR2(50 CHAR)"


def test_staging_is_a_global_temporary_table_emptied_at_commit() -> None:
    spec = entity("allocation")
    ddl = o.stage_ddl(SCHEMA, spec, ["new_field"])
    assert ddl.startswith('CREATE GLOBAL TEMPORARY TABLE "WMS_RAW"."_STAGE_ALLOCATION" (')
    assert ddl.endswith("ON COMMIT DELETE ROWS")
    types = column_types(ddl)
    assert set(types) == {c.upper() for c in spec.schema.names} | {"NEW_FIELD"}  # no bookkeeping columns
    assert "PRIMARY KEY" not in ddl  # duplicates are allowed; the MERGE source de-duplicates


def test_control_tables_match_the_other_adapters() -> None:
    ddl = o.control_ddl(SCHEMA)
    assert set(ddl) == {"_sync_state", "_sync_runs", "_rejected", "_sync_locks"}
    state = column_types(ddl["_sync_state"])
    state_columns = ["ENTITY", "WATERMARK", "FULL_STARTED_AT", "CHECKPOINT_ID", "FULL_RUN_ID", "LAST_RUN_ID"]
    assert list(state) == [*state_columns, "UPDATED_AT"]
    runs = column_types(ddl["_sync_runs"])
    run_columns = "RUN_ID ENTITY MODE WINDOW_START WINDOW_END STARTED_AT FINISHED_AT STATUS EXTRACTED REJECTED"
    assert list(runs) == [*run_columns.split(), "INSERTED", "UPDATED", "DELETED", "RESULT_COUNT", "ERROR"]
    assert runs["ERROR"] == "CLOB"
    rejected = column_types(ddl["_rejected"])
    assert list(rejected) == ["RUN_ID", "ENTITY", "RECORD_ID", "RULE", "MESSAGE", "RAW_JSON", "REJECTED_AT"]
    assert rejected["RAW_JSON"] == "CLOB"
    assert all('"_SYNC_' in sql or '"_REJECTED"' in sql for sql in ddl.values())  # underscore names quoted


def test_merge_updates_only_with_newer_or_equal_mod_ts_and_always_marks_seen() -> None:
    spec = entity("allocation")
    columns = spec.schema.names
    sql = o.merge_sql(SCHEMA, spec, columns)
    tree = sqlglot.parse_one(sql, read="oracle")
    assert isinstance(tree, exp.Merge)
    assert sql.count("WHEN MATCHED") == 1  # Oracle allows one WHEN MATCHED clause
    assert 'ON (t."ID" = s."ID")' in sql
    for c in columns:
        if c == "id":
            update = sql.split("WHEN MATCHED THEN UPDATE SET")[1].split("WHEN NOT MATCHED")[0]
            assert 't."ID" =' not in update  # a column of the ON clause cannot be updated (ORA-38104)
            continue
        q = f'"{c.upper()}"'
        assert f't.{q} = CASE WHEN s."MOD_TS" >= t."MOD_TS" THEN s.{q} ELSE t.{q} END' in sql
    assert 't."_SEEN_RUN" = :b_seen' in sql and 't."_DELETED_AT" = NULL' in sql
    assert 'CASE WHEN s."MOD_TS" >= t."MOD_TS" THEN :b_run_id ELSE t."_RUN_ID" END' in sql
    assert 'ROW_NUMBER() OVER (PARTITION BY x."ID" ORDER BY x."MOD_TS" DESC)' in sql  # latest per id wins
    binds = {p.name for p in tree.find_all(exp.Placeholder)}
    assert binds == {"b_loaded_at", "b_run_id", "b_seen"}


def test_counts_count_new_ids_and_strictly_newer_rows() -> None:
    spec = entity("order_hdr")
    sql = o.counts_sql(SCHEMA, spec, spec.schema.names)
    assert 'COUNT(CASE WHEN t."ID" IS NULL THEN 1 END)' in sql
    assert 'COUNT(CASE WHEN s."MOD_TS" > t."MOD_TS" THEN 1 END)' in sql
    assert 'LEFT JOIN "WMS_RAW"."ORDER_HDR" t' in sql


def test_finish_marks_rows_another_generation_saw_last_null_safely() -> None:
    sql = o.mark_deleted_sql(SCHEMA, entity("item"))
    assert '("_SEEN_RUN" IS NULL OR "_SEEN_RUN" <> :b_unseen_by)' in sql
    assert '"_DELETED_AT" IS NULL' in sql


def test_staging_insert_binds_every_column_by_position_and_timestamps_as_utc() -> None:
    spec = entity("allocation")
    columns = spec.schema.names
    timestamps, types = o.stage_binds(spec.schema)
    sql = o.stage_insert_sql(SCHEMA, spec, columns, timestamps)
    tree = sqlglot.parse_one(sql, read="oracle")
    assert {p.name for p in tree.find_all(exp.Placeholder)} == {f"c{i}" for i in range(len(columns))}
    assert re.findall(r":(c\d+)", sql) == [f"c{i}" for i in range(len(columns))]  # in column order
    assert timestamps == ["picked_ts", "create_ts", "mod_ts"]
    assert sql.count("FROM_TZ(CAST(") == 3
    by_name = dict(zip(columns, types, strict=True))
    assert by_name["id"] is oracledb.DB_TYPE_NUMBER and by_name["is_picking_flg"] is oracledb.DB_TYPE_NUMBER
    assert by_name["mod_ts"] is oracledb.DB_TYPE_TIMESTAMP and by_name["order_dtl_key"] is None


def test_state_upsert_sets_and_inserts_the_same_columns() -> None:
    sql = o.state_merge_sql(SCHEMA, STATE_COLUMNS)
    tree = sqlglot.parse_one(sql, read="oracle")
    binds = {p.name for p in tree.find_all(exp.Placeholder)}
    assert binds == {"b_entity", "b_last_run_id", "b_updated_at", *(f"b_{c}" for c in STATE_COLUMNS)}
    assert "FROM_TZ(CAST(:b_watermark AS TIMESTAMP), '+00:00')" in sql
    assert 'MERGE INTO "WMS_RAW"."_SYNC_STATE"' in sql


def test_lock_is_a_row_lock_that_never_waits() -> None:
    assert o.lock_sql(SCHEMA).endswith("FOR UPDATE NOWAIT")
    assert "WHEN MATCHED" not in o.lock_row_sql(SCHEMA)  # creating the row never touches a held row


@pytest.mark.parametrize("bad", ['wms"; drop table x; --', "wms raw", "1wms", "", "a" * 64])
def test_identifiers_that_are_not_plain_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid SQL identifier"):
        o.raw_ddl(bad, entity("allocation"))
    with pytest.raises(ValueError, match="invalid SQL identifier"):
        o.control_ddl(bad)
    with pytest.raises(ValueError, match="invalid SQL identifier"):
        o.add_column_ddl(SCHEMA, "allocation", bad, o.TEXT)


def test_stage_rows_are_built_column_wise_with_flags_as_numbers_and_naive_utc_timestamps() -> None:
    spec = entity("allocation")
    row: dict[str, Any] = {c: None for c in spec.schema.names}
    row |= {
        "id": 7,
        "alloc_qty": Decimal("2.50000000"),
        "is_picking_flg": True,
        "mod_ts": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "order_dtl_key": "K-1",
    }
    batch = pa.RecordBatch.from_pylist([row], schema=spec.schema)
    (values,) = o.stage_rows(batch)
    got = dict(zip(spec.schema.names, values, strict=True))
    assert got["id"] == 7 and got["is_picking_flg"] == 1 and got["alloc_qty"] == Decimal("2.5")
    assert got["mod_ts"] == datetime(2026, 1, 2, 3, 4, 5, 6) and got["mod_ts"].tzinfo is None
    assert got["order_dtl_key"] == "K-1" and got["picked_ts"] is None


def test_rows_the_database_refuses_become_rejections_with_the_ora_code() -> None:
    spec = entity("allocation")
    rows = [
        {c: None for c in spec.schema.names} | {"id": i, "mod_ts": datetime(2026, 1, 1, tzinfo=UTC)} for i in (1, 2)
    ]
    rows[1]["alloc_qty"] = Decimal("1.5")
    batch = pa.RecordBatch.from_pylist(rows, schema=spec.schema)
    error = SimpleNamespace(offset=1, code=12899, full_code="ORA-12899", message="ORA-12899: value too large")
    (rejection,) = o.batch_rejections(spec, batch, [error])
    assert rejection.record_id == 2 and rejection.rule == "oracle:ORA-12899"
    assert "allocation id 2" in rejection.message and "value too large" in rejection.message
    raw = orjson.loads(rejection.raw)
    assert raw["id"] == 2 and raw["alloc_qty"] == "1.50000000"


def test_values_read_back_are_typed_like_the_other_adapters() -> None:
    assert o._convert(datetime(2026, 1, 1, 5), "TIMESTAMP(6) WITH TIME ZONE", None, 6) == datetime(
        2026, 1, 1, 5, tzinfo=UTC
    )
    assert o._convert(datetime(2026, 1, 1), "DATE", None, None) == date(2026, 1, 1)
    assert o._convert(1, "NUMBER", 1, 0) is True
    assert o._convert(12, "NUMBER", 19, 0) == 12


def test_secrets_stay_out_of_reprs_and_messages() -> None:
    secrets = o._Secrets("tcps://db.example:1522/svc", "loader", "s3cret-pw", "/wallet", "wallet-pw")
    assert "s3cret-pw" not in repr(secrets) and "wallet-pw" not in repr(secrets) and "db.example" not in repr(secrets)
    message = secrets.scrub("ORA-01017 for loader with s3cret-pw at tcps://db.example:1522/svc (wallet-pw)")
    assert "s3cret-pw" not in message and "wallet-pw" not in message and "db.example" not in message
    kwargs = secrets.connect_kwargs()
    assert kwargs["config_dir"] == kwargs["wallet_location"] == "/wallet"
    assert kwargs["wallet_password"] == "wallet-pw"
