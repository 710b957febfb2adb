"""The status queries, read back as trees in each warehouse's dialect with its own naming:
what each reads, how it groups, which run counts as the last one."""

from __future__ import annotations

from functools import partial

import pytest
from sqlglot import exp

from gruponos.warehouse.sql import DUCKDB, ORACLE, POSTGRES, Dialect
from gruponos.warehouse.status import rows_query, status_queries
from tests.unit._sql_tree import parse, target

DIALECTS = [DUCKDB, POSTGRES, ORACLE]
IDS = [d.name for d in DIALECTS]


def queries(d: Dialect) -> dict[str, exp.Expression]:
    table = partial(d.table, "wms_raw")
    q = status_queries(table, d.ident)
    q["rows"] = rows_query(table, d.ident, "allocation")
    return {name: parse(sql, d.name) for name, sql in q.items()}


def name(d: Dialect, text: str) -> str:
    return text.upper() if d is ORACLE else text


def grouped_by(tree: exp.Expression) -> list[str]:
    return [c.name for c in tree.args["group"].expressions]


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_state_and_quarantine_are_read_per_entity(d: Dialect) -> None:
    q = queries(d)
    assert target(q["state"]) == name(d, "_sync_state")
    assert [c.name for c in q["state"].selects] == [name(d, "entity"), name(d, "watermark")]
    assert target(q["rejected"]) == name(d, "_rejected") and grouped_by(q["rejected"]) == [name(d, "entity")]
    assert isinstance(q["rejected"].selects[1], exp.Count)


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_the_last_run_is_the_latest_started_per_entity(d: Dialect) -> None:
    tree = queries(d)["last_runs"]
    inner = tree.args["from_"].this.this
    assert target(inner) == name(d, "_sync_runs")
    window = inner.find(exp.Window)
    assert isinstance(window.this, exp.RowNumber)
    assert [c.name for c in window.args["partition_by"]] == [name(d, "entity")]
    order = [(o.this.name, o.args.get("desc")) for o in window.args["order"].expressions]
    assert order == [(name(d, "started_at"), True), (name(d, "finished_at"), True)]
    where = tree.args["where"].this
    assert isinstance(where, exp.EQ) and where.this.name == "pos" and where.expression.this == "1"


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_the_last_success_is_the_latest_finish_of_an_ok_run(d: Dialect) -> None:
    tree = queries(d)["last_ok"]
    assert target(tree) == name(d, "_sync_runs") and grouped_by(tree) == [name(d, "entity")]
    latest = tree.selects[1]
    assert isinstance(latest, exp.Max) and latest.this.name == name(d, "finished_at")
    condition = tree.args["where"].this
    assert (condition.this.name, condition.expression.this) == (name(d, "status"), "ok")


@pytest.mark.parametrize("d", DIALECTS, ids=IDS)
def test_rows_count_live_and_deleted_rows_of_the_raw_table(d: Dialect) -> None:
    tree = queries(d)["rows"]
    assert target(tree) == name(d, "allocation")
    live, deleted = tree.selects
    assert isinstance(live, exp.Sub) and isinstance(deleted, exp.Count)
    assert deleted.this.name == name(d, "_deleted_at")


def test_oracle_status_queries_put_no_as_before_a_table_alias() -> None:
    raw = status_queries(partial(ORACLE.table, "wms_raw"), ORACLE.ident)
    assert all(" AS " not in sql.upper() for sql in raw.values())  # Oracle refuses `) AS r`
