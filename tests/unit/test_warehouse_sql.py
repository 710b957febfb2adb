"""The warehouses' SQL, read back as trees in each dialect: every statement writes the table it
should, joins on the key, names the columns it should and takes its values as named binds."""

from __future__ import annotations

import pytest
from sqlglot import exp

from gruponos.entities import derive
from gruponos.errors import WarehouseError
from gruponos.warehouse.base import quote
from gruponos.warehouse.sql import DUCKDB, ORACLE, POSTGRES, Dialect
from gruponos.warehouse.sql.postgres import reserved_schema
from tests.specs import CATALOG
from tests.specs import spec as entity
from tests.unit._sql_tree import (
    assignments,
    binds,
    columns_defined,
    inserted_columns,
    join_keys,
    parse,
    strings,
    target,
)

SCHEMA = "wms_raw"
DIALECTS = [DUCKDB, POSTGRES, ORACLE]
IDS = [d.name for d in DIALECTS]
META = ["_loaded_at", "_run_id", "_seen_run", "_deleted_at"]
RUN_COLUMNS = [
    *("run_id", "entity", "mode", "window_start", "window_end", "started_at", "finished_at", "status"),
    *("extracted", "rejected", "inserted", "updated", "deleted", "result_count", "error", "restored"),
]


def names(d: Dialect, *columns: str) -> list[str]:
    """Column names as the dialect stores them (Oracle: upper case)."""
    return [c.upper() if d is ORACLE else c for c in columns]


