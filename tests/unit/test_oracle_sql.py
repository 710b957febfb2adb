"""The Oracle adapter's own SQL and values, without a database: statements read back as Oracle
trees (names in upper case, types from the catalog, the MERGE's rules, binds by name and
position), and the conversions between Arrow and python-oracledb."""

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
from sqlglot import exp

from gruponos.warehouse import oracle_values as v
from gruponos.warehouse.oracle import _Credentials
from gruponos.warehouse.sql.oracle import ORACLE
from tests.specs import CATALOG
from tests.specs import spec as entity
from tests.unit import _sql_tree as q

SCHEMA = "wms_raw"


def oracle(sql: str) -> exp.Expression:
    return q.parse(sql, "oracle")


def column_types(ddl: str) -> dict[str, str]:
    return {name: col.args["kind"].sql("oracle") for name, col in q.columns_defined(oracle(ddl)).items()}


def every_statement() -> list[tuple[str, str]]:
    out = []
    for name in CATALOG:
        spec = entity(name)
        columns = [*spec.schema.names, "new_field"]
        source = ORACLE.latest_sql(SCHEMA, spec, columns)
        out += [
            (f"{name}:raw", ORACLE.raw_ddl(SCHEMA, spec, ["new_field"])),
            (f"{name}:stage", ORACLE.stage_ddl(SCHEMA, spec, ["new_field"])),
            (f"{name}:stage_insert", ORACLE.stage_insert_sql(SCHEMA, spec, columns, ["mod_ts"])),
            (f"{name}:counts", ORACLE.counts_sql(SCHEMA, spec, source)),
            (f"{name}:merge", ORACLE.merge_sql(SCHEMA, spec, columns, source)),
        ]
    out += [(f"control:{k}", sql) for k, sql in ORACLE.control_ddl(SCHEMA).items()]
    out += list(zip(("lock_row", "lock"), ORACLE.lock_sql(SCHEMA), strict=True))
    out += [("add_column", ORACLE.add_column_sql(SCHEMA, "allocation", "new_field", "VARCHAR2(4000 CHAR)"))]
    return out


@pytest.mark.parametrize(("label", "sql"), every_statement(), ids=[label for label, _ in every_statement()])
def test_values_are_bound_and_quoted_names_are_upper_case(label: str, sql: str) -> None:
    tree = oracle(sql)
    assert q.strings(tree) <= {"+00:00"}, label  # the only literal: the UTC offset of FROM_TZ
    quoted = [i.name for i in tree.find_all(exp.Identifier) if i.quoted]
    assert quoted and all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", name) for name in quoted), (label, quoted)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_types_follow_the_catalog(name: str) -> None:
    spec = entity(name)
    types = column_types(ORACLE.raw_ddl(SCHEMA, spec, ["evolved_key"]))
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
    assert types["_RUN_ID"] == types["_SEEN_RUN"] == "VARCHAR2(255 CHAR)"


def test_allocation_types() -> None:
    types = column_types(ORACLE.raw_ddl(SCHEMA, entity("allocation")))
    assert types["ORDER_DTL_ID"] == "NUMBER(19)"
    assert types["ORDER_DTL_KEY"] == "VARCHAR2(255 CHAR)"
    assert types["MOD_TS"] == "TIMESTAMP(6) WITH TIME ZONE"
    assert types["IS_PICKING_FLG"] == "NUMBER(1)"
    assert types["ALLOC_QTY"] == "NUMBER(28, 8)"
    assert types["PICK_LOCN_STR"] == "VARCHAR2(50 CHAR)"


def test_control_tables_keep_long_text_in_clobs_and_add_the_lock_table() -> None:
    ddl = ORACLE.control_ddl(SCHEMA)
    assert q.target(oracle(ddl["_sync_locks"])) == "_SYNC_LOCKS"
    assert list(column_types(ddl["_sync_locks"])) == ["ENTITY"]
    assert column_types(ddl["_sync_runs"])["ERROR"] == "CLOB"
    rejected = column_types(ddl["_rejected"])
    assert rejected["RAW_JSON"] == rejected["MESSAGE"] == "CLOB" and rejected["RULE"] == "VARCHAR2(4000 CHAR)"


