"""The status queries parse in each warehouse's dialect, with its own naming of tables and columns."""

from __future__ import annotations

import pytest
import sqlglot

from gruponos.status import status_queries
from gruponos.warehouse.base import quote
from gruponos.warehouse.oracle import ident as oracle_ident
from gruponos.warehouse.oracle import table as oracle_table


def _queries(dialect: str) -> list[str]:
    if dialect == "oracle":
        q = status_queries(lambda name: oracle_table("WMS_RAW", name), oracle_ident)
        rows = q["rows"].format(deleted=oracle_ident("_deleted_at"), table=oracle_table("WMS_RAW", "allocation"))
    else:
        q = status_queries(lambda name: f"{quote('wms_raw')}.{quote(name)}", quote)
        rows = q["rows"].format(deleted=quote("_deleted_at"), table=f"{quote('wms_raw')}.{quote('allocation')}")
    return [v for k, v in q.items() if k != "rows"] + [rows]


@pytest.mark.parametrize("dialect", ["oracle", "postgres", "duckdb"])
def test_status_queries_parse_in_each_dialect(dialect: str) -> None:
    for sql in _queries(dialect):
        parsed = sqlglot.parse_one(sql, read=dialect)
        assert parsed is not None, sql


def test_oracle_status_queries_name_columns_in_upper_case_and_quote_underscored_ones() -> None:
    sql = " ".join(_queries("oracle"))
    assert '"_DELETED_AT"' in sql and '"WMS_RAW"."_SYNC_RUNS"' in sql
    assert ") r WHERE" in sql and " AS " not in sql.upper()  # Oracle takes no AS before a table alias