def run_log_statements(d: Dialect) -> dict[str, tuple[str, set[str]]]:
    """Statement → (its SQL, the binds it must take)."""
    key = {"b_run_id", "b_entity"}
    return {
        "abandon": (d.abandon_runs_sql(SCHEMA), {"b_abandoned", "b_now", "b_error", "b_entity", "b_running"}),
        "insert": (
            d.insert_run_sql(SCHEMA),
            key | {"b_mode", "b_window_start", "b_window_end", "b_started_at", "b_status", "b_result_count"},
        ),
        "counts": (d.add_run_counts_sql(SCHEMA), key | {f"b_{c}" for c in RUN_COLUMNS[8:12]} | {"b_restored"}),
        "close": (d.close_run_sql(SCHEMA), key | {"b_status", "b_now", "b_deleted", "b_result_count"}),
        "fail": (d.fail_run_sql(SCHEMA), key | {"b_status", "b_now", "b_error", "b_result_count"}),
    }


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
@pytest.mark.parametrize("statement", ["abandon", "insert", "counts", "close", "fail"])
def test_run_log_statements_write_the_run_log_with_named_binds(d: Dialect, statement: str) -> None:
    sql, wanted = run_log_statements(d)[statement]
    tree = parse(sql, d.name)
    assert target(tree) == names(d, "_sync_runs")[0]
    assert set(binds(tree)) == wanted
    assert not strings(tree) - {"+00:00"}  # values are bound, never written in


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_updates_of_one_run_match_run_id_and_entity(d: Dialect) -> None:
    for statement in ("counts", "close", "fail"):
        tree = parse(run_log_statements(d)[statement][0], d.name)
        where = tree.args["where"]
        matched = {(eq.this.name, eq.expression.name) for eq in where.find_all(exp.EQ)}
        assert matched == set(zip(names(d, "run_id", "entity"), ["b_run_id", "b_entity"], strict=True)), statement


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_a_run_starts_with_every_counter_at_zero(d: Dialect) -> None:
    tree = parse(d.insert_run_sql(SCHEMA), d.name)
    columns = inserted_columns(tree)
    assert sorted(columns) == sorted(names(d, *(c for c in RUN_COLUMNS if c not in ("finished_at", "error"))))
    values = dict(zip(columns, tree.expression.expressions[0].expressions, strict=True))
    for counter in names(d, "extracted", "rejected", "inserted", "updated", "deleted", "restored"):
        assert isinstance(values[counter], exp.Literal) and values[counter].this == "0", counter


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_each_load_adds_its_counts_to_the_run_restored_included(d: Dialect) -> None:
    sets = assignments(parse(d.add_run_counts_sql(SCHEMA), d.name))
    counters = ["extracted", "rejected", "inserted", "updated", "restored"]
    assert list(sets) == names(d, *counters)
    for column, counter in zip(sets, counters, strict=True):
        added = sets[column]
        assert isinstance(added, exp.Add) and added.this.name == column
        assert isinstance(added.expression, exp.Placeholder) and added.expression.name == f"b_{counter}"


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_state_upsert_keys_on_the_entity_and_sets_what_it_inserts(d: Dialect) -> None:
    state = ["watermark", "full_started_at", "checkpoint_id", "full_run_id"]
    tree = parse(d.upsert_state_sql(SCHEMA, state), d.name)
    assert target(tree) == names(d, "_sync_state")[0]
    assert set(binds(tree)) == {"b_entity", "b_last_run_id", "b_updated_at", *(f"b_{c}" for c in state)}
    inserted = inserted_columns(tree)
    assert inserted == names(d, "entity", "last_run_id", "updated_at", *state)
    if isinstance(tree, exp.Merge):  # Oracle: MERGE from dual
        assert join_keys(tree.args["on"]) == {("ENTITY", "ENTITY")}
        (matched,) = [w for w in tree.find_all(exp.When) if isinstance(w.args["then"], exp.Update)]
        updated = list(assignments(matched.args["then"]))
    else:
        conflict = tree.args["conflict"]
        assert [k.name for k in conflict.args["conflict_keys"]] == ["entity"]
        updated = [eq.this.name for eq in conflict.args["expressions"]]
    assert updated == inserted[1:]  # everything but the key, nothing else


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_the_state_is_read_by_entity(d: Dialect) -> None:
    tree = parse(d.state_sql(SCHEMA), d.name)
    assert target(tree) == names(d, "_sync_state")[0] and binds(tree) == ["b_entity"]
    selected = [c.name for c in tree.selects for c in c.find_all(exp.Column)]
    assert selected == names(d, "watermark", "full_started_at", "checkpoint_id", "full_run_id")


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_counts_join_the_staged_rows_to_the_raw_table_on_the_key(d: Dialect) -> None:
    spec = entity("order_hdr")
    tree = parse(d.counts_sql(SCHEMA, spec, "stage"), d.name)
    (join,) = tree.args["joins"]
    assert join.this.name == names(d, "order_hdr")[0] and join.side == "LEFT"
    assert join_keys(join.args["on"]) == {(names(d, "id")[0],) * 2}
    new, newer, restored = tree.selects
    assert isinstance(new.find(exp.Is), exp.Is) and new.find(exp.Column).name == names(d, "id")[0]
    assert isinstance(newer.find(exp.GT), exp.GT) and {c.name for c in newer.find_all(exp.Column)} == set(
        names(d, "mod_ts")
    )
    gone = restored.find(exp.Column)
    assert gone.name == names(d, "_deleted_at")[0] and gone.table == "t"  # a stored row that was deleted
    test = restored.find(exp.Is)
    assert isinstance(test.parent, exp.Not) or test.args.get("negate") is True  # IS NOT NULL


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_a_full_sync_marks_deleted_only_live_rows_it_did_not_see(d: Dialect) -> None:
    tree = parse(d.mark_deleted_sql(SCHEMA, entity("item")), d.name)
    assert target(tree) == names(d, "item")[0]
    assert list(assignments(tree)) == names(d, "_deleted_at")
    where = tree.args["where"]
    assert {c.name for c in where.find_all(exp.Column)} == set(names(d, "_seen_run", "_deleted_at"))
    assert isinstance(where.find(exp.Or), exp.Or)  # NULL-safe: never seen counts as unseen
    assert sorted(binds(tree)) == ["b_generation", "b_now"]


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_quarantine_rows_carry_run_entity_record_rule_message_raw_and_time(d: Dialect) -> None:
    tree = parse(d.rejected_insert_sql(SCHEMA), d.name)
    assert target(tree) == names(d, "_rejected")[0]
    columns = ["run_id", "entity", "record_id", "rule", "message", "raw_json", "rejected_at"]
    assert inserted_columns(tree) == names(d, *columns)
    assert binds(tree) == [f"b_{c}" for c in columns]


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_control_tables_have_the_same_columns_in_every_dialect(d: Dialect) -> None:
    ddl = d.control_ddl(SCHEMA)
    runs = columns_defined(parse(ddl["_sync_runs"], d.name))
    assert list(runs) == names(d, *RUN_COLUMNS)
    default = runs[names(d, "restored")[0]].find(exp.DefaultColumnConstraint)
    assert default is not None and default.this.this == "0"  # rows logged before it existed read 0
    key = parse(ddl["_sync_runs"], d.name).find(exp.PrimaryKey)
    assert [c.name for c in key.find_all(exp.Identifier)] == names(d, "run_id", "entity")
    state = columns_defined(parse(ddl["_sync_state"], d.name))
    assert list(state) == names(
        d, "entity", "watermark", "full_started_at", "checkpoint_id", "full_run_id", "last_run_id", "updated_at"
    )
    rejected = columns_defined(parse(ddl["_rejected"], d.name))
    assert list(rejected) == names(d, "run_id", "entity", "record_id", "rule", "message", "raw_json", "rejected_at")


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
@pytest.mark.parametrize("name", sorted(CATALOG))
def test_raw_tables_hold_the_catalog_columns_the_evolved_ones_and_the_bookkeeping(d: Dialect, name: str) -> None:
    spec = entity(name)
    tree = parse(d.raw_ddl(SCHEMA, spec, ["new_field"]), d.name)
    assert target(tree) == names(d, name)[0]
    assert list(columns_defined(tree)) == names(d, *spec.schema.names, "new_field", *META)
    key = tree.find(exp.PrimaryKey)
    (id_column,) = [c for c in tree.find_all(exp.ColumnDef) if c.name == names(d, "id")[0]]
    assert id_column.find(exp.NotNullColumnConstraint) is not None
    if d is DUCKDB:  # no key: its index would have to fit in memory (sql/duckdb.py)
        assert key is None
        return
    assert [c.name for c in key.find_all(exp.Identifier)] == names(d, "id")