def test_staging_is_a_global_temporary_table_of_the_entity_columns_emptied_at_commit() -> None:
    spec = entity("allocation")
    tree = oracle(ORACLE.stage_ddl(SCHEMA, spec, ["new_field"]))
    assert q.target(tree) == "_STAGE_ALLOCATION"
    properties = {type(p).__name__ for p in tree.args["properties"].expressions}
    assert {"TemporaryProperty", "OnCommitProperty"} <= properties
    on_commit = tree.find(exp.OnCommitProperty)
    assert on_commit.args.get("delete") is True  # rows vanish at commit: no TRUNCATE (an implicit commit)
    assert list(q.columns_defined(tree)) == [c.upper() for c in [*spec.schema.names, "new_field"]]  # no bookkeeping
    assert tree.find(exp.PrimaryKey) is None  # duplicates allowed: the MERGE's source keeps the latest


def test_staging_insert_binds_every_column_by_position_and_timestamps_as_utc() -> None:
    spec = entity("allocation")
    columns = spec.schema.names
    timestamps, types = v.stage_binds(spec.schema)
    tree = oracle(ORACLE.stage_insert_sql(SCHEMA, spec, columns, timestamps))
    assert q.target(tree) == "_STAGE_ALLOCATION"
    assert q.inserted_columns(tree) == [c.upper() for c in columns]
    assert q.binds(tree) == [f"c{i}" for i in range(len(columns))]  # in column order
    values = dict(zip(columns, tree.expression.expressions[0].expressions, strict=True))
    zoned = {c for c, value in values.items() if "FROM_TZ" in value.sql("oracle").upper()}
    assert zoned == set(timestamps) == {"picked_ts", "create_ts", "mod_ts"}
    by_name = dict(zip(columns, types, strict=True))
    assert by_name["id"] is oracledb.DB_TYPE_NUMBER and by_name["is_picking_flg"] is oracledb.DB_TYPE_NUMBER
    assert by_name["mod_ts"] is oracledb.DB_TYPE_TIMESTAMP and by_name["order_dtl_key"] is None


def test_merge_updates_with_newer_or_equal_mod_ts_only_and_marks_every_match_seen_and_alive() -> None:
    spec = entity("allocation")
    columns = spec.schema.names
    tree = oracle(ORACLE.merge_sql(SCHEMA, spec, columns, ORACLE.latest_sql(SCHEMA, spec, columns)))
    assert q.target(tree) == "ALLOCATION" and q.join_keys(tree.args["on"]) == {("ID", "ID")}
    matched, _ = tree.find_all(exp.When)
    assert matched.args.get("condition") is None  # Oracle allows a single WHEN MATCHED clause
    sets = q.assignments(matched.args["then"])
    assert "ID" not in sets  # a column of the ON clause cannot be updated (ORA-38104)
    for column in [c.upper() for c in columns if c != "id"] + ["_LOADED_AT", "_RUN_ID"]:
        case = sets[column]
        (rule,) = case.args["ifs"]
        newer = rule.this
        if column == "_LOADED_AT":  # or a row marked deleted that comes back (an older copy too)
            assert isinstance(newer, exp.Or) and newer.expression.sql("oracle") == 'NOT t."_DELETED_AT" IS NULL'
            newer = newer.this
        assert isinstance(newer, exp.GTE), column
        assert (newer.this.table, newer.this.name, newer.expression.table, newer.expression.name) == (
            "s", "MOD_TS", "t", "MOD_TS",
        )  # fmt: skip
        assert case.args["default"].sql("oracle") == f't."{column}"', column  # otherwise unchanged
    assert isinstance(sets["_SEEN_RUN"], exp.Placeholder) and sets["_SEEN_RUN"].name == "b_generation"
    assert isinstance(sets["_DELETED_AT"], exp.Null)
    assert q.inserted_columns(tree) == [c.upper() for c in columns] + ["_LOADED_AT", "_RUN_ID", "_SEEN_RUN"]
    assert set(q.binds(tree)) == {"b_loaded_at", "b_run_id", "b_generation"}
    window = tree.find(exp.Window)  # the source: the latest staged row per id
    assert [c.name for c in window.args["partition_by"]] == ["ID"]
    (order,) = window.args["order"].expressions
    assert order.this.name == "MOD_TS" and order.args.get("desc") is True