@pytest.mark.parametrize("d", [DUCKDB, POSTGRES], ids=["duckdb", "postgres"])
def test_adding_a_column_is_a_no_op_when_it_exists(d: Dialect) -> None:
    tree = parse(d.add_column_sql(SCHEMA, "_sync_runs", "restored", "BIGINT", "0"), d.name)
    assert target(tree) == "_sync_runs"
    (column,) = tree.args["actions"]
    assert column.this.name == "restored" and column.args.get("exists") is True  # IF NOT EXISTS


def assert_revival(case: exp.Expression, dialect: str) -> None:
    """An older copy of a row marked deleted brings it back with the load's time, else the
    stamp stays (readers of new loads, dbt's incremental models, must see the row return)."""
    assert isinstance(case, exp.Case)
    (rule,) = case.args["ifs"]
    assert rule.this.sql("duckdb") in ('NOT t."_deleted_at" IS NULL', 't."_deleted_at" IS NOT NULL')
    assert [p.name for p in rule.args["true"].find_all(exp.Placeholder)] == ["b_loaded_at"]
    assert case.args["default"].sql(dialect) == 't."_loaded_at"'


def test_duckdb_replaces_rows_by_stamping_older_deleting_newer_and_inserting_the_rest() -> None:
    spec = entity("allocation")
    columns = spec.schema.names
    stamp, drop, insert = (parse(s, "duckdb") for s in DUCKDB.replace_sql(SCHEMA, spec, columns, "stage"))
    assert {target(t) for t in (stamp, drop, insert)} == {"allocation"}
    stamped = {k: type(v) for k, v in assignments(stamp).items()}
    assert stamped == {"_loaded_at": exp.Case, "_seen_run": exp.Placeholder, "_deleted_at": exp.Null}
    assert_revival(assignments(stamp)["_loaded_at"], "duckdb")
    assert binds(stamp) == ["b_loaded_at", "b_generation"] and binds(drop) == []
    for tree, compare in ((stamp, exp.LT), (drop, exp.GTE)):  # older stamped; newer-or-equal replaced
        where = tree.args["where"]
        assert join_keys(where) == {("id", "id")}
        (comparison,) = where.find_all(compare)
        assert (comparison.this.table, comparison.this.name, comparison.expression.table) == ("s", "mod_ts", "t")
    assert inserted_columns(insert) == [*columns, "_loaded_at", "_run_id", "_seen_run"]
    assert binds(insert) == ["b_loaded_at", "b_run_id", "b_generation"]
    (anti,) = insert.find(exp.Select).args["joins"]
    assert anti.kind == "ANTI" and join_keys(anti.args["on"]) == {("id", "id")}