def test_the_lock_is_a_row_lock_that_never_waits_and_its_row_is_only_ever_inserted() -> None:
    ensure_sql, lock_sql = ORACLE.lock_sql(SCHEMA)
    lock = oracle(lock_sql)
    assert q.target(lock) == "_SYNC_LOCKS" and q.binds(lock) == ["b_entity"]
    (row_lock,) = lock.args["locks"]
    assert row_lock.args.get("update") is True and row_lock.sql("oracle") == "FOR UPDATE NOWAIT"
    ensure = oracle(ensure_sql)
    assert q.target(ensure) == "_SYNC_LOCKS"
    assert [type(w.args["then"]) for w in ensure.find_all(exp.When)] == [exp.Insert]  # never touches a held row


def test_the_schema_check_asks_the_dictionary_whether_oracle_maintains_the_user() -> None:
    tree = oracle(ORACLE.maintained_sql())
    assert q.target(tree) == "all_users" and q.binds(tree) == ["b_schema"]
    assert [c.name for c in tree.selects] == ["oracle_maintained"]


def test_rows_read_zoned_timestamps_as_utc() -> None:
    sql = ORACLE.typed_rows_sql(SCHEMA, "item", [("ID", "NUMBER"), ("MOD_TS", "TIMESTAMP(6) WITH TIME ZONE")])
    tree = oracle(sql)
    first, second = tree.selects
    assert isinstance(first, exp.Column) and first.name == "ID"
    assert second.alias == "MOD_TS" and "SYS_EXTRACT_UTC" in second.this.sql("oracle").upper()
    assert [o.this.name for o in tree.args["order"].expressions] == ["ID"]


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
    (values,) = v.stage_rows(batch)
    got = dict(zip(spec.schema.names, values, strict=True))
    assert got["id"] == 7 and got["is_picking_flg"] == 1 and got["alloc_qty"] == Decimal("2.5")
    assert got["mod_ts"] == datetime(2026, 1, 2, 3, 4, 5, 6) and got["mod_ts"].tzinfo is None
    assert got["order_dtl_key"] == "K-1" and got["picked_ts"] is None


def test_binds_are_naive_utc_wall_clocks() -> None:
    from datetime import timedelta, timezone

    lima = timezone(timedelta(hours=-5))
    assert v.naive(datetime(2026, 1, 1, 7, tzinfo=lima)) == datetime(2026, 1, 1, 12)
    assert v.naive("x") == "x" and v.naive(None) is None


def test_rows_the_database_refuses_become_rejections_with_the_ora_code() -> None:
    spec = entity("allocation")
    rows = [
        {c: None for c in spec.schema.names} | {"id": i, "mod_ts": datetime(2026, 1, 1, tzinfo=UTC)} for i in (1, 2)
    ]
    rows[1]["alloc_qty"] = Decimal("1.5")
    batch = pa.RecordBatch.from_pylist(rows, schema=spec.schema)
    error = SimpleNamespace(offset=1, code=12899, full_code="ORA-12899", message="ORA-12899: value too large")
    (rejection,) = v.batch_rejections(spec, batch, [error])
    assert rejection.record_id == 2 and rejection.rule == "oracle:ORA-12899"
    assert "allocation id 2" in rejection.message and "value too large" in rejection.message
    raw = orjson.loads(rejection.raw)
    assert raw["id"] == 2 and raw["alloc_qty"] == "1.50000000"


def test_values_read_back_are_typed_like_the_other_adapters() -> None:
    zoned = v.read_value(datetime(2026, 1, 1, 5), "TIMESTAMP(6) WITH TIME ZONE", None, 6)
    assert zoned == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert v.read_value(datetime(2026, 1, 1), "DATE", None, None) == date(2026, 1, 1)
    assert v.read_value(1, "NUMBER", 1, 0) is True
    assert v.read_value(12, "NUMBER", 19, 0) == 12


def test_credentials_stay_out_of_reprs() -> None:
    credentials = _Credentials("tcps://db.example:1522/svc", "loader", "s3cret-pw", "/wallet", "wallet-pw")
    shown = repr(credentials)
    assert "s3cret-pw" not in shown and "wallet-pw" not in shown and "db.example" not in shown
    kwargs = credentials.connect_kwargs()
    assert kwargs["config_dir"] == kwargs["wallet_location"] == "/wallet"
    assert kwargs["wallet_password"] == "wallet-pw"