def test_duckdb_fresh_insert_and_latest_per_id() -> None:
    spec = entity("allocation")
    insert = parse(DUCKDB.insert_sql(SCHEMA, spec, ["id", "mod_ts"], "stage"), "duckdb")
    assert inserted_columns(insert) == ["id", "mod_ts", "_loaded_at", "_run_id", "_seen_run"]
    latest = parse(DUCKDB.latest_sql(spec, "stage"), "duckdb")
    window = latest.find(exp.Window)
    assert [c.name for c in window.args["partition_by"]] == ["id"]
    (order,) = window.args["order"].expressions
    assert order.this.name == "mod_ts" and order.args.get("desc") is True  # the latest wins


def test_postgres_merge_updates_newer_or_equal_rows_and_stamps_every_match() -> None:
    spec = entity("allocation")
    columns = spec.schema.names
    tree = parse(POSTGRES.merge_sql(SCHEMA, spec, columns, "stage"), "postgres")
    assert target(tree) == "allocation" and join_keys(tree.args["on"]) == {("id", "id")}
    newer, other, _ = tree.find_all(exp.When)
    condition = newer.args["condition"]
    assert isinstance(condition, exp.GTE) and condition.this.name == condition.expression.name == "mod_ts"
    assert list(assignments(newer.args["then"])) == [c for c in columns if c != "id"] + META[:3] + ["_deleted_at"]
    assert other.args.get("condition") is None
    assert list(assignments(other.args["then"])) == ["_loaded_at", "_seen_run", "_deleted_at"]
    assert_revival(assignments(other.args["then"])["_loaded_at"], "postgres")
    assert inserted_columns(tree) == [*columns, "_loaded_at", "_run_id", "_seen_run"]
    assert set(binds(tree)) == {"b_loaded_at", "b_run_id", "b_generation"}


def test_postgres_stages_with_copy_and_keeps_the_latest_row_per_id() -> None:
    spec = entity("allocation")
    latest = parse(POSTGRES.latest_sql(spec, ["id", "mod_ts"]), "postgres").find(exp.Select)
    assert [c.name for c in latest.args["distinct"].args["on"].find_all(exp.Column)] == ["id"]
    first, second = latest.args["order"].expressions
    assert (first.this.name, second.this.name, second.args.get("desc")) == ("id", "mod_ts", True)
    assert POSTGRES.copy_sql(spec, ["id", "mod_ts"]).startswith('COPY "_stage_allocation" ("id", "mod_ts") FROM STDIN')


@pytest.mark.parametrize("bad", ['a"; drop table x; --', "new field", "1st", "", "a" * 64, "naïve"])
def test_names_that_are_not_plain_are_refused_before_any_sql(bad: str) -> None:
    with pytest.raises(WarehouseError, match="not a usable SQL identifier") as refused:
        quote(bad)
    assert refused.value.retryable is False
    for d in DIALECTS:
        with pytest.raises(WarehouseError):
            d.raw_ddl(SCHEMA, entity("allocation"), [bad])


@pytest.mark.parametrize(
    ("schema", "reserved"),
    [("information_schema", True), ("pg_catalog", True), ("PG_TOAST", True), ("wms_raw", False), ("public", False)],
)
def test_postgres_reserves_its_catalog_schemas(schema: str, reserved: bool) -> None:
    assert reserved_schema(schema) is reserved


LOOKUP = derive(
    "order_status",
    {"fields": {"id": {"type": "integer"}, "description": {"type": "string"}, "sort_seq": {"type": "integer"}}},
)


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_an_entity_without_a_replication_key_always_takes_the_incoming_row(d: Dialect) -> None:
    assert LOOKUP.replication_key is None
    counts = parse(d.counts_sql(SCHEMA, LOOKUP, "stage"), d.name)
    _, updated, _ = counts.selects
    compared = {c.name for c in updated.find_all(exp.Column)}
    assert compared == set(names(d, "description", "sort_seq"))  # a row updates when a column differs
    assert not updated.find(exp.GT)


def test_duckdb_replaces_every_matched_lookup_row() -> None:
    _, drop, _ = DUCKDB.replace_sql(SCHEMA, LOOKUP, [c.name for c in LOOKUP.columns], "stage")
    where = parse(drop, "duckdb").args["where"]
    assert join_keys(where) == {("id", "id")}
    assert {c.name for c in where.find_all(exp.Column)} == {"id"}  # no mod_ts to compare: the incoming row wins
